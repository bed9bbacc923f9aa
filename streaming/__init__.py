"""Live broadcasts, telepresence rooms and the media plane that forwards their RTP."""

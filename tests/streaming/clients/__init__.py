"""WebRTC clients we did not write, driven as separate processes by the interop tests."""

"""Booth meetings: requests, decisions, their video rooms and .ics invitations."""

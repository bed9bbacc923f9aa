"""Visitor registration for an expo: the organizer's form, approvals, the outbox, badges and check-in."""

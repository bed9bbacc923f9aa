"""Dashboards: live and over-time figures of an expo for its organizers, and of their own booths
and broadcasts for exhibitors; charts drawn on the server as SVG; CSV exports of the audience."""

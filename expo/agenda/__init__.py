"""The agenda: programs on an expo's timetable and session registration with seats and a waiting list."""

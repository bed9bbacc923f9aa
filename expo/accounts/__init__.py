"""Accounts: users, roles, passwords, login sessions and API tokens."""

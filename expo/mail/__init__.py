"""E-mail: the outbox written in the transaction of each change, its SMTP sender and its page."""

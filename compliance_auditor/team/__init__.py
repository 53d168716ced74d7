"""Team mode: who is asking (`identity`), and what their roles let them do (`roles`).

Logins, logouts and refusals are records of the audit trail (`audit/access.py`)."""

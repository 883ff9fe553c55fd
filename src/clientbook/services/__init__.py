"""Use cases over a transaction: every rule, permission check and audit write lives here."""

"""Secrets: the OS keyring (or an opt-in 0600 file) and the redaction every printed line passes through."""

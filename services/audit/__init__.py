"""Audit: the append-only ledger of every message on the log, and the regulator's tools."""

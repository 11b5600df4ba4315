"""Writes to the inventory: keyword-only services, each in one transaction (enrollment, ingest, declarations)."""

"""compliance.core: the export-control law as pure Python (no Django)."""

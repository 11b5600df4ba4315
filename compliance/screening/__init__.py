"""Denied-party screening of organizations against the US Consolidated Screening List."""

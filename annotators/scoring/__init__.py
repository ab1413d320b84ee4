"""Capability scorers (rule proxy, LMM judge) and interaction stylers for instruction data."""

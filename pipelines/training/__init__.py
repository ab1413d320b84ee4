"""The training side: torch datasets over an export (segcap samples, granularity pairs)."""

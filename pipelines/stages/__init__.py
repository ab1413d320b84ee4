"""The stages a recipe chains: mine, describe, verify, score, dedup, select."""

"""Describers: scene and instance descriptions and grounded multi-granularity captions."""

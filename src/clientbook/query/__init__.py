"""The one query representation, its parsers and the one compiler to SQL (SPEC §7)."""

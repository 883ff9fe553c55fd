"""Storage: table definitions, engines, the one-writer transaction, migrations."""

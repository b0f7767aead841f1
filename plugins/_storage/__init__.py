"""Shared by the storage plugins: row conversion, the upsert rule, migrations."""

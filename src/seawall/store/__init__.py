"""Where incidents, rules and audit records are kept: SQLite (the embedded default)."""

"""Alembic migrations of the compliance store (run by include.store.migrate; see its docstring)."""

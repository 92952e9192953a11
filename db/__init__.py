"""Persistence: SQLAlchemy models and the repositories, the only code that writes SQL."""

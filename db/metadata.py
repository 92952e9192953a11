"""Every table of the application, for Alembic and for tests that reset the database."""

from db import roles, sessions, users
from db.base import Base

metadata = Base.metadata
MODULES = (roles, sessions, users)

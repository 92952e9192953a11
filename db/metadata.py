"""Every table of the application, for Alembic and for tests that reset the database."""

from db import objects, purchases, receipts, roles, sessions, uploads, users
from db.base import Base

metadata = Base.metadata
MODULES = (objects, purchases, receipts, roles, sessions, uploads, users)

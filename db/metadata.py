"""Every table of the application, for Alembic and for tests that reset the database."""

from db import (
    habits,
    notes,
    objects,
    purchases,
    receipts,
    roles,
    sessions,
    sync,
    tasks,
    uploads,
    users,
)
from db.base import Base

metadata = Base.metadata
MODULES = (
    habits,
    notes,
    objects,
    purchases,
    receipts,
    roles,
    sessions,
    sync,
    tasks,
    uploads,
    users,
)

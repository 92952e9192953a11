"""Every table of the application, for Alembic: importing the modules registers them."""

from db import (  # noqa: F401
    accounts,
    budgets,
    documents,
    exports,
    habits,
    notes,
    objects,
    projects,
    purchases,
    receipts,
    roles,
    sessions,
    sync,
    tasks,
    uploads,
    users,
    webhooks,
)
from db.base import Base

metadata = Base.metadata

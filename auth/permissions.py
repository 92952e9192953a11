"""The permission names that roles grant, and the two seeded roles.

The schema declares which permission each root field and relation needs
(``schema.permissions``); scalar fields carry no checks.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    PROFILE_READ = "profile:read"
    PROFILE_WRITE = "profile:write"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    ROLES_READ = "roles:read"
    ROLES_WRITE = "roles:write"
    RECEIPTS = "receipts:manage"
    PURCHASES = "purchases:manage"
    HABITS = "habits:manage"
    TASKS = "tasks:manage"
    NOTES = "notes:manage"


class RoleName(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


MEMBER_PERMISSIONS = (
    Permission.PROFILE_READ,
    Permission.PROFILE_WRITE,
    Permission.RECEIPTS,
    Permission.PURCHASES,
    Permission.HABITS,
    Permission.TASKS,
    Permission.NOTES,
)
ADMIN_PERMISSIONS = (
    *MEMBER_PERMISSIONS,
    Permission.USERS_READ,
    Permission.USERS_WRITE,
    Permission.ROLES_READ,
    Permission.ROLES_WRITE,
)

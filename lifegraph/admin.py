"""Creating the first admin from the command line."""

from __future__ import annotations

from auth.accounts import add_member
from auth.passwords import PasswordHasher, password_problem
from auth.permissions import RoleName
from db import roles, users
from db.engine import create_engine, create_sessionmaker
from lifegraph.settings import Settings
from resolvers.validation import email_problem, normalise_email


class AdminError(Exception):
    pass


async def create_admin(settings: Settings, database_url: str, email: str, password: str) -> str:
    """Creates an admin with this email, or grants admin to the existing user with it."""
    email = normalise_email(email)
    if problem := email_problem(email):
        raise AdminError(problem)
    engine = create_engine(database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine).begin() as session:
            admin = await roles.by_name(session, RoleName.ADMIN)
            if admin is None:
                raise AdminError("the database is not migrated; run `lifegraph migrate`")
            user = await users.by_email(session, email)
            if user is None:
                if problem := password_problem(password):
                    raise AdminError(problem)
                hasher = PasswordHasher(
                    memory_kib=settings.password_memory_kib,
                    time_cost=settings.password_time_cost,
                    parallelism=settings.password_parallelism,
                )
                password_hash = await hasher.hash_async(password)
                user = await add_member(session, email=email, password_hash=password_hash)
                outcome = f"created admin {email}"
            else:
                outcome = f"made {email} an admin"
            await roles.grant(session, user.id, admin.id)
    finally:
        await engine.dispose()
    return outcome

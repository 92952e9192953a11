"""Password hashing with argon2id.

A sign-in for an unknown email verifies against a dummy hash made with the same
parameters, so it costs the same time as a wrong password and does not reveal
which emails have accounts. The async methods run in a pool of ``workers`` threads of
its own, so a flood of sign-ins waits its turn there instead of taking every thread the
event loop has (and every bit of memory argon2 asks for).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import argon2

MIN_LENGTH = 10
MAX_LENGTH = 1024


class PasswordHasher:
    def __init__(
        self, *, memory_kib: int, time_cost: int, parallelism: int, workers: int = 2
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._hasher = argon2.PasswordHasher(
            memory_cost=memory_kib,
            time_cost=time_cost,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._dummy_hash = self._hasher.hash("lifegraph-dummy-password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; a missing hash costs as much as a wrong password."""
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and (
                password_hash is not None
            )
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    async def hash_async(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.hash, password)

    async def verify_async(self, password_hash: str | None, password: str) -> bool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.verify, password_hash, password)


def password_problem(password: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    return None

"""Request budgets: points per minute, spent by each operation's cost (at least 1), per
signed-in user and per client address, as Shopify meters its API; and websocket sign-ins
per address per minute.

Counting is a sliding window (the ``limits`` library): in this process's memory by
default, or in Redis, shared by every process and machine, when a URL is configured.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string


@dataclass(frozen=True)
class Budget:
    """What is left of the tightest budget a request spent from."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float

    @property
    def reset_seconds(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))


class RateLimiter:
    def __init__(
        self,
        *,
        user_points: int,
        address_points: int,
        connections_per_address: int = 120,
        redis_url: str | None = None,
        prefix: str = "lifegraph",
    ) -> None:
        storage = (
            storage_from_string(_async_uri(redis_url), key_prefix=prefix)
            if redis_url
            else MemoryStorage()
        )
        assert isinstance(storage, Storage), "an async+ URI gives an asyncio storage"
        self._strategy = SlidingWindowCounterRateLimiter(storage)
        self._user = RateLimitItemPerMinute(user_points, namespace="user")
        self._address = RateLimitItemPerMinute(address_points, namespace="address")
        self._connections = RateLimitItemPerMinute(connections_per_address, namespace="sockets")

    async def spend(self, cost: int, *, user_id: uuid.UUID | None, address: str) -> Budget:
        """Takes ``cost`` points from the address's budget and the user's; a request that
        either cannot pay is refused and the other's points stay spent, as a flood's
        should."""
        cost = max(1, cost)
        budgets = [(self._address, address)]
        if user_id is not None:
            budgets.append((self._user, str(user_id)))
        tightest: Budget | None = None
        for item, key in budgets:
            allowed = await self._strategy.hit(item, key, cost=cost)
            stats = await self._strategy.get_window_stats(item, key)
            budget = Budget(allowed, item.amount, stats.remaining, stats.reset_time)
            if tightest is None or not allowed or budget.remaining < tightest.remaining:
                tightest = budget
            if not allowed:
                break
        assert tightest is not None
        return tightest

    async def connect(self, address: str) -> bool:
        """Whether a websocket from ``address`` may sign in now."""
        return await self._strategy.hit(self._connections, address)


def _async_uri(redis_url: str) -> str:
    return redis_url if redis_url.startswith("async+") else f"async+{redis_url}"

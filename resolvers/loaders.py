"""DataLoaders, built per request. Each batch opens its own session, so concurrent
resolvers never share one AsyncSession."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from db import roles
from db.engine import Sessionmaker
from db.roles import Role


@dataclass(frozen=True)
class Loaders:
    roles_by_user: DataLoader[uuid.UUID, list[Role]]


def build_loaders(sessionmaker: Sessionmaker) -> Loaders:
    async def load_roles(user_ids: Sequence[uuid.UUID]) -> list[list[Role]]:
        async with sessionmaker() as session:
            grouped = await roles.for_users(session, user_ids)
        return [grouped.get(user_id, []) for user_id in user_ids]

    return Loaders(roles_by_user=DataLoader(load_fn=load_roles))

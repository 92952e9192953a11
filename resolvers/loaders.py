"""DataLoaders, built per request. Each batch opens its own session, so concurrent
resolvers never share one AsyncSession."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import Histogram
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from db import habits, notes, projects, purchases, receipts, roles, tasks
from db.engine import SessionFactory
from db.habits import Day
from db.notes import NoteImage
from db.pagination import Page
from db.projects import Project
from db.purchases import ItemLine, Purchase
from db.receipts import OcrRow, ReceiptRow
from db.roles import Role
from db.tasks import Task, TaskCompletion
from db.webhooks import Delivery
from resolvers import webhooks

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

BATCH_SIZE = Histogram(
    "lifegraph_dataloader_batch_size",
    "Keys each DataLoader batch loaded, by loader.",
    ["loader"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)


@dataclass(frozen=True)
class Loaders:
    roles_by_user: DataLoader[uuid.UUID, list[Role]]
    ocr: DataLoader[tuple[str, str], OcrRow | None]
    purchase_by_receipt: DataLoader[uuid.UUID, Purchase | None]
    purchase_items: DataLoader[uuid.UUID, list[ItemLine]]
    receipt: DataLoader[uuid.UUID, ReceiptRow | None]
    note_images: DataLoader[uuid.UUID, list[NoteImage]]
    check_ins: DataLoader[uuid.UUID, list[Day]]
    webhook_deliveries: DataLoader[tuple[uuid.UUID, int, str | None], Page[Delivery]]
    project: DataLoader[uuid.UUID, Project | None]
    """By ID, for tasks (whose project is always their owner's)."""
    task: DataLoader[uuid.UUID, Task | None]
    """By ID, for subtasks' parents (always their owner's)."""
    subtasks: DataLoader[uuid.UUID, list[Task]]
    open_tasks: DataLoader[uuid.UUID, int]
    task_completions: DataLoader[uuid.UUID, list[TaskCompletion]]


def build_loaders(sessionmaker: SessionFactory) -> Loaders:
    def batch(
        name: str,
        fetch: Callable[[AsyncSession, Sequence[K]], Awaitable[dict[K, V]]],
        missing: Callable[[], V],
    ) -> DataLoader[K, V]:
        async def load(keys: Sequence[K]) -> list[V]:
            BATCH_SIZE.labels(name).observe(len(keys))
            async with sessionmaker() as session:
                found = await fetch(session, keys)
            return [found.get(key, missing()) for key in keys]

        return DataLoader(load_fn=load)

    async def receipts_by_id(
        session: AsyncSession, keys: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, ReceiptRow | None]:
        return dict(await receipts.get_many(session, keys))

    return Loaders(
        roles_by_user=batch("roles_by_user", roles.by_users, list),
        ocr=batch("ocr", receipts.get_ocr_many, lambda: None),  # type: ignore[arg-type]
        purchase_by_receipt=batch("purchase_by_receipt", purchases.by_receipts, lambda: None),  # type: ignore[arg-type]
        purchase_items=batch("purchase_items", purchases.items_of, list),
        receipt=batch("receipt", receipts_by_id, lambda: None),
        note_images=batch("note_images", notes.images_of, list),
        check_ins=batch("check_ins", habits.days_of, list),
        webhook_deliveries=batch(
            "webhook_deliveries", webhooks.deliveries_of, lambda: Page([], [], False, 0)
        ),
        project=batch("project", projects.by_ids, lambda: None),  # type: ignore[arg-type]
        task=batch("task", tasks.by_ids, lambda: None),  # type: ignore[arg-type]
        subtasks=batch("subtasks", tasks.subtasks_of, list),
        open_tasks=batch("open_tasks", projects.open_tasks_of, int),
        task_completions=batch("task_completions", tasks.completions_of, list),
    )

"""``lifegraph receipts reprocess``: reads again every receipt in one status, one at a time.

Each receipt goes through the OCR job's own steps and is committed before the next, and
the pass moves on by id: interrupted, nothing is lost (the receipt being read goes back to
its status), and a new run continues with whatever is still in that status.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from db import receipts, users
from db.receipts import Receipt, ReceiptStatus
from resolvers.context import Services
from resolvers.receipts import read_again
from resolvers.validation import normalise_email

TASK = "receipts"
PAGE_SIZE = 100


class Progress(Protocol):
    def start(self, task: str, total: int) -> None: ...
    def advance(self, task: str, steps: int = 1) -> None: ...


class UnknownUser(Exception):
    pass


@dataclass
class Tally:
    """What a pass did so far."""

    processed: int = 0
    failed: int = 0
    skipped: int = 0
    """Receipts that left the status before their turn (a worker, or a user, took them)."""
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, receipt: Receipt | None) -> None:
        if receipt is None:
            self.skipped += 1
        elif receipt.status is ReceiptStatus.FAILED:
            self.failed += 1
            self.reasons[receipt.failure_reason or "no reason given"] += 1
        else:
            self.processed += 1

    @property
    def total(self) -> int:
        return self.processed + self.failed + self.skipped


async def reprocess(
    services: Services,
    status: ReceiptStatus,
    *,
    email: str | None,
    progress: Progress,
    tally: Tally,
) -> None:
    """Reads every receipt in ``status`` again (only the user's with ``email``, if given).

    Raises ``storage.ocr.OcrUnavailable`` when the engine cannot be reached: the rest would
    fail the same way.
    """
    user_id = None if email is None else await _user_id(services, email)
    async with services.sessionmaker() as session:
        total = await receipts.count_in_status(session, status, user_id=user_id)
    progress.start(TASK, total)
    after: uuid.UUID | None = None
    while True:
        async with services.sessionmaker() as session:
            page = await receipts.ids_in_status(
                session, status, user_id=user_id, after=after, limit=PAGE_SIZE
            )
        for receipt_id in page:
            tally.add(await read_again(services, receipt_id, status))
            progress.advance(TASK)
        if len(page) < PAGE_SIZE:
            return
        after = page[-1]


async def _user_id(services: Services, email: str) -> uuid.UUID:
    async with services.sessionmaker() as session:
        user = await users.by_email(session, normalise_email(email))
    if user is None:
        raise UnknownUser(f"no user has the email {email}")
    return user.id

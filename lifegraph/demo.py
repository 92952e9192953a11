"""A demo account with a few months of believable data, so GraphiQL and the dashboard have
something to show (``lifegraph demo``).

Everything goes through the resolvers, as the API's own mutations do, so the data keeps
the same rules (validation, activity events, the sync log) as a user's. Receipts are drawn
(:mod:`lifegraph.receipt_images`), stored, and read by the configured OCR engine through
the code the worker runs, so they show what OCR really reads. What is made comes from
:mod:`lifegraph.demo_data`, planned from a seed.

The caller opens the services first (the job queue, storage), as the app's lifespan does:
:func:`lifegraph.services.opened`.
"""

from __future__ import annotations

import io
import logging
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import strawberry
from starlette.datastructures import UploadFile
from starlette.requests import Request

from lifegraph import demo_data
from lifegraph.demo_data import Plan, PlannedPurchase
from lifegraph.receipt_images import render
from resolvers import habits, ids, notes, purchases, receipts, sessions, tasks, users
from resolvers.context import Context, Services
from resolvers.errors import UserErrors
from schema.habits import CreateHabitInput
from schema.notes import CreateNoteInput
from schema.purchases import CreatePurchaseInput, PurchaseItemInput, UpdatePurchaseInput
from schema.sessions import RegisterInput
from schema.tasks import CreateTaskInput
from schema.users import UpdateProfileInput, UserSettingsInput

logger = logging.getLogger("lifegraph.demo")
DEFAULT_RECEIPTS = 12
"""OCR takes about a second an image: a dozen keeps the demo quick."""


class DemoError(Exception):
    """The demo cannot be made; the message says why, for the command line."""


class DemoProgress(Protocol):
    """Told how far the demo has got: each task once with its total, then step by step."""

    def start(self, task: str, total: int) -> None: ...

    def advance(self, task: str, steps: int = 1) -> None: ...


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    user_id: uuid.UUID
    receipts: int
    purchases: int
    habits: int
    check_ins: int
    tasks: int
    notes: int


async def create_demo(
    services: Services,
    email: str,
    password: str,
    *,
    months: int = 3,
    progress: DemoProgress,
    seed: int = 7,
    receipts: int = DEFAULT_RECEIPTS,
) -> DemoAccount:
    """Signs up a new member with ``email`` and fills the account with ``months`` of data
    back from today in its time zone, ``receipts`` of them photographed and read by OCR.

    An email that has an account already is refused (:class:`DemoError`): the demo never
    adds to a real account. If making the data fails, the new account is deleted again.
    """
    if not 1 <= months <= 24:
        raise DemoError("Use between 1 and 24 months.")
    if not 0 <= receipts <= 100:
        raise DemoError("Use between 0 and 100 receipts.")
    user_id, token = await _sign_up(services, email, password)
    ctx = _context(services, token)
    uploaded: list[uuid.UUID] = []
    try:
        now = services.clock().astimezone(ZoneInfo(demo_data.TIMEZONE))
        rng = random.Random(seed)  # noqa: S311 (a repeatable plan, no secret)
        plan = demo_data.plan(rng, now, months=months, receipts=receipts)
        await _fill(ctx, plan, progress, uploaded)
    except BaseException:
        await _discard(ctx, user_id, uploaded)
        raise
    finally:
        await ctx.close()
    return DemoAccount(
        email=email,
        password=password,
        user_id=user_id,
        receipts=len(plan.receipts),
        purchases=sum(1 for purchase in plan.purchases if purchase.linked),
        habits=len(plan.habits),
        check_ins=plan.check_ins,
        tasks=len(plan.tasks),
        notes=len(plan.notes),
    )


def _context(services: Services, token: str | None) -> Context:
    """A request's context without a request: the demo acts as the signed-in user."""
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/graphql"}
    scope |= {"headers": [], "client": None}
    return Context(
        services=services,
        request=Request(scope),
        authorization=f"Bearer {token}" if token else None,
    )


async def _sign_up(services: Services, email: str, password: str) -> tuple[uuid.UUID, str]:
    """Registers the member and sets its calendar and currency; its ID and a token."""
    ctx = _context(services, None)
    try:
        data = RegisterInput(email=email, password=password, display_name=demo_data.DISPLAY_NAME)
        signed_in = await sessions.register(ctx, data)
    except UserErrors as error:
        if error.problems[0].message == sessions.EMAIL_TAKEN:
            raise DemoError(
                f"An account with the email {email} exists already, and the demo adds to no "
                "existing account; pick another --email."
            ) from error
        raise DemoError(
            "; ".join(
                f"{p.field[-1]}: {p.message}" if p.field else p.message for p in error.problems
            )
        ) from error
    finally:
        await ctx.close()
    ctx = _context(services, signed_in.access_token)
    try:
        choices = UserSettingsInput(
            timezone=demo_data.TIMEZONE,
            currency=demo_data.CURRENCY,
            locale=demo_data.LOCALE,
            week_start=1,
        )
        await users.update_profile(ctx, UpdateProfileInput(settings=choices))
    finally:
        await ctx.close()
    return signed_in.user.id, signed_in.access_token


async def _fill(
    ctx: Context, plan: Plan, progress: DemoProgress, uploaded: list[uuid.UUID]
) -> None:
    """Receipts first, so that purchases can be made from what OCR read on them."""
    read = await _receipts(ctx, plan, progress, uploaded)
    await _purchases(ctx, plan, read, progress)
    await _habits(ctx, plan, progress)
    progress.start("tasks", len(plan.tasks))
    for task in plan.tasks:
        await tasks.create(
            ctx,
            CreateTaskInput(
                title=task.title,
                description=task.description,
                status=task.status,
                priority=task.priority,
                due_at=task.due_at,
                tags=list(task.tags),
            ),
        )
        progress.advance("tasks")
    progress.start("notes", len(plan.notes))
    for note in plan.notes:
        await notes.create(
            ctx,
            CreateNoteInput(
                title=note.title, content=note.content, tags=list(note.tags), pinned=note.pinned
            ),
        )
        progress.advance("notes")


async def _receipts(
    ctx: Context, plan: Plan, progress: DemoProgress, uploaded: list[uuid.UUID]
) -> dict[PlannedPurchase, uuid.UUID]:
    """Uploads each receipt's photo as the API does, then reads it with the worker's own
    job body; the job the upload queued finds it read and does nothing."""
    progress.start("receipts", len(plan.receipts))
    read = {}
    for number, purchase in enumerate(plan.receipts, start=1):
        image = render(purchase.receipt(number), "JPEG")
        name = f"receipt-{purchase.at:%Y%m%d-%H%M}.jpg"
        row = await receipts.upload(ctx, UploadFile(io.BytesIO(image), filename=name))
        uploaded.append(row.id)
        await receipts.process(ctx.services, row.id)
        read[purchase] = row.id
        progress.advance("receipts")
    return read


async def _purchases(
    ctx: Context,
    plan: Plan,
    read: dict[PlannedPurchase, uuid.UUID],
    progress: DemoProgress,
) -> None:
    linked = [purchase for purchase in plan.purchases if purchase.linked]
    progress.start("purchases", len(linked))
    for purchase in linked:
        receipt_id = read.get(purchase)
        if receipt_id is not None:
            await _from_receipt(ctx, purchase, ids.encode("receipt", receipt_id))
        else:
            await purchases.create(ctx, _purchase_input(purchase, receipt_id=None))
        progress.advance("purchases")


async def _from_receipt(ctx: Context, purchase: PlannedPurchase, receipt_id: str) -> None:
    """A purchase from what OCR read, tidied as its owner would: the shop's name as they
    know it, and a category. A receipt OCR read no total from is entered by hand."""
    try:
        row = await purchases.create_from_receipt(ctx, receipt_id)
    except UserErrors as error:
        logger.warning("receipt %s entered by hand: %s", receipt_id, error)
        await purchases.create(ctx, _purchase_input(purchase, receipt_id=receipt_id))
        return
    tidied = UpdatePurchaseInput(
        merchant=purchase.shop.name, category=purchase.shop.category, note=purchase.note
    )
    await purchases.update(ctx, ids.encode("purchase", row.id), tidied)


def _purchase_input(purchase: PlannedPurchase, receipt_id: str | None) -> CreatePurchaseInput:
    return CreatePurchaseInput(
        merchant=purchase.shop.name,
        amount=purchase.amount,
        currency=demo_data.CURRENCY,
        category=purchase.shop.category,
        purchased_at=purchase.at,
        note=purchase.note,
        receipt_id=strawberry.ID(receipt_id) if receipt_id else None,
        items=[
            PurchaseItemInput(
                description=line.description.capitalize(),
                quantity=Decimal(line.quantity),
                unit_price=line.unit_price,
                amount=line.amount,
            )
            for line in purchase.lines
        ],
    )


async def _habits(ctx: Context, plan: Plan, progress: DemoProgress) -> None:
    progress.start("habits", len(plan.habits))
    made = []
    for habit in plan.habits:
        state = await habits.create(
            ctx,
            CreateHabitInput(
                name=habit.name,
                description=habit.description,
                color=habit.color,
                frequency=habit.frequency,
                target_per_week=habit.target_per_week,
            ),
        )
        made.append((ids.encode("habit", state.row.id), habit.days))
        progress.advance("habits")
    progress.start("check-ins", plan.check_ins)
    for habit_id, days in made:
        for day in days:
            await habits.check_in(ctx, habit_id, day)
            progress.advance("check-ins")


async def _discard(ctx: Context, user_id: uuid.UUID, uploaded: list[uuid.UUID]) -> None:
    """Deletes a demo account left half made, its stored receipt images too, so that the
    email can be used again; a failure here is logged, the first one is what is raised.
    The demo's own context does it: it stays signed in, however long the demo took."""
    try:
        for receipt_id in uploaded:
            await receipts.delete(ctx, ids.encode("receipt", receipt_id))
        await users.delete_user(ctx, ids.encode("user", user_id))
    except Exception:
        logger.exception("the half-made demo account %s could not be deleted", user_id)

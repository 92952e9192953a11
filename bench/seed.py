"""Bulk data for the HTTP benchmark, written straight into a migrated database with COPY.

Every row is what the API itself would have stored (the columns of ``db/`` models, the
member role sign-up grants, a change-log row per note, task and habit), drawn from a
seeded ``random.Random``: the same seed gives the same rows, dated from the day of the run
(``anchor``) so that "today" and "this month" on the dashboard hold something. Nothing
goes through the API, so a large account takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from auth.permissions import RoleName
from resolvers.money import minor_digits

PASSWORD = "bench-password-123"
ENGINE = "local"
MERCHANTS = [
    "Corner Grocer",
    "Café Zürich",
    "Hardware Haus",
    "Book Nook",
    "Fuel Stop",
    "Pharmacy Plus",
    "Green Market",
    "Noodle Bar",
    "Tea & Co",
    "Bäckerei Sonne",
]
CATEGORIES = ["groceries", "eating out", "transport", "health", "home", None]
GOODS = ["milk", "bread", "coffee", "apples", "soap", "rice", "eggs", "tea", "pasta", "jam"]
WORDS = [
    *("garden", "project", "meeting", "recipe", "travel", "budget", "reading", "idea"),
    *("plan", "weekend", "music", "lesson", "invoice", "family", "doctor", "birthday"),
    *("repair", "window", "paint", "garage", "summer", "winter", "market"),
]
TAGS = ["home", "work", "errand", "health", "later", "bench"]
TIMEZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
CURRENCIES = ["USD", "EUR", "USD", "JPY", "GBP"]


@dataclass(frozen=True)
class Sizes:
    users: int = 20
    purchases: int = 2000
    items: int = 3
    receipts: int = 500
    tasks: int = 300
    notes: int = 300
    habits: int = 10
    check_in_days: int = 30


@dataclass
class SeededUser:
    id: uuid.UUID
    email: str
    timezone: str
    currency: str
    habit_ids: list[uuid.UUID] = field(default_factory=list)
    note_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class Rows:
    """Rows per table, in the column order of ``COLUMNS``."""

    tables: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def add(self, table: str, *values: Any) -> None:
        self.tables.setdefault(table, []).append(values)


COLUMNS: dict[str, Sequence[str]] = {
    "users": ("id", "email", "password_hash", "display_name", "created_at", "updated_at"),
    "user_settings": (
        "user_id",
        "week_start",
        "locale",
        "timezone",
        "currency",
        "notifications_email_enabled",
    ),
    "user_roles": ("user_id", "role_id"),
    "ocr_results": (
        "sha256",
        "engine",
        "merchant_name",
        "total",
        "currency",
        "purchased_on",
        "items",
        "confidence",
        "raw_text",
        "created_at",
    ),
    "receipts": (
        "id",
        "user_id",
        "status",
        "object_key",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "ocr_engine",
        "failure_reason",
        "attempts",
        "created_at",
        "processed_at",
    ),
    "purchases": (
        "id",
        "user_id",
        "receipt_id",
        "merchant",
        "amount",
        "currency",
        "category",
        "purchased_at",
        "note",
        "items_text",
        "created_at",
        "updated_at",
    ),
    "purchase_items": (
        "id",
        "purchase_id",
        "position",
        "description",
        "quantity",
        "unit_price",
        "amount",
    ),
    "tasks": (
        "id",
        "user_id",
        "title",
        "description",
        "status",
        "priority",
        "due_at",
        "completed_at",
        "tags",
        "version",
        "created_at",
        "updated_at",
    ),
    "notes": (
        "id",
        "user_id",
        "title",
        "content",
        "tags",
        "pinned",
        "version",
        "created_at",
        "updated_at",
    ),
    "note_images": ("id", "note_id", "object_key", "content_type", "size", "sha256", "created_at"),
    "habits": (
        "id",
        "user_id",
        "name",
        "description",
        "color",
        "frequency",
        "target_per_week",
        "archived",
        "position",
        "version",
        "created_at",
        "updated_at",
    ),
    "habit_check_ins": ("habit_id", "day", "created_at"),
    "sync_changes": ("collection", "record_id", "user_id", "version", "deleted", "changed_at"),
}


class Generator:
    def __init__(self, seed: int, anchor: datetime, sizes: Sizes, password_hash: str) -> None:
        self.random = random.Random(seed)  # noqa: S311 (reproducible data, not secrets)
        self.anchor = anchor
        self.sizes = sizes
        self.password_hash = password_hash
        self.rows = Rows()

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.random.getrandbits(128), version=4)

    def past(self, days: float) -> datetime:
        """A moment within ``days`` before the anchor, to the microsecond."""
        return self.anchor - timedelta(microseconds=self.random.randrange(int(days * 86400e6)))

    def money(self, currency: str, low: int, high: int) -> Decimal:
        digits = minor_digits(currency)
        return Decimal(self.random.randrange(low * 10**digits, high * 10**digits)).scaleb(-digits)

    def words(self, count: int) -> str:
        return " ".join(self.random.choice(WORDS) for _ in range(count))

    def user(self, index: int, member_role: uuid.UUID) -> SeededUser:
        user = SeededUser(
            id=self.new_id(),
            email=f"bench{index:02d}@example.com",
            timezone=TIMEZONES[index % len(TIMEZONES)],
            currency=CURRENCIES[index % len(CURRENCIES)],
        )
        joined = self.anchor - timedelta(days=400)
        self.rows.add(
            "users", user.id, user.email, self.password_hash, f"Bench {index}", joined, joined
        )
        self.rows.add("user_settings", user.id, 1, "en-US", user.timezone, user.currency, True)
        self.rows.add("user_roles", user.id, member_role)
        receipt_ids = [self.receipt(user) for _ in range(self.sizes.receipts)]
        linked = receipt_ids[: self.sizes.receipts * 4 // 5]
        every = max(1, self.sizes.purchases // max(1, len(linked)))
        for number in range(self.sizes.purchases):
            receipt = linked.pop() if linked and number % every == 0 else None
            self.purchase(user, receipt)
        for _ in range(self.sizes.tasks):
            self.task(user)
        for _ in range(self.sizes.notes):
            self.note(user)
        for position in range(self.sizes.habits):
            self.habit(user, position)
        return user

    def receipt(self, user: SeededUser) -> uuid.UUID:
        receipt_id = self.new_id()
        sha256 = hashlib.sha256(receipt_id.bytes).hexdigest()
        created = self.past(365)
        currency = user.currency if self.random.random() < 0.9 else None
        lines = [
            {
                "description": self.random.choice(GOODS),
                "quantity": str(self.random.randint(1, 3)),
                "unit_price": None,
                "amount": str(self.money(user.currency, 1, 20)),
            }
            for _ in range(self.random.randint(1, 4))
        ]
        total = sum((Decimal(str(line["amount"])) for line in lines), Decimal(0))
        merchant = self.random.choice(MERCHANTS).upper()
        raw_text = "\n".join([merchant, *(f"{x['description']} {x['amount']}" for x in lines)])
        self.rows.add(
            "ocr_results",
            sha256,
            ENGINE,
            merchant,
            total,
            currency,
            created.date(),
            json.dumps(lines),
            round(self.random.uniform(0.55, 0.99), 6),
            raw_text,
            created,
        )
        self.rows.add(
            "receipts",
            receipt_id,
            user.id,
            "PROCESSED",
            f"receipts/{user.id}/{receipt_id}",
            f"receipt-{receipt_id.hex[:8]}.jpg",
            "image/jpeg",
            self.random.randint(40_000, 900_000),
            sha256,
            ENGINE,
            None,
            1,
            created,
            created + timedelta(seconds=self.random.uniform(1, 30)),
        )
        return receipt_id

    def purchase(self, user: SeededUser, receipt_id: uuid.UUID | None) -> None:
        purchase_id = self.new_id()
        currency = user.currency if self.random.random() < 0.95 else "EUR"
        purchased = self.past(365)
        items = []
        for position in range(self.sizes.items):
            quantity = Decimal(self.random.choice(["1", "2", "0.5", "1.25"]))
            unit = self.money(currency, 1, 30)
            items.append(
                (
                    self.new_id(),
                    purchase_id,
                    position,
                    self.random.choice(GOODS),
                    quantity.quantize(Decimal("0.0001")),
                    unit,
                    (quantity * unit).quantize(unit),
                )
            )
        amount = sum((item[6] for item in items), Decimal(0))
        note = self.words(4) if self.random.random() < 0.3 else None
        self.rows.add(
            "purchases",
            purchase_id,
            user.id,
            receipt_id,
            self.random.choice(MERCHANTS),
            amount,
            currency,
            self.random.choice(CATEGORIES),
            purchased,
            note,
            " ".join(item[3] for item in items),
            purchased + timedelta(minutes=5),
            purchased + timedelta(minutes=5),
        )
        self.rows.tables.setdefault("purchase_items", []).extend(items)

    def task(self, user: SeededUser) -> None:
        task_id = self.new_id()
        status = self.random.choice(["TODO", "TODO", "IN_PROGRESS", "DONE"])
        created = self.past(120)
        due = (
            self.anchor + timedelta(days=self.random.randint(-30, 30), hours=9)
            if self.random.random() < 0.7
            else None
        )
        tags = self.random.sample(TAGS, self.random.randint(0, 3))
        version = self.random.randint(1, 4)
        self.rows.add(
            "tasks",
            task_id,
            user.id,
            f"{self.words(3).capitalize()}",
            self.words(8) if self.random.random() < 0.5 else None,
            status,
            self.random.choice(["LOW", "MEDIUM", "HIGH", "URGENT"]),
            due,
            created + timedelta(days=1) if status == "DONE" else None,
            tags,
            version,
            created,
            created,
        )
        self.rows.add("sync_changes", "TASKS", task_id, user.id, version, False, created)

    def note(self, user: SeededUser) -> None:
        note_id = self.new_id()
        created = self.past(200)
        updated = created + timedelta(hours=self.random.randint(0, 48))
        version = self.random.randint(1, 5)
        self.rows.add(
            "notes",
            note_id,
            user.id,
            self.words(3).capitalize(),
            "\n\n".join(self.words(12) for _ in range(3)),
            self.random.sample(TAGS, self.random.randint(0, 2)),
            self.random.random() < 0.05,
            version,
            created,
            updated,
        )
        self.rows.add("sync_changes", "NOTES", note_id, user.id, version, False, updated)
        if self.random.random() < 0.1:
            image_id = self.new_id()
            self.rows.add(
                "note_images",
                image_id,
                note_id,
                f"notes/{user.id}/{image_id}",
                "image/png",
                self.random.randint(10_000, 200_000),
                hashlib.sha256(image_id.bytes).hexdigest(),
                updated,
            )
        user.note_ids.append(note_id)

    def habit(self, user: SeededUser, position: int) -> None:
        habit_id = self.new_id()
        created = self.anchor - timedelta(days=60)
        self.rows.add(
            "habits",
            habit_id,
            user.id,
            f"Habit {position + 1}",
            None,
            "#33aa77",
            "DAILY",
            7,
            False,
            position,
            1,
            created,
            created,
        )
        self.rows.add("sync_changes", "HABITS", habit_id, user.id, 1, False, created)
        today = self.anchor.date()
        for back in range(self.sizes.check_in_days):
            if self.random.random() < 0.8:
                day = today - timedelta(days=back)
                self.rows.add("habit_check_ins", habit_id, day, self.anchor)
        user.habit_ids.append(habit_id)


async def seed(
    url: str, *, password_hash: str, seed: int = 1, sizes: Sizes | None = None
) -> list[SeededUser]:
    """Fills the database at ``url`` (a plain ``postgresql://`` URL); returns the users."""
    sizes = sizes or Sizes()
    today = datetime.now(UTC).date()
    anchor = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    generator = Generator(seed, anchor, sizes, password_hash)
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        member = await connection.fetchval("SELECT id FROM roles WHERE name = $1", RoleName.MEMBER)
        users = [generator.user(index, member) for index in range(sizes.users)]
        async with connection.transaction():
            for table, columns in COLUMNS.items():
                records = generator.rows.tables.get(table, [])
                if records:
                    await connection.copy_records_to_table(
                        table, records=records, columns=list(columns)
                    )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return users

"""A hand-written endpoint answering two of the contract's operations, as the reference
that ``bench/http_load.py`` measures lifegraph against.

    python bench/reference.py [--host H] [--port P] [--workers N]

Raw ASGI on Uvicorn, an asyncpg pool, orjson, PyJWT: no GraphQL. It reads the same
settings as ``lifegraph serve`` (``DATABASE_URL``, ``LIFEGRAPH_*``), verifies the bearer
token with the project's own ``TokenService`` (same key, claims and checks), checks the
user and session in the database on every request with the statement lifegraph's
authenticator runs (``db.users.principal``), then answers ``POST /graphql`` bodies whose
``operationName`` is ``Purchases`` (``first`` only; the default order) or ``Dashboard``
with the bytes lifegraph sends for them (``data`` only: no ``extensions.cost``, since the
reference neither prices nor rate-limits). IDs, cursors, money, instants and image links
are made by the project's functions (resolvers.ids, db.pagination, resolvers.money,
resolvers.dates, the object store), so only the plumbing is hand-written.

Each answer takes two SQL statements: the session check, then one statement for the
whole page (its count, rows, items, receipts and OCR fields) or the whole dashboard. The
number is counted in the code and sent back in an ``x-sql-statements`` header.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auth.permissions import Permission
from auth.tokens import InvalidToken, TokenService
from db.pagination import encode_cursor
from lifegraph.services import object_store
from lifegraph.settings import Settings
from resolvers import ids
from resolvers.dates import format_instant, start_of
from resolvers.money import plain, quantize
from resolvers.pagination import DEFAULT_FIRST, MAX_FIRST
from resolvers.validation import is_currency

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PRINCIPAL = """
SELECT r.permissions, s.timezone, s.currency
FROM users u
JOIN user_settings s ON s.user_id = u.id
LEFT JOIN user_roles ur ON ur.user_id = u.id
LEFT JOIN roles r ON r.id = ur.role_id
WHERE u.id = $1 AND EXISTS (
    SELECT 1 FROM auth_sessions a
    WHERE a.id = $2 AND a.user_id = $1 AND a.revoked_at IS NULL AND a.expires_at > now()
)
"""

PURCHASES = """
SELECT t.total, p.id, p.merchant, p.amount, p.currency, p.category, p.purchased_at, p.note,
       p.created_at, p.items, r.id AS receipt_id, r.status, r.object_key,
       o.merchant_name, o.total AS ocr_total, o.currency AS ocr_currency, o.confidence
FROM (SELECT count(*) AS total FROM purchases WHERE user_id = $1) t
LEFT JOIN LATERAL (
    SELECT p.id, p.merchant, p.amount, p.currency, p.category, p.purchased_at, p.note,
           p.created_at, p.receipt_id,
           ARRAY(
               SELECT ROW(i.description, i.quantity, i.unit_price, i.amount)
               FROM purchase_items i WHERE i.purchase_id = p.id ORDER BY i.position
           ) AS items
    FROM purchases p
    WHERE p.user_id = $1
    ORDER BY p.purchased_at DESC, p.id DESC
    LIMIT $2
) p ON true
LEFT JOIN receipts r ON r.id = p.receipt_id
LEFT JOIN ocr_results o ON o.sha256 = r.sha256 AND o.engine = r.ocr_engine
ORDER BY p.purchased_at DESC, p.id DESC
"""

DASHBOARD = """
SELECT m.total, m.count,
    (SELECT count(*) FROM tasks WHERE user_id = $1 AND status != 'DONE'),
    (SELECT count(*) FROM tasks WHERE user_id = $1 AND status != 'DONE' AND due_at < $5),
    (SELECT count(*) FROM tasks
     WHERE user_id = $1 AND status != 'DONE' AND due_at >= $6 AND due_at < $7),
    (SELECT count(*) FROM habit_check_ins c JOIN habits h ON h.id = c.habit_id
     WHERE h.user_id = $1 AND NOT h.archived AND c.day = $8),
    (SELECT count(*) FROM habits WHERE user_id = $1 AND NOT archived),
    (SELECT count(*) FROM notes WHERE user_id = $1),
    (SELECT count(*) FROM receipts
     WHERE user_id = $1 AND status IN ('PENDING', 'PROCESSING')),
    ARRAY(
        SELECT ROW(id, merchant, amount, currency, purchased_at) FROM purchases
        WHERE user_id = $1 ORDER BY purchased_at DESC, id DESC LIMIT 5
    )
FROM (
    SELECT coalesce(sum(amount), 0) AS total, count(*) AS count FROM purchases
    WHERE user_id = $1 AND currency = $2 AND purchased_at >= $3 AND purchased_at < $4
) m
"""


class Refused(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class Counted:
    """A connection that counts the statements sent through it."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.statements = 0

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.statements += 1
        rows: list[asyncpg.Record] = await self.connection.fetch(query, *args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record:
        self.statements += 1
        return await self.connection.fetchrow(query, *args)


class Reference:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tokens = TokenService(
            secret=settings.secret_key,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        )
        self.storage = object_store(settings)
        self.pool: asyncpg.Pool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if scope["type"] != "http" or scope["path"] != "/graphql" or scope["method"] != "POST":
            await respond(send, 404, b'{"errors":[{"message":"Not found."}]}')
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        try:
            request = orjson.loads(body)
            async with self.connection() as connection:
                counted = Counted(connection)
                answer = await self.answer(counted, headers.get(b"authorization"), request)
            await respond(send, 200, answer, statements=counted.statements)
        except Refused as error:
            refusal = {"data": None, "errors": [{"message": str(error), "code": error.code}]}
            await respond(send, 200, orjson.dumps(refusal))
        except orjson.JSONDecodeError:
            await respond(send, 400, b'{"errors":[{"message":"Malformed JSON."}]}')

    def connection(self) -> Any:
        assert self.pool is not None
        return self.pool.acquire()

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                url = self.settings.database_url or ""
                self.pool = await asyncpg.create_pool(
                    url.replace("postgresql+asyncpg://", "postgresql://"),
                    min_size=1,
                    max_size=self.settings.db_pool_size,
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def answer(self, connection: Counted, authorization: bytes | None, request: Any) -> bytes:
        user_id, permissions, timezone, currency = await self.principal(connection, authorization)
        if Permission.PURCHASES not in permissions:
            raise Refused("You do not have permission to do this.", "FORBIDDEN")
        operation = request.get("operationName")
        variables = request.get("variables") or {}
        if operation == "Purchases" and variables.keys() <= {"first"}:
            return await self.purchases(connection, user_id, currency, variables.get("first"))
        if operation == "Dashboard":
            return await self.dashboard(connection, user_id, timezone, currency)
        raise Refused("The reference answers Purchases(first) and Dashboard only.", "BAD_INPUT")

    async def principal(
        self, connection: Counted, authorization: bytes | None
    ) -> tuple[uuid.UUID, set[str], str, str]:
        scheme, _, token = (authorization or b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused("Send 'Authorization: Bearer <accessToken>'.", "UNAUTHENTICATED")
        try:
            claims = self.tokens.decode_access(token.strip())
        except InvalidToken as error:
            raise Refused(f"Access token rejected: {error}.", "UNAUTHENTICATED") from error
        rows = await connection.fetch(PRINCIPAL, claims.user_id, claims.session_id)
        if not rows:
            raise Refused("This session has ended; sign in again.", "UNAUTHENTICATED")
        granted = {p for row in rows if row[0] for p in row[0]}
        return claims.user_id, granted, rows[0][1], rows[0][2]

    async def purchases(
        self, connection: Counted, user_id: uuid.UUID, user_currency: str, first: Any
    ) -> bytes:
        size = DEFAULT_FIRST if first is None else first
        if not isinstance(size, int) or not 0 <= size <= MAX_FIRST:
            raise Refused(f"'first' must be between 0 and {MAX_FIRST}.", "BAD_USER_INPUT")
        rows = await connection.fetch(PURCHASES, user_id, size + 1)
        found = [row for row in rows if row["id"] is not None]
        edges = []
        for row in found[:size]:
            currency = row["currency"]
            edges.append(
                {
                    "cursor": encode_cursor([row["purchased_at"], row["id"]]),
                    "node": {
                        "id": ids.encode("purchase", row["id"]),
                        "merchant": row["merchant"],
                        "amount": str(quantize(row["amount"], currency)),
                        "currency": currency,
                        "category": row["category"],
                        "purchasedAt": format_instant(row["purchased_at"]),
                        "note": row["note"],
                        "createdAt": format_instant(row["created_at"]),
                        "items": [
                            {
                                "description": description,
                                "quantity": None if quantity is None else str(plain(quantity)),
                                "unitPrice": None
                                if unit is None
                                else str(quantize(unit, currency)),
                                "amount": str(quantize(amount, currency)),
                            }
                            for description, quantity, unit, amount in row["items"]
                        ],
                        "receipt": await self.receipt(row, user_currency),
                    },
                }
            )
        page = {
            "totalCount": rows[0]["total"],
            "pageInfo": {
                "hasNextPage": len(found) > size,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
            "edges": edges,
        }
        return orjson.dumps({"data": {"purchases": page}})

    async def receipt(self, row: asyncpg.Record, user_currency: str) -> dict[str, Any] | None:
        if row["receipt_id"] is None:
            return None
        ocr = None
        if row["confidence"] is not None:
            read = row["ocr_currency"]
            currency = read if read and is_currency(read) else user_currency
            total = row["ocr_total"]
            ocr = {
                "merchantName": row["merchant_name"],
                "total": None if total is None else str(quantize(total, currency)),
                "confidence": round(row["confidence"], 4),
            }
        url = await self.storage.presigned_get(
            row["object_key"], expires_in=self.settings.image_url_ttl_seconds
        )
        return {
            "id": ids.encode("receipt", row["receipt_id"]),
            "status": row["status"],
            "imageUrl": url,
            "ocr": ocr,
        }

    async def dashboard(
        self, connection: Counted, user_id: uuid.UUID, timezone: str, currency: str
    ) -> bytes:
        now = datetime.now(UTC)
        today = now.astimezone(ZoneInfo(timezone)).date()
        month = today.replace(day=1)
        next_month = (month + timedelta(days=32)).replace(day=1)
        row = await connection.fetchrow(
            DASHBOARD,
            user_id,
            currency,
            start_of(month, timezone),
            start_of(next_month, timezone),
            now,
            start_of(today, timezone),
            start_of(today + timedelta(days=1), timezone),
            today,
        )
        board = {
            "spendingThisMonth": {
                "total": str(quantize(row[0], currency)),
                "currency": currency,
                "count": row[1],
            },
            "openTasks": row[2],
            "overdueTasks": row[3],
            "dueToday": row[4],
            "habitsDoneToday": row[5],
            "habitsActive": row[6],
            "notesCount": row[7],
            "receiptsPending": row[8],
            "recentPurchases": [
                {
                    "id": ids.encode("purchase", purchase_id),
                    "merchant": merchant,
                    "amount": str(quantize(amount, purchase_currency)),
                    "currency": purchase_currency,
                    "purchasedAt": format_instant(purchased_at),
                }
                for purchase_id, merchant, amount, purchase_currency, purchased_at in row[9]
            ],
        }
        return orjson.dumps({"data": {"dashboard": board}})


async def respond(send: Send, status: int, body: bytes, *, statements: int = 0) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if statements:
        headers.append((b"x-sql-statements", str(statements).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = Reference(Settings())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run("reference:app", host=args.host, port=args.port, workers=args.workers)


if __name__ == "__main__":
    main()

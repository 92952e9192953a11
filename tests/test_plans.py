"""Compiled plans (schema/plans.py) answer exactly as the standard executor does.

Two apps share the database: one with ``compiled_plans`` off, one with it on. Every query
of the client contract, with variables that filter, search, page with ``after``, look up
every type by ``node``, and fail (unauthenticated, forbidden, not found, bad cursor), goes
to both; the answers, data and errors with their extensions, must be equal, and the
compiled app must have run each from a plan. Both apps read a fixed clock and count
budgets without time, so that signed URLs and ``extensions.cost`` cannot differ by the
second between the two calls.
"""

from __future__ import annotations

import dataclasses
import gc
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import strawberry
from conftest import Api, run_jobs
from receipt_images import blank
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.extensions import ParserCache
from test_receipts import Reads, uploaded

from lifegraph.app import GraphQLApp, create_app
from lifegraph.services import build_services
from lifegraph.settings import Settings
from resolvers import ids
from resolvers.context import Services
from resolvers.documents import documents_under, sha256_of, trust
from resolvers.errors import Forbidden
from resolvers.rate_limits import Budget, RateLimiter
from schema.plans import PlanCache, PlanStats, compiled_executor, plan_cache
from schema.purchases import PurchaseItem
from storage.local import LocalObjectStore
from storage.ocr import OcrItem, OcrResult

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
OCR = OcrResult(
    engine="given",
    merchant_name="Green Leaf Grocers",
    total=Decimal("42.50"),
    currency="MYR",
    purchased_on=date(2026, 11, 18),
    items=[
        OcrItem("Eggs", Decimal("2"), Decimal("7.25"), Decimal("14.50")),
        OcrItem("Rice", None, None, Decimal("28.00")),
    ],
    confidence=0.87,
    raw_text="GREEN LEAF GROCERS\nEggs 14.50\nRice 28.00\nTOTAL 42.50",
)


class CountedBudgets(RateLimiter):
    """Budgets counted without a clock: two apps sent the same requests report the same
    ``remaining``."""

    LIMIT = 10**9

    def __init__(self) -> None:
        super().__init__(user_points=1, address_points=1)
        self.spent: dict[str, int] = {}

    async def spend(self, cost: int, *, user_id: uuid.UUID | None, address: str) -> Budget:
        key = str(user_id) if user_id else address
        self.spent[key] = self.spent.get(key, 0) + max(1, cost)
        return Budget(True, self.LIMIT, self.LIMIT - self.spent[key], time.time() + 60)

    async def connect(self, address: str) -> bool:
        return True


def plans_of(app: Starlette) -> PlanCache:
    for route in app.routes:
        if isinstance(route, Route) and isinstance(route.app, GraphQLApp):
            cache = plan_cache(route.app.schema)
            assert cache is not None, "compiled plans are off"
            return cache
    raise AssertionError("no GraphQL route")


def frozen(settings: Settings) -> Services:
    services = dataclasses.replace(
        build_services(settings), clock=lambda: NOW, rate_limiter=CountedBudgets()
    )
    assert isinstance(services.storage, LocalObjectStore)
    services.storage._clock = NOW.timestamp
    return services


@dataclasses.dataclass
class Paths:
    standard: httpx.AsyncClient
    compiled: httpx.AsyncClient
    plans: PlanCache


@pytest.fixture
async def paths(app: Starlette, settings: Settings) -> AsyncIterator[Paths]:
    """The standard and the compiled app, beside ``api``'s (which seeds the data)."""
    apps = [
        create_app(services=frozen(settings.model_copy(update={"compiled_plans": on})))
        for on in (False, True)
    ]
    async with (
        apps[0].router.lifespan_context(apps[0]),
        apps[1].router.lifespan_context(apps[1]),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=apps[0]), base_url="http://lifegraph.test"
        ) as standard,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=apps[1]), base_url="http://lifegraph.test"
        ) as compiled,
    ):
        with pytest.raises(AssertionError, match="compiled plans are off"):
            plans_of(apps[0])
        yield Paths(standard, compiled, plans_of(apps[1]))


async def post(
    client: httpx.AsyncClient, body: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def both(
    paths: Paths, document: str, variables: dict[str, Any], token: str | None, name: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    body: dict[str, Any] = {"query": document, "variables": variables}
    if name:
        body["operationName"] = name
    return await post(paths.standard, body, token), await post(paths.compiled, body, token)


@dataclasses.dataclass
class Seeded:
    admin: str
    member: str
    member_id: str
    nodes: dict[str, str]
    receipt_id: str
    note_id: str


async def seed(api: Api, services: Services) -> Seeded:
    admin = (await api.admin())["accessToken"]
    session = await api.register("member@example.com", name="Member")
    member, member_id = session["accessToken"], session["user"]["id"]
    await api.register("other@example.com", name="Someone Else")

    receipts = [await uploaded(api, member, blank()) for _ in range(2)]
    await run_jobs(dataclasses.replace(services, ocr=Reads(OCR)))
    from_receipt = await api.op(
        "CreatePurchaseFromReceipt", {"receiptId": receipts[0]["id"]}, member
    )
    assert from_receipt["data"]["createPurchaseFromReceipt"]["userErrors"] == []
    purchases = []
    for index, (merchant, category) in enumerate(
        [("Coffee Corner", "food"), ("Book Nook", "books"), ("Fuel Stop", None)]
    ):
        created = await api.op(
            "CreatePurchase",
            {
                "input": {
                    "merchant": merchant,
                    "amount": f"{12 + index * 7}.5",
                    "category": category,
                    "purchasedAt": (NOW - timedelta(days=index)).isoformat(),
                    "note": "weekly" if index else None,
                    "items": [
                        {"description": "thing", "quantity": "2", "unitPrice": "3", "amount": "6"},
                        {"description": "other", "amount": f"{6 + index * 7}.5"},
                    ],
                }
            },
            member,
        )
        purchases.append(created["data"]["createPurchase"]["purchase"])
    budgets = []
    for category, amount, currency in (("food", "30", None), ("books", "5", "USD")):
        budget = await api.op(
            "SetBudget",
            {"input": {"category": category, "amount": amount, "currency": currency}},
            member,
        )
        assert budget["data"]["setBudget"]["userErrors"] == []
        budgets.append(budget["data"]["setBudget"]["budget"])

    webhook = await api.op(
        "CreateWebhook",
        {"input": {"url": "http://127.0.0.1:9/hook", "kinds": ["TASK_CREATED", "NOTE_CREATED"]}},
        member,
    )
    assert webhook["data"]["createWebhook"]["userErrors"] == []

    tasks = []
    for index, (status, priority) in enumerate(
        [("TODO", "HIGH"), ("DONE", "LOW"), ("TODO", "URGENT")]
    ):
        created = await api.op(
            "CreateTask",
            {
                "input": {
                    "title": f"Task {index} report",
                    "status": status,
                    "priority": priority,
                    "tags": ["work"] if index % 2 == 0 else ["home", "errand"],
                    "dueAt": (NOW + timedelta(days=index - 1)).isoformat(),
                }
            },
            member,
        )
        tasks.append(created["data"]["createTask"]["task"])

    notes = []
    for index in range(3):
        created = await api.op(
            "CreateNote",
            {
                "input": {
                    "title": f"Note {index}",
                    "content": "groceries and plans" if index else "nothing much",
                    "tags": ["ideas"] if index else [],
                    "pinned": index == 1,
                }
            },
            member,
        )
        notes.append(created["data"]["createNote"]["note"])

    home = await api.op("CreateProject", {"input": {"name": "Home", "color": "#336699"}}, member)
    project_id = home["data"]["createProject"]["project"]["id"]
    for title, parent in (("Paint", None), ("Buy paint", "Paint")):
        parent_id = next((t["id"] for t in tasks if t["title"] == parent), None)
        planned = await api.op(
            "CreatePlannedTask",
            {
                "input": {
                    "title": title,
                    "projectId": project_id,
                    "parentId": parent_id,
                    "dueAt": NOW.isoformat(),
                    "recurrence": "FREQ=WEEKLY" if parent is None else None,
                }
            },
            member,
        )
        assert planned["data"]["createTask"]["userErrors"] == [], planned
        tasks.append(planned["data"]["createTask"]["task"] | {"title": title})

    habits = []
    for name, extra in (("Read", {}), ("Walk", {}), ("Water", {"target": "8", "unit": "glass"})):
        created = await api.op("CreateHabit", {"input": {"name": name, **extra}}, member)
        habits.append(created["data"]["createHabit"]["habit"])
    await api.op("CheckInHabit", {"id": habits[0]["id"], "date": TODAY.isoformat()}, member)
    await api.op("LogHabit", {"id": habits[2]["id"], "value": "3"}, member)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    await api.op("SkipHabitDay", {"id": habits[0]["id"], "date": yesterday}, member)
    await api.op("ArchiveHabit", {"id": habits[1]["id"], "archived": True}, member)
    export = await api.op("ExportMyData", {}, member)
    await run_jobs(dataclasses.replace(services, ocr=Reads(OCR)))

    return Seeded(
        admin=admin,
        member=member,
        member_id=member_id,
        nodes={
            "Purchase": purchases[0]["id"],
            "Receipt": receipts[0]["id"],
            "Task": tasks[0]["id"],
            "Note": notes[1]["id"],
            "Habit": habits[0]["id"],
            "MeasuredHabit": habits[2]["id"],
            "User": member_id,
            "DataExport": export["data"]["exportMyData"]["export"]["id"],
            "Project": project_id,
            "Budget": budgets[0]["id"],
        },
        receipt_id=receipts[0]["id"],
        note_id=notes[1]["id"],
    )


Case = tuple[str, dict[str, Any], str | None]


def cases(seeded: Seeded, pages: dict[str, str]) -> list[Case]:
    """(operation, variables, token) for every query of the contract."""
    m, a = seeded.member, seeded.admin
    missing = {kind: ids.encode(kind.lower(), uuid.uuid4()) for kind in seeded.nodes}
    window = {"from": (TODAY - timedelta(days=40)).isoformat(), "to": TODAY.isoformat()}
    return [
        ("Me", {}, m),
        ("Me", {}, a),
        ("Me", {}, None),
        ("MySessions", {}, m),
        ("MySessions", {}, None),
        ("NotificationSettings", {}, m),
        ("NotificationSettings", {}, a),
        ("AdminUsers", {"first": 2}, a),
        ("AdminUsers", {"first": 2, "after": pages["AdminUsers"]}, a),
        ("AdminUsers", {"search": "member"}, a),
        ("AdminUsers", {"first": 2, "after": "not-a-cursor"}, a),
        ("AdminUsers", {}, m),
        ("AdminUsers", {}, None),
        ("AdminUser", {"id": seeded.member_id}, a),
        ("AdminUser", {"id": missing["User"]}, a),
        ("AdminUser", {"id": seeded.member_id}, m),
        ("Roles", {}, a),
        ("Roles", {}, m),
        ("Dashboard", {}, m),
        ("DataExport", {"id": seeded.nodes["DataExport"]}, m),
        ("DataExport", {"id": seeded.nodes["DataExport"]}, a),
        ("DataExport", {"id": missing["DataExport"]}, m),
        ("DataExport", {"id": seeded.nodes["DataExport"]}, None),
        ("Dashboard", {}, None),
        ("DashboardBudgets", {}, m),
        ("DashboardBudgets", {}, None),
        ("Budgets", {}, m),
        ("Budgets", {"month": "2026-10"}, m),
        ("Budgets", {"month": "2026-13"}, m),
        ("Budgets", {}, None),
        ("SpendingByCurrency", window, m),
        ("SpendingByCurrency", {"from": window["to"], "to": window["from"]}, m),
        ("SpendingByCurrency", window, None),
        ("Categories", {}, m),
        ("Categories", {}, None),
        ("Habits", {"from": window["from"], "to": window["to"]}, m),
        ("HabitDetails", {"id": seeded.nodes["Habit"], **window}, m),
        ("HabitDetails", {"id": seeded.nodes["MeasuredHabit"], **window}, m),
        ("HabitDetails", {"id": missing["Habit"], **window}, m),
        ("HabitDetails", {"id": seeded.nodes["Habit"], **window}, None),
        ("Projects", {}, m),
        ("Projects", {"includeArchived": True}, m),
        ("Projects", {}, None),
        ("PlannedTasks", {"first": 2}, m),
        ("PlannedTasks", {"first": 10, "filter": {"topLevel": True}}, m),
        ("PlannedTasks", {"first": 10}, a),
        ("Habits", {"includeArchived": True, **window}, m),
        ("Habits", {"includeArchived": True, **window}, None),
        *(("Node", {"id": global_id}, m) for global_id in seeded.nodes.values()),
        *(("Node", {"id": global_id}, m) for global_id in missing.values()),
        ("Node", {"id": "nonsense"}, m),
        ("Node", {"id": seeded.nodes["Purchase"]}, a),
        ("Node", {"id": seeded.nodes["Purchase"]}, None),
        ("Note", {"id": seeded.note_id}, m),
        ("Note", {"id": missing["Note"]}, m),
        ("Notes", {"first": 2}, m),
        ("Notes", {"first": 2, "after": pages["Notes"]}, m),
        ("Notes", {"filter": {"tag": "ideas", "pinned": True}}, m),
        ("Notes", {"filter": {"search": "grocer"}}, m),
        ("Notes", {"after": "bad-cursor"}, m),
        ("Purchases", {"first": 2}, m),
        ("Purchases", {"first": 2, "after": pages["Purchases"]}, m),
        ("Purchases", {"first": 50, "orderBy": {"field": "AMOUNT", "direction": "ASC"}}, m),
        ("Purchases", {"filter": {"search": "coff", "category": "food"}}, m),
        ("Purchases", {"filter": {"minAmount": "15", "maxAmount": "40"}}, m),
        ("Purchases", {"filter": {"from": (NOW - timedelta(days=1)).isoformat()}}, m),
        ("Purchases", {"after": "!!"}, m),
        ("Purchases", {}, None),
        ("Receipt", {"id": seeded.receipt_id}, m),
        ("Receipt", {"id": seeded.receipt_id}, a),
        ("Receipt", {"id": missing["Receipt"]}, m),
        ("Receipts", {"first": 1}, m),
        ("Receipts", {"first": 1, "after": pages["Receipts"]}, m),
        ("Receipts", {"filter": {"status": "PROCESSED"}}, m),
        ("SpendingSummary", window, m),
        ("SpendingSummary", {**window, "currency": "EUR"}, m),
        ("SpendingSummary", window, None),
        ("SyncPull", {}, m),
        ("SyncPull", {"collections": ["NOTES", "TASKS"]}, m),
        ("SyncPull", {"since": pages["SyncPull"]}, m),
        ("SyncPull", {"since": "garbage"}, m),
        ("Tasks", {"first": 2}, m),
        ("Tasks", {"first": 2, "after": pages["Tasks"]}, m),
        ("Tasks", {"filter": {"status": ["TODO"], "priority": ["HIGH", "URGENT"]}}, m),
        ("Tasks", {"filter": {"tag": "home", "search": "report"}}, m),
        ("Tasks", {"filter": {"dueBefore": NOW.isoformat()}}, m),
        ("Tasks", {"after": "xyz"}, m),
        ("Webhooks", {}, m),
        ("Webhooks", {}, a),
        ("Webhooks", {}, None),
    ]


async def cursors(api: Api, seeded: Seeded) -> dict[str, str]:
    """Where each paged operation's second page starts."""
    found: dict[str, str] = {}
    for name, root, first, token in [
        ("AdminUsers", "users", 2, seeded.admin),
        ("Notes", "notes", 2, seeded.member),
        ("Purchases", "purchases", 2, seeded.member),
        ("Receipts", "receipts", 1, seeded.member),
        ("Tasks", "tasks", 2, seeded.member),
    ]:
        page = (await api.op(name, {"first": first}, token))["data"][root]
        assert page["pageInfo"]["hasNextPage"], name
        found[name] = page["pageInfo"]["endCursor"]
    pulled = await api.op("SyncPull", {"collections": ["NOTES"]}, seeded.member)
    found["SyncPull"] = pulled["data"]["syncPull"]["cursor"]
    return found


def query_names(api: Api) -> list[str]:
    return [
        name for name, text in api.contract.documents.items() if text.lstrip().startswith("query")
    ]


async def test_every_contract_query_answers_the_same_from_its_plan(
    api: Api, services: Services, paths: Paths
) -> None:
    seeded = await seed(api, services)
    all_cases = cases(seeded, await cursors(api, seeded))
    assert {name for name, _, _ in all_cases} == set(query_names(api))

    # First sight of each document runs on the standard executor, and plans it next time.
    first = {name: (variables, token) for name, variables, token in reversed(all_cases)}
    for name, (variables, token) in first.items():
        await both(paths, api.contract.document_of(name), variables, token, name)
    before = dataclasses.replace(paths.plans.stats)
    assert before.hits == 0

    failures = 0
    for name, variables, token in all_cases:
        standard, compiled = await both(
            paths, api.contract.document_of(name), variables, token, name
        )
        assert compiled == standard, (name, variables)
        failures += "errors" in standard
    assert paths.plans.stats.hits == len(all_cases)
    assert paths.plans.stats.builds == len(query_names(api))
    # The failing calls were compared too: unauthenticated, forbidden, bad cursors.
    assert failures >= 12

    # The dashboard's projects, which no contract document reads yet, plan as well.
    standard, compiled = await twice(paths, DASHBOARD_LISTS, {}, seeded.member)
    assert compiled == standard
    board = compiled["data"]["dashboard"]
    assert [(p["name"], p["openTasks"]) for p in board["projects"]] == [("Home", 2)]
    assert [b["category"] for b in board["budgets"]] == ["books", "food"]


DASHBOARD_LISTS = """query {
  dashboard { projects { id name color position openTasks } budgets { id category spent } }
}"""


async def test_mutations_run_on_the_standard_executor(api: Api, paths: Paths) -> None:
    session = await api.register("writer@example.com")
    for title in ("One", "Two"):
        created = await post(
            paths.compiled,
            {
                "query": api.contract.document_of("CreateTask"),
                "variables": {"input": {"title": title}},
            },
            session["accessToken"],
        )
        assert created["data"]["createTask"]["task"]["title"] == title
    assert paths.plans.stats == PlanStats(hits=0, builds=0, fallbacks=2)


async def test_a_trusted_document_is_planned_at_first_sight(app: Starlette, api: Api) -> None:
    token = (await api.register("trusting@example.com"))["accessToken"]
    await trust(app.state.services.sessionmaker, documents_under(api.contract.directory))
    digest = sha256_of(api.contract.document_of("Me"))
    body = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    response = await api.client.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.json()["data"]["me"]["email"] == "trusting@example.com"
    stats = plans_of(app).stats
    assert (stats.hits, stats.builds) == (1, 1)


async def twice(
    paths: Paths, document: str, variables: dict[str, Any], token: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The standard answer and the compiled one, after the compiled app has seen it once."""
    await both(paths, document, variables, token, None)
    return await both(paths, document, variables, token, None)


async def test_skip_and_include_follow_the_variables_of_each_request(
    api: Api, paths: Paths
) -> None:
    token = (await api.register("directives@example.com"))["accessToken"]
    document = """
        query ($withRoles: Boolean!, $hideEmail: Boolean!) {
          me {
            id
            email @skip(if: $hideEmail)
            ...Roles @include(if: $withRoles)
            ... on User @include(if: $hideEmail) { displayName }
            displayName @skip(if: true)
          }
        }
        fragment Roles on User { roles { name } }
    """
    seen: list[dict[str, Any]] = []
    for with_roles in (True, False):
        for hide_email in (True, False):
            variables = {"withRoles": with_roles, "hideEmail": hide_email}
            standard, compiled = await twice(paths, document, variables, token)
            assert compiled == standard
            seen.append(compiled["data"]["me"])
    assert [sorted(me) for me in seen] == [
        ["displayName", "id", "roles"],
        ["email", "id", "roles"],
        ["displayName", "id"],
        ["email", "id"],
    ]
    assert paths.plans.stats.builds == 4


async def test_aliases_and_fragments_are_merged_as_graphql_core_merges_them(
    api: Api, paths: Paths
) -> None:
    token = (await api.register("aliases@example.com", name="Ali"))["accessToken"]
    document = """
        query {
          who: me { ...Who name: displayName ... on User { id roles { name } } }
          again: me { kind: __typename id }
        }
        fragment Who on User { id name: displayName roles { permissions } }
    """
    standard, compiled = await twice(paths, document, {}, token)
    assert compiled == standard
    who = compiled["data"]["who"]
    assert list(who) == ["id", "name", "roles"]
    assert who["name"] == "Ali"
    assert sorted(who["roles"][0]) == ["name", "permissions"]
    assert compiled["data"]["again"]["kind"] == "User"
    assert paths.plans.stats.hits == 1


def uncorrelated(result: dict[str, Any]) -> dict[str, Any]:
    for error in result.get("errors", []):
        assert error["extensions"].pop("correlationId")
    return result


async def test_an_error_in_a_non_null_field_nulls_its_nearest_nullable_parent(
    api: Api, paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A purchase's items cannot be null, nor can the dashboard's recent purchases, nor
    the dashboard: an error building an item (in the ``recentPurchases`` resolver) or an
    item's non-null attribute read as null nulls the whole data, but only the nullable
    ``node``."""
    token = (await api.register("nulls@example.com"))["accessToken"]
    for description in ("fine", "refused", "missing"):
        created = await api.op(
            "CreatePurchase",
            {
                "input": {
                    "merchant": description,
                    "amount": "1",
                    "purchasedAt": NOW.isoformat(),
                    "items": [{"description": description, "amount": "1"}],
                }
            },
            token,
        )
        purchase_id = created["data"]["createPurchase"]["purchase"]["id"]
    shown = PurchaseItem.of

    def of(cls: type[PurchaseItem], line: Any, currency: str) -> PurchaseItem:
        if line.description == "refused":
            raise Forbidden()
        item = shown(line, currency)
        if line.description == "missing":
            item.description = None  # type: ignore[assignment]
        return item

    monkeypatch.setattr(PurchaseItem, "of", classmethod(of))
    page = "query { me { id } dashboard { recentPurchases { merchant items { description } } } }"
    standard, compiled = await twice(paths, page, {}, token)
    assert compiled == standard
    assert compiled["data"] is None
    [error] = compiled["errors"]
    assert error["path"] == ["dashboard", "recentPurchases"]

    one = """
        query ($id: ID!) {
          node(id: $id) { id ... on Purchase { items { description } } }
          me { id }
        }
    """
    standard, compiled = await twice(paths, one, {"id": purchase_id}, token)
    # A server fault: logged, and masked with a correlation id of its own on each path.
    assert uncorrelated(compiled) == uncorrelated(standard)
    assert compiled["data"]["node"] is None
    assert compiled["data"]["me"] is not None
    [error] = compiled["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["path"] == ["node", "items", 0, "description"]
    assert paths.plans.stats.hits == 2


@strawberry.type
class Tiny:
    @strawberry.field
    def hello(self, name: str = "you") -> str:
        return f"Hello, {name}"


def tiny_schema(maxsize: int, *, parser_cache: bool = True) -> strawberry.Schema:
    return strawberry.Schema(
        query=Tiny,
        execution_context_class=compiled_executor(maxsize),
        extensions=[lambda: ParserCache(maxsize=16)] if parser_cache else [],
    )


def test_plans_are_kept_for_the_documents_used_last() -> None:
    schema = tiny_schema(2)
    plans = plan_cache(schema)
    assert plans is not None
    for name in ("a", "b", "c", "a"):
        for _ in range(2):
            result = schema.execute_sync(f'{{ hello(name: "{name}") }}')
            assert result.data == {"hello": f"Hello, {name}"}
    assert len(plans) == 2
    # "a" was dropped for "c", so it was planned again on its return.
    assert (plans.stats.hits, plans.stats.builds, plans.stats.fallbacks) == (4, 4, 4)


def test_a_document_parsed_anew_is_not_taken_for_another() -> None:
    """Without the parser cache each request has a document of its own: never seen
    before, so never planned, even if it lands where a collected one was."""
    schema = tiny_schema(8, parser_cache=False)
    plans = plan_cache(schema)
    assert plans is not None
    for _ in range(20):
        assert schema.execute_sync('{ hello(name: "x") }').data == {"hello": "Hello, x"}
        gc.collect()
    assert plans.stats.hits == 0

"""Each GraphQL operation is reported once to the app's observers, errors coded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from client_contract import Contract
from conftest import RESET, Api
from sqlalchemy import text

from lifegraph.app import create_app
from resolvers.context import Services
from schema.observe import OperationReport


@pytest.fixture
async def observed(
    services: Services, contract: Contract
) -> AsyncIterator[tuple[Api, list[OperationReport]]]:
    reports: list[OperationReport] = []
    app = create_app(services=services, observers=[reports.append])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lifegraph.test") as c:
            yield Api(c, contract), reports
    async with services.engine.begin() as connection:
        await connection.execute(text(RESET))
    await services.engine.dispose()


async def test_a_signed_in_query_is_reported_with_its_user_and_cost(
    observed: tuple[Api, list[OperationReport]],
) -> None:
    api, reports = observed
    session = await api.register("observed@example.com")
    reports.clear()
    await api.op("Me", token=session["accessToken"])
    (report,) = reports
    assert report.name == "Me"
    assert report.kind == "query"
    assert report.error_codes == ()
    assert report.user_id == session["user"]["id"].removeprefix("user_")
    assert report.cost is not None
    assert report.cost > 0
    assert report.seconds > 0


async def test_a_mutation_and_failures_are_reported_with_their_codes(
    observed: tuple[Api, list[OperationReport]],
) -> None:
    api, reports = observed
    await api.register("observed@example.com")
    await api.op("Me")
    await api.query("query Broken { nosuch }")
    await api.query("query {")
    register, me, broken, unparsed = reports
    assert (register.name, register.kind) == ("Register", "mutation")
    assert (me.name, me.error_codes, me.user_id) == ("Me", ("UNAUTHENTICATED",), None)
    assert (broken.name, broken.error_codes, broken.cost) == ("Broken", ("BAD_USER_INPUT",), None)
    assert (unparsed.name, unparsed.kind) == (None, "unknown")
    assert unparsed.error_codes == ("BAD_USER_INPUT",)

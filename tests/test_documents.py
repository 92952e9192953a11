"""Persisted documents: Apollo's automatic persisted queries, and trusted documents
registered with `lifegraph trust-documents`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_contract import CONTRACT_DIR, Contract
from conftest import Api, errors_of, make_settings, reset, served
from test_cli import clean_env, lifegraph

from lifegraph.app import create_app
from resolvers.context import Services
from resolvers.documents import sha256_of


def persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def post(api: Api, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await api.client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_hash_stands_for_a_document_once_the_server_has_seen_it(api: Api) -> None:
    query = "query Hello { __typename hello: __typename }"
    digest = sha256_of(query)

    unknown = await post(api, {"extensions": persisted(digest)})
    assert errors_of(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert unknown["errors"][0]["message"] == "PersistedQueryNotFound"  # what Apollo reads

    first = await post(api, {"query": query, "extensions": persisted(digest)})
    assert first["data"] == {"__typename": "Query", "hello": "Query"}
    again = await post(api, {"extensions": persisted(digest), "operationName": "Hello"})
    assert again["data"] == first["data"]


async def test_a_hash_must_match_its_text(api: Api) -> None:
    wrong = await post(api, {"query": "{ __typename }", "extensions": persisted("0" * 64)})
    assert errors_of(wrong) == ["BAD_USER_INPUT"]
    malformed = await post(
        api, {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "x"}}}
    )
    assert errors_of(malformed) == ["BAD_USER_INPUT"]


async def test_a_document_with_an_unpaired_surrogate_is_bad_user_input(api: Api) -> None:
    """JSON may escape a lone surrogate (``\\ud800``), which no UTF-8 text, nor any GraphQL
    source, can hold: even in a comment, where only hashing the document meets it."""
    token = (await api.register("surrogate@example.com"))["accessToken"]
    for query in [
        "{ me { id } } # \ud800",
        'mutation { createNote(input: {title: "\ud800"}) { note { id } } }',
    ]:
        body = json.dumps({"query": query})  # ASCII, the surrogate escaped
        response = await api.client.post(
            "/graphql",
            content=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        assert errors_of(response.json()) == ["BAD_USER_INPUT"]
    notes = await api.op("Notes", {}, token)
    assert notes["data"]["notes"]["totalCount"] == 0


def trust_contract(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*lifegraph(), "trust-documents", str(CONTRACT_DIR / "operations")],
        env=clean_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
async def trusted_only(database_url: str, contract: Contract) -> AsyncIterator[Api]:
    completed = await asyncio.to_thread(trust_contract, database_url)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(f"{len(contract.documents)} documents")
    app = create_app(make_settings(database_url, trusted_documents_only=True))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lifegraph.test") as client:
        yield Api(client, contract)
    await app.state.services.engine.dispose()
    await reset(database_url)


async def test_only_trusted_documents_run_when_the_server_says_so(trusted_only: Api) -> None:
    session = await trusted_only.register("trusted@example.com")
    token = session["accessToken"]
    me = await trusted_only.op("Me", token=token)
    assert me["data"]["me"]["email"] == "trusted@example.com"

    by_hash = await post(
        trusted_only,
        {"extensions": persisted(sha256_of(trusted_only.contract.document_of("Me")))},
        token,
    )
    assert by_hash["data"] == me["data"]

    for body in (
        {"query": "{ me { email } }"},
        {"query": "{ me { email } }", "extensions": persisted(sha256_of("{ me { email } }"))},
    ):
        refused = await post(trusted_only, body, token)
        assert errors_of(refused) == ["PERSISTED_QUERY_NOT_FOUND"]
        assert refused.get("data") is None


def test_trusting_the_same_folder_twice_adds_nothing(database_url: str) -> None:
    assert trust_contract(database_url).returncode == 0
    assert trust_contract(database_url).stdout.strip().endswith(", 0 newly trusted")
    missing = subprocess.run(
        [*lifegraph(), "trust-documents", "/nonexistent"],
        env=clean_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1
    assert "is not a folder" in missing.stderr


APOLLO = Path(__file__).parent / "apollo"


@pytest.mark.skipif(
    not (APOLLO / "node_modules").is_dir() and not os.environ.get("CI"),
    reason="Apollo Client is not installed: npm ci --prefix tests/apollo",
)
async def test_apollo_clients_persisted_query_link_works(
    services: Services, contract: Contract, database_url: str
) -> None:
    async with served(services) as server:
        async with httpx.AsyncClient(base_url=f"http://{server}", trust_env=False) as client:
            token = (await Api(client, contract).register("apollo@example.com"))["accessToken"]
        node = await asyncio.create_subprocess_exec(
            "node",
            str(APOLLO / "persisted.mjs"),
            f"http://{server}/graphql",
            token,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(node.communicate(), 60)
    assert node.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["first"]["me"]["email"] == "apollo@example.com"
    assert report["second"] == report["first"]
    # The hash alone, refused; then the text with its hash; then, for a new client, the
    # hash alone again, now known.
    assert [(s["hasQuery"], bool(s["hash"])) for s in report["sent"]] == [
        (False, True),
        (True, True),
        (False, True),
    ]
    await reset(database_url)

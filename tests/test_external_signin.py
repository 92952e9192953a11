"""Tokens of an external OpenID issuer (AWS Cognito), verified against its JWKS over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from client_contract import Contract
from conftest import Api, errors_of, make_settings
from oidc_helpers import FakeIssuer
from sqlalchemy import text
from starlette.applications import Starlette

from lifegraph.settings import Settings


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer() as fake:
        yield fake


@pytest.fixture
def settings(database_url: str, tmp_path: Path, issuer: FakeIssuer) -> Settings:
    return make_settings(
        database_url,
        data_dir=tmp_path / "data",
        oidc_issuer=issuer.issuer,
        oidc_audience=issuer.client_id,
        oidc_jwks_url=issuer.jwks_url,
        oidc_refetch_cooldown_seconds=0,
    )


async def test_an_external_token_provisions_the_user_once(
    api: Api, app: Starlette, issuer: FakeIssuer
) -> None:
    token = issuer.token("cognito-sub-1", email="Pat@Example.com")
    me = (await api.op("Me", token=token))["data"]["me"]
    assert me["email"] == "pat@example.com"
    assert [role["name"] for role in me["roles"]] == ["member"]

    access = issuer.token("cognito-sub-1", token_use="access")
    again = (await api.op("Me", token=access))["data"]["me"]
    assert again["id"] == me["id"]
    assert issuer.requests == 1
    async with app.state.services.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM users")) == 1
        assert await connection.scalar(text("SELECT count(*) FROM user_identities")) == 1


async def test_an_external_identity_links_to_a_local_account_only_by_verified_email(
    api: Api, issuer: FakeIssuer
) -> None:
    local = await api.register("quinn@example.com")
    unverified = issuer.token("sub-2", email="quinn@example.com", email_verified=False)
    assert errors_of(await api.op("Me", token=unverified)) == ["UNAUTHENTICATED"]
    verified = issuer.token("sub-2", email="quinn@example.com")
    me = (await api.op("Me", token=verified))["data"]["me"]
    assert me["id"] == local["user"]["id"]


async def test_rotated_keys_are_fetched_and_bad_external_tokens_refused(
    api: Api, issuer: FakeIssuer
) -> None:
    assert (await api.op("Me", token=issuer.token("sub-3", email="r@example.com")))["data"]["me"]
    issuer.rotate()
    rotated = issuer.token("sub-3", token_use="access")
    assert (await api.op("Me", token=rotated))["data"]["me"]["email"] == "r@example.com"

    for bad in (
        issuer.token("sub-3", token_use="access", client_id="another-client"),
        issuer.token("sub-3", email="r@example.com", aud="another-client"),
        issuer.token("sub-3", email="r@example.com", expires_in=-600),
        issuer.token("sub-4"),  # new identity without an email: nothing to provision from
    ):
        assert errors_of(await api.op("Me", token=bad)) == ["UNAUTHENTICATED"]


async def test_tokens_of_other_issuers_are_refused(app: Starlette, contract: Contract) -> None:
    with FakeIssuer(issuer="https://evil.example.com") as evil:
        token = evil.token("sub-5", email="s@example.com")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lifegraph.test") as client:
        result = await Api(client, contract).op("Me", token=token)
    assert errors_of(result) == ["UNAUTHENTICATED"]


async def test_external_users_take_the_issuers_email_verified(api: Api, issuer: FakeIssuer) -> None:
    verified_of = "{ me { email emailVerified } }"
    unverified = issuer.token("sub-5", email="sam@example.com", email_verified=False)
    assert (await api.query(verified_of, token=unverified))["data"]["me"] == {
        "email": "sam@example.com",
        "emailVerified": False,
    }
    later = issuer.token("sub-5", email="sam@example.com")
    assert (await api.query(verified_of, token=later))["data"]["me"]["emailVerified"] is True

    local = await api.register("tia@example.com")
    assert local["user"]["id"]
    linked = issuer.token("sub-6", email="tia@example.com")
    assert (await api.query(verified_of, token=linked))["data"]["me"]["emailVerified"] is True

"""Access tokens: anything but a valid, unexpired token of ours is UNAUTHENTICATED."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from conftest import Api, errors_of

from lifegraph.settings import Environment, Settings

SECRET = "test-secret-key-that-is-long-enough-for-hs256"


def forge(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, "HS256")


def valid_claims(session: dict[str, Any]) -> dict[str, Any]:
    return jwt.decode(session["accessToken"], options={"verify_signature": False})


def none_alg(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def test_a_valid_token_works(api: Api) -> None:
    session = await api.register("tok@example.com")
    claims = valid_claims(session)
    assert {"sub", "iat", "exp", "iss", "aud", "jti", "typ", "sid"} <= claims.keys()
    assert claims["typ"] == "access"
    assert (await api.op("Me", token=forge(claims)))["data"]["me"]["email"] == "tok@example.com"


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(
            lambda c: forge({**c, "exp": datetime.now(UTC) - timedelta(minutes=5)}), id="expired"
        ),
        pytest.param(lambda c: "garbled.token.value", id="garbled"),
        pytest.param(lambda c: none_alg(c), id="none-alg"),
        pytest.param(lambda c: forge({**c, "aud": "another-api"}), id="wrong-audience"),
        pytest.param(lambda c: forge({**c, "iss": "someone-else"}), id="wrong-issuer"),
        pytest.param(lambda c: forge(c, secret="x" * 48), id="wrong-key"),
        pytest.param(lambda c: forge({k: v for k, v in c.items() if k != "jti"}), id="missing-jti"),
        pytest.param(lambda c: forge({**c, "typ": "refresh"}), id="wrong-type"),
        pytest.param(lambda c: forge({**c, "sub": "not-a-uuid"}), id="bad-subject"),
    ],
)
async def test_bad_tokens_are_unauthenticated(api: Api, mangle: Any) -> None:
    claims = valid_claims(await api.register("bad@example.com"))
    result = await api.op("Me", token=mangle(claims))
    assert result["data"] is None
    assert errors_of(result) == ["UNAUTHENTICATED"]


async def test_other_schemes_are_refused(api: Api) -> None:
    session = await api.register("scheme@example.com")
    response = await api.client.post(
        "/graphql",
        json={"query": "{ me { id } }"},
        headers={"Authorization": f"Token {session['accessToken']}"},
    )
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]


def test_production_needs_a_real_secret() -> None:
    with pytest.raises(ValueError, match="LIFEGRAPH_SECRET_KEY"):
        Settings(_env_file=None, environment=Environment.PRODUCTION)  # type: ignore[call-arg]
    Settings(_env_file=None, environment=Environment.PRODUCTION, secret_key="s" * 40)  # type: ignore[call-arg]

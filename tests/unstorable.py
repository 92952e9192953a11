"""Text that PostgreSQL cannot store, and a way to send it.

httpx encodes a JSON body as UTF-8, which has no form for a lone surrogate; these requests
are ASCII-escaped (``"\\ud800"``), as a browser's ``JSON.stringify`` sends them, so the
server's JSON parser hands the resolvers a ``str`` with a lone surrogate in it."""

from __future__ import annotations

import json
from typing import Any

from conftest import Api

NUL = "a\x00b"
SURROGATE = "a\ud800b"
UNSTORABLE = [NUL, SURROGATE]


async def send(
    api: Api, name: str, variables: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    """Like ``Api.op``: a contract operation by name."""
    body = {"query": api.contract.document_of(name), "variables": variables, "operationName": name}
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await api.client.post("/graphql", content=json.dumps(body), headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result

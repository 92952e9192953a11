"""The contract's operations of projects, subtasks and recurring tasks
(``planning.graphql``), sent as the apps send them."""

from __future__ import annotations

from typing import Any

from conftest import Api


def field_of(operation: str) -> str:
    return operation[0].lower() + operation[1:]


async def run(api: Api, token: str, operation: str, **variables: Any) -> Any:
    """The operation's data field (a list for ``Projects``), with no top-level errors."""
    result = await api.op(operation, variables, token)
    assert "errors" not in result, result
    name = {"CreatePlannedTask": "createTask", "PlannedTasks": "tasks"}.get(
        operation, field_of(operation)
    )
    return result["data"][name]


async def project(api: Api, token: str, name: str, **fields: Any) -> dict[str, Any]:
    payload = await run(api, token, "CreateProject", input={"name": name, **fields})
    assert payload["userErrors"] == [], payload
    created: dict[str, Any] = payload["project"]
    return created


async def task(api: Api, token: str, title: str, **fields: Any) -> dict[str, Any]:
    payload = await run(api, token, "CreatePlannedTask", input={"title": title, **fields})
    assert payload["userErrors"] == [], payload
    created: dict[str, Any] = payload["task"]
    return created


def problems(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(error["field"], error["code"]) for error in payload["userErrors"]]

"""The operations of projects, subtasks and recurring tasks, as the next contract has
them (``planning.graphql``; its habit and note operations are tested with those parts)."""

from __future__ import annotations

from typing import Any

from conftest import Api

DOCUMENT = """
fragment ProjectFields on Project { id name color archived position openTasks createdAt updatedAt version }

query Projects($includeArchived: Boolean) {
  projects(includeArchived: $includeArchived) { ...ProjectFields }
}

mutation CreateProject($input: CreateProjectInput!) {
  createProject(input: $input) { project { ...ProjectFields } userErrors { field message code } }
}

mutation UpdateProject($id: ID!, $input: UpdateProjectInput!) {
  updateProject(id: $id, input: $input) { project { ...ProjectFields } userErrors { field message code } }
}

mutation DeleteProject($id: ID!) {
  deleteProject(id: $id) { deletedId userErrors { field message code } }
}

query PlannedTasks($first: Int, $after: String, $filter: TaskFilter) {
  tasks(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id title status priority dueAt completedAt recurrence remindAt version
        project { id name }
        parent { id title }
        subtasks { id title status }
      }
    }
  }
}

mutation CreatePlannedTask($input: CreateTaskInput!) {
  createTask(input: $input) {
    task { id title dueAt recurrence remindAt project { id } parent { id } }
    userErrors { field message code }
  }
}

mutation CompleteTask($id: ID!) {
  completeTask(id: $id) {
    task { id status dueAt completedAt recurrence }
    completion { dueAt completedAt }
    userErrors { field message code }
  }
}
"""  # noqa: E501


def field_of(operation: str) -> str:
    return operation[0].lower() + operation[1:]


async def run(api: Api, token: str, operation: str, **variables: Any) -> Any:
    """The operation's data field (a list for ``Projects``), with no top-level errors."""
    result = await api.query(DOCUMENT, variables, token, operation)
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

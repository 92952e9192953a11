"""GraphiQL at /graphql in development, served from the package: no CDN, a strict policy.

The page (``static/graphiql.html`` and ``graphiql.js``) opens with one tab per operation of
the client contract, read here at start-up from ``contract/operations/`` with example
variables where the schema makes them obvious, and served as ``/graphiql/operations.json``.
Its sign-in bar puts ``Authorization: Bearer …`` on every request and renews the session
before the access token expires, as the dashboard does. GraphiQL, React and graphql-ws
are vendored in ``static/graphiql/`` (their versions and licences are there, with the
script that fetched them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    Undefined,
    parse,
    type_from_ast,
)
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lifegraph.pages import CSS, HTML, JS, STATIC, page_headers
from resolvers.documents import operations_in

VENDOR = STATIC / "graphiql"
CONTRACT_OPERATIONS = Path(__file__).resolve().parent.parent / "contract" / "operations"
"""Present in a checkout of the repository; an installed package opens with no tabs."""

FIRST_FILES = ("auth", "dashboard", "purchases", "receipts", "tasks", "habits", "notes")
"""The contract's files whose operations come first, in this order; the rest follow."""

ASSETS: dict[str, tuple[Path, str]] = {
    "session.js": (STATIC / "session.js", JS),
    "graphiql.js": (STATIC / "graphiql.js", JS),
    "graphiql.css": (STATIC / "graphiql.css", CSS),
    "vendor/react.production.min.js": (VENDOR / "react.production.min.js", JS),
    "vendor/react-dom.production.min.js": (VENDOR / "react-dom.production.min.js", JS),
    "vendor/graphql-ws.min.js": (VENDOR / "graphql-ws.min.js", JS),
    "vendor/graphiql.min.js": (VENDOR / "graphiql.min.js", JS),
    "vendor/graphiql.min.css": (VENDOR / "graphiql.min.css", CSS),
}

# GraphiQL's stylesheet carries its fonts and icons as data: URLs.
HEADERS = page_headers("script-src 'self'", "font-src 'self' data:")

EXAMPLE_STRINGS = {
    "email": "you@example.com",
    "password": "a-long-password",
    "currentPassword": "a-long-password",
    "newPassword": "another-long-password",
    "displayName": "Dev",
    "currency": "EUR",
    "merchant": "Corner Shop",
    "description": "Bread",
    "title": "Example",
    "name": "Example",
    "filename": "receipt.jpg",
    "contentType": "image/jpeg",
    "clientId": "graphiql",
    "timezone": "UTC",
}


def contract_tabs(
    schema: GraphQLSchema, folder: Path = CONTRACT_OPERATIONS
) -> list[dict[str, Any]]:
    """One tab per operation of the contract: its name, kind, document (with the fragments
    it uses) and example variables; none when the folder is absent."""
    files = sorted(folder.glob("*.graphql"), key=_file_order) if folder.is_dir() else []
    tabs: list[dict[str, Any]] = []
    for path in files:
        for name, document in operations_in(path.read_text()).items():
            operation = next(
                d
                for d in parse(document).definitions
                if isinstance(d, OperationDefinitionNode) and d.name and d.name.value == name
            )
            tabs.append(
                {
                    "name": name,
                    "kind": operation.operation.value,
                    "query": document,
                    "variables": example_variables(operation, schema),
                }
            )
    return tabs


def _file_order(path: Path) -> tuple[int, str]:
    stem = path.stem
    return (FIRST_FILES.index(stem) if stem in FIRST_FILES else len(FIRST_FILES), stem)


def example_variables(operation: OperationDefinitionNode, schema: GraphQLSchema) -> dict[str, Any]:
    """Values for the operation's required variables (optional ones are left out)."""
    examples: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        kind = type_from_ast(schema, definition.type)
        if isinstance(kind, GraphQLNonNull) and definition.default_value is None:
            name = definition.variable.name.value
            examples[name] = _example(kind, name)
    return examples


def _example(kind: GraphQLInputType, name: str) -> Any:
    if isinstance(kind, GraphQLNonNull):
        return _example(kind.of_type, name)
    if isinstance(kind, GraphQLList):
        return []
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        return {
            field: _example(value.type, field)
            for field, value in kind.fields.items()
            if isinstance(value.type, GraphQLNonNull) and value.default_value is Undefined
        }
    assert isinstance(kind, GraphQLScalarType)
    now = datetime.now(UTC).replace(microsecond=0)
    scalars: dict[str, Any] = {
        "Int": 1,
        "Float": 1.0,
        "Boolean": False,
        "Decimal": "12.30",
        "DateTime": now.isoformat().replace("+00:00", "Z"),
        "Date": now.date().isoformat(),
        "JSON": {},
        "Upload": None,
    }
    if kind.name in scalars:
        return scalars[kind.name]
    return EXAMPLE_STRINGS.get(name, "")


def graphiql_page() -> Response:
    return FileResponse(STATIC / "graphiql.html", media_type=HTML, headers=HEADERS)


async def graphiql_asset(request: Request) -> Response:
    found = ASSETS.get(request.path_params["name"])
    if found is None:
        raise HTTPException(404)
    path, media_type = found
    return FileResponse(path, media_type=media_type, headers=HEADERS)


def graphiql_routes(tabs: list[dict[str, Any]]) -> list[BaseRoute]:
    """The page's files, and the contract's operations it opens with."""

    async def operations(request: Request) -> Response:
        return JSONResponse({"tabs": tabs}, headers=HEADERS)

    return [
        Route("/graphiql/operations.json", operations, methods=["GET"]),
        Route("/graphiql/static/{name:path}", graphiql_asset, methods=["GET"]),
    ]

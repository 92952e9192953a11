"""Persisted documents.

- Automatic persisted queries, by Apollo's protocol: a client sends only
  ``extensions.persistedQuery.sha256Hash``; if the server does not know the hash it answers
  ``PERSISTED_QUERY_NOT_FOUND`` and the client sends the text with the hash once, which the
  server checks and remembers (a bounded LRU in each process: a miss costs one retry).
- Trusted documents, registered in PostgreSQL by ``lifegraph trust-documents DIR``: they
  are known by hash to every process, and with ``trusted_only`` nothing else runs.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse, print_ast

from db import documents
from db.engine import Sessionmaker
from resolvers.errors import ApiErrorCode

_HASH = re.compile(r"^[0-9a-f]{64}$")


class DocumentRefused(Exception):
    """The request names or sends a document that cannot run; ``str()`` says why."""

    def __init__(self, message: str, code: ApiErrorCode) -> None:
        super().__init__(message)
        self.code = code


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Documents:
    def __init__(
        self, sessionmaker: Sessionmaker, *, trusted_only: bool, cache_size: int = 1000
    ) -> None:
        self._sessionmaker = sessionmaker
        self.trusted_only = trusted_only
        self._cache_size = cache_size
        self._known: OrderedDict[str, str] = OrderedDict()
        self._trusted: dict[str, str] = {}

    async def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """The document to run; raises DocumentRefused."""
        digest = _persisted_hash(extensions)
        if query is None:
            if digest is None:
                return None
            found = self._remembered(digest) or await self._trusted_text(digest)
            if found is None:
                raise DocumentRefused(
                    "PersistedQueryNotFound", ApiErrorCode.PERSISTED_QUERY_NOT_FOUND
                )
            return found
        try:
            actual = sha256_of(query)
        except UnicodeEncodeError as error:
            raise DocumentRefused(
                "The document holds an unpaired surrogate, which is not text.",
                ApiErrorCode.BAD_USER_INPUT,
            ) from error
        if digest is not None and digest != actual:
            raise DocumentRefused(
                "The persisted query's hash does not match its text.",
                ApiErrorCode.BAD_USER_INPUT,
            )
        if self.trusted_only and await self._trusted_text(actual) is None:
            raise DocumentRefused(
                "Only registered documents run on this server.",
                ApiErrorCode.PERSISTED_QUERY_NOT_FOUND,
            )
        if digest is not None:
            self._remember(digest, query)
        return query

    def is_persisted(self, text: str) -> bool:
        """Whether this process knows ``text`` by its hash: registered as trusted (and read
        since start), or sent with its hash by the persisted-query protocol."""
        try:
            digest = sha256_of(text)
        except UnicodeEncodeError:
            return False
        return digest in self._trusted or digest in self._known

    def _remembered(self, digest: str) -> str | None:
        if self.trusted_only:
            return None
        text = self._known.get(digest)
        if text is not None:
            self._known.move_to_end(digest)
        return text

    def _remember(self, digest: str, text: str) -> None:
        self._known[digest] = text
        self._known.move_to_end(digest)
        while len(self._known) > self._cache_size:
            self._known.popitem(last=False)

    async def _trusted_text(self, digest: str) -> str | None:
        """Registered documents never change, so each process keeps the ones it has read."""
        text = self._trusted.get(digest)
        if text is None:
            async with self._sessionmaker() as session:
                text = await documents.get(session, digest)
            if text is not None:
                self._trusted[digest] = text
        return text


def _persisted_hash(extensions: Mapping[str, Any] | None) -> str | None:
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if (
        not isinstance(persisted, dict)
        or persisted.get("version") != 1
        or not isinstance(persisted.get("sha256Hash"), str)
        or not _HASH.match(persisted["sha256Hash"])
    ):
        raise DocumentRefused(
            "extensions.persistedQuery must be {version: 1, sha256Hash: <64 hex digits>}.",
            ApiErrorCode.BAD_USER_INPUT,
        )
    digest: str = persisted["sha256Hash"]
    return digest


def operations_in(text: str) -> dict[str, str]:
    """Each named operation of a document with the fragments it uses, printed the way
    clients built from the contract send it."""
    tree = parse(text)
    fragments = {
        d.name.value: print_ast(d)
        for d in tree.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    found: dict[str, str] = {}
    for definition in tree.definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.name:
            printed = print_ast(definition)
            used = _spread_names(printed, fragments)
            found[definition.name.value] = "\n".join([printed, *(fragments[n] for n in used)])
    return found


def _spread_names(text: str, fragments: Mapping[str, str]) -> list[str]:
    """The fragments an operation uses, transitively, in the order first met."""
    found: list[str] = []
    pending = [text]
    while pending:
        for name in re.findall(r"\.\.\.\s*([_A-Za-z]\w*)", pending.pop()):
            if name != "on" and name not in found and name in fragments:
                found.append(name)
                pending.append(fragments[name])
    return found


def documents_under(folder: Path) -> dict[str, tuple[str, str]]:
    """``{sha256: (name, text)}`` of every operation (with its fragments, printed) of every
    ``.graphql`` file under ``folder``."""
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(folder.rglob("*.graphql")):
        for name, text in operations_in(path.read_text()).items():
            found[sha256_of(text)] = (name, text)
    return found


async def trust(sessionmaker: Sessionmaker, wanted: Mapping[str, tuple[str, str]]) -> int:
    """Registers the documents; returns how many were new."""
    async with sessionmaker.begin() as session:
        return await documents.add_many(session, wanted)

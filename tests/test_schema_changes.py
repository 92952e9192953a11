"""Schema safety: `schema.graphql` may break what the last release offered (a removed
field, a changed type, a new required argument) only where `CHANGELOG.md` lists the change
under `### Breaking` in its Unreleased section, in graphql-core's own words
(`find_breaking_changes`). Dangerous changes (a new enum value, a changed default) are
reported as warnings. Releasing copies `schema.graphql` to `schema/released/<version>.graphql`
(see the changelog's head)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes, find_dangerous_changes

ROOT = Path(__file__).resolve().parent.parent
RELEASED = ROOT / "schema" / "released"
CHANGELOG = ROOT / "CHANGELOG.md"
RELEASE_HEADING = re.compile(r"^## \[(\d+(?:\.\d+)*)\]", re.MULTILINE)


def version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in path.stem.split("."))


def last_released() -> Path:
    return max(RELEASED.glob("*.graphql"), key=version_key)


def section(text: str, heading: str, level: int) -> str:
    """The body under the first heading of ``level`` that starts with ``heading``, up to
    the next heading of that level or above; empty if there is none."""
    marks = "#" * level
    start = re.search(rf"^{marks} {re.escape(heading)}.*$", text, re.MULTILINE)
    if start is None:
        return ""
    end = re.compile(rf"^#{{1,{level}}} ", re.MULTILINE).search(text, start.end())
    return text[start.end() : end.start() if end else len(text)]


def listed_breaking(changelog: str) -> str:
    return section(section(changelog, "[Unreleased]", 2), "Breaking", 3)


def unlisted_breaking_changes(released: str, current: str, listed: str) -> list[str]:
    """The breaking changes from ``released`` to ``current`` whose description
    ``listed`` does not hold."""
    changes = find_breaking_changes(build_schema(released), build_schema(current))
    return [change.description for change in changes if change.description not in listed]


def dangerous_changes(released: str, current: str) -> list[str]:
    changes = find_dangerous_changes(build_schema(released), build_schema(current))
    return [change.description for change in changes]


def test_the_schema_breaks_nothing_of_the_last_release_unless_listed() -> None:
    released = last_released()
    current = (ROOT / "schema.graphql").read_text()
    unlisted = unlisted_breaking_changes(
        released.read_text(), current, listed_breaking(CHANGELOG.read_text())
    )
    assert not unlisted, (
        f"schema.graphql breaks what {released.stem} offered:\n"
        + "\n".join(f"  {description}" for description in unlisted)
        + "\nKeep the old field or type (deprecate it instead), or, if clients must change, "
        "list each of these lines word for word under '### Breaking' in the "
        "'## [Unreleased]' section of CHANGELOG.md, with what clients should do."
    )
    for description in dangerous_changes(released.read_text(), current):
        warnings.warn(f"since {released.stem}: {description}", stacklevel=1)


def test_every_release_in_the_changelog_has_its_schema() -> None:
    versions = set(RELEASE_HEADING.findall(CHANGELOG.read_text()))
    kept = {path.stem for path in RELEASED.glob("*.graphql")}
    assert versions == kept, (
        f"CHANGELOG.md has releases {sorted(versions)}, schema/released has {sorted(kept)}: "
        "copy schema.graphql to schema/released/<version>.graphql when releasing"
    )
    assert "## [Unreleased]" in CHANGELOG.read_text()


SCHEMA = """
type Query { note(id: ID!): Note, notes: [Note!]! }
type Note { id: ID! title: String! pinned: Boolean! }
enum Kind { A B }
input NoteInput { title: String! kind: Kind = A }
"""


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ((" pinned: Boolean!", ""), "Note.pinned was removed."),
        (("title: String! pinned", "title: Int! pinned"), "Note.title changed type"),
        (("(id: ID!)", "(id: ID!, archived: Boolean!)"), "Query.note(archived:) was added."),
        (("notes: [Note!]!", ""), "Query.notes was removed."),
    ],
)
def test_a_breaking_change_fails_until_it_is_listed(
    change: tuple[str, str], description: str
) -> None:
    current = SCHEMA.replace(*change)
    unlisted = unlisted_breaking_changes(SCHEMA, current, listed="")
    assert len(unlisted) == 1, unlisted
    assert description in unlisted[0], unlisted
    changelog = (
        "# Changelog\n\n## [Unreleased]\n\n### Breaking\n\n"
        f"- {unlisted[0]} Clients read the new field instead.\n\n"
        "### Added\n\n- Something.\n\n## [0.1.0] - 2026-12-01\n"
    )
    assert unlisted_breaking_changes(SCHEMA, current, listed_breaking(changelog)) == []


def test_only_the_unreleased_breaking_section_lists_changes() -> None:
    current = SCHEMA.replace(" pinned: Boolean!", "")
    (description,) = unlisted_breaking_changes(SCHEMA, current, listed="")
    elsewhere = (
        "# Changelog\n\n## [Unreleased]\n\n### Added\n\n"
        f"- {description}\n\n## [0.1.0] - 2026-12-01\n\n### Breaking\n\n- {description}\n"
    )
    assert listed_breaking(elsewhere) == ""
    assert unlisted_breaking_changes(SCHEMA, current, listed_breaking(elsewhere)) == [description]


def test_additions_pass_and_dangerous_changes_are_only_reported() -> None:
    current = SCHEMA.replace("pinned: Boolean! }", "pinned: Boolean! tags: [String!]! }")
    current = current.replace("enum Kind { A B }", "enum Kind { A B C }")
    current = current.replace("(id: ID!)", "(id: ID!, archived: Boolean = false)")
    assert unlisted_breaking_changes(SCHEMA, current, listed="") == []
    assert sorted(dangerous_changes(SCHEMA, current)) == [
        "An optional argument Query.note(archived:) was added.",
        "Enum value Kind.C was added.",
    ]

"""The client contract (``contract/`` in the repository): its documents, by operation name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse, print_ast

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_DIR = ROOT / "contract"


@dataclass(frozen=True)
class Contract:
    directory: Path
    documents: dict[str, str]

    @classmethod
    def load(cls, directory: Path = CONTRACT_DIR) -> Contract:
        documents: dict[str, str] = {}
        for path in sorted((directory / "operations").glob("*.graphql")):
            tree = parse(path.read_text())
            fragments = {
                d.name.value: print_ast(d)
                for d in tree.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            for definition in tree.definitions:
                if isinstance(definition, OperationDefinitionNode) and definition.name:
                    text = print_ast(definition)
                    documents[definition.name.value] = "\n".join(
                        [text, *(fragments[name] for name in _spread_names(text, fragments))]
                    )
        return cls(directory, documents)

    def document_of(self, name: str) -> str:
        return self.documents[name]


def _spread_names(text: str, fragments: dict[str, str]) -> list[str]:
    """The fragments an operation uses, transitively."""
    found: list[str] = []
    pending = [text]
    while pending:
        for name in re.findall(r"\.\.\.\s*([_A-Za-z]\w*)", pending.pop()):
            if name != "on" and name not in found:
                found.append(name)
                pending.append(fragments[name])
    return found

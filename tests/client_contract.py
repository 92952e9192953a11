"""The client contract (``contract/`` in the repository): its documents, by operation name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from resolvers.documents import operations_in

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
            documents.update(operations_in(path.read_text()))
        return cls(directory, documents)

    def document_of(self, name: str) -> str:
        return self.documents[name]

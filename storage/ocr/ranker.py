"""The learned ranker of field candidates: one gradient-boosted model per field, trained by
``bench/train_extractor.py`` and shipped as ONNX files beside this module, run with
onnxruntime (which the local engine already uses).

``model/extractor.json`` names each model's features in order; a model whose features do
not match the candidates' is refused, so a stale file cannot score the wrong columns.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .candidates import FEATURES

if TYPE_CHECKING:
    import onnxruntime

MODEL_FOLDER = Path(__file__).parent / "model"


class Scorer(Protocol):
    """How likely each candidate of a field is its value."""

    def __call__(self, field: str, features: np.ndarray) -> np.ndarray: ...


class OnnxScorer:
    """Scores with the shipped models; each loads on first use, with one thread (a request
    scores a few hundred candidates: threads would cost more than they save)."""

    def __init__(self, folder: Path = MODEL_FOLDER) -> None:
        self._folder = folder
        self._sessions: dict[str, onnxruntime.InferenceSession] = {}
        self._lock = threading.Lock()
        self._names: dict[str, list[str]] | None = None

    def __call__(self, field: str, features: np.ndarray) -> np.ndarray:
        session = self._session(field)
        (name,) = [entry.name for entry in session.get_inputs()]
        outputs = session.run(None, {name: features})
        probabilities = np.asarray(outputs[1])
        return probabilities[:, 1]

    def _session(self, field: str) -> onnxruntime.InferenceSession:
        with self._lock:
            if field not in self._sessions:
                import onnxruntime

                names = self._feature_names().get(field)
                if names != FEATURES[field]:
                    raise RuntimeError(
                        f"the {field} model was trained on other features: train it again"
                    )
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                self._sessions[field] = onnxruntime.InferenceSession(
                    str(self._folder / f"{field}.onnx"),
                    sess_options=options,
                    providers=["CPUExecutionProvider"],
                )
            return self._sessions[field]

    def _feature_names(self) -> dict[str, list[str]]:
        if self._names is None:
            described = json.loads((self._folder / "extractor.json").read_text(encoding="utf-8"))
            self._names = {field: model["features"] for field, model in described["models"].items()}
        return self._names


_default: OnnxScorer | None = None


def shipped() -> OnnxScorer:
    """The scorer of the models in the package, one per process."""
    global _default
    if _default is None:
        _default = OnnxScorer()
    return _default

"""Trains the ranker that picks each receipt field among its candidates, and ships it.

    python bench/train_extractor.py DATASET [--out storage/ocr/model] [--folds 5]

DATASET is a folder of labelled receipts (see ``bench/ocr_dataset.py``): the local engine
reads each image once (cached), every candidate of every field is built from its lines
exactly as the server builds them (``storage.ocr.candidates``), and each candidate is
labelled by matching the key fields: a total or a date by value; the merchant and the
address first by their text, else through the hand-transcribed box lines: the printed
lines that spell the key are found among the box lines, then the engine's rows that read
those lines. One gradient-boosted classifier per field (scikit-learn) learns which
candidates are right; at run time the best-scored candidate of each field wins.

The models are written as ONNX (``FIELD.onnx``) with ``extractor.json``: their features,
settings and the figures they reached, by k-fold cross-validation (each fold scored by
models trained on the others) and on the whole set. Training is deterministic: the same
dataset, versions and settings give the same files.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread: the same sums in the same order

import argparse
import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ocr_dataset import BoxLine, Receipt, collapse, hits, key_date, key_total, receipts

from storage.ocr.candidates import (
    FEATURES,
    HEADER_ROWS,
    Candidate,
    DateValue,
    Page,
    address_candidates,
    date_candidates,
    merchant_candidates,
    total_candidates,
)
from storage.ocr.fields import choose, rows_of
from storage.ocr.merchant import find_merchant

FIELDS = ("total", "date", "merchant", "address")
KEYS = {"total": "total", "date": "date", "merchant": "company", "address": "address"}
SETTINGS: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.1,
    "max_depth": 3,
    "min_samples_leaf": 5,
    "random_state": 0,
}
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "storage/ocr/model"


@dataclass
class Example:
    """One receipt's candidates of every field, each labelled."""

    name: str
    key: dict[str, str]
    candidates: dict[str, list[Candidate]]
    labels: dict[str, list[bool]]


def build(receipt: Receipt) -> Example | None:
    rows = rows_of(receipt.lines)
    if not rows:
        return None
    page = Page.of(rows)
    rule = find_merchant(rows)
    candidates = {
        "total": total_candidates(page),
        "date": date_candidates(page),
        "merchant": merchant_candidates(page, rule.name if rule else None),
        "address": address_candidates(page),
    }
    key = receipt.key
    total, when = key_total(key.get("total", "")), key_date(key.get("date", ""))
    labels = {
        "total": [c.value == total for c in candidates["total"]],
        "date": [_date_matches(c.value, when) for c in candidates["date"]],
        "merchant": _text_labels(page, candidates["merchant"], key.get("company"), receipt),
        "address": _text_labels(page, candidates["address"], key.get("address"), receipt),
    }
    return Example(receipt.name, key, candidates, labels)


def _date_matches(value: object, wanted: object) -> bool:
    assert isinstance(value, DateValue)
    return wanted is not None and wanted in (value.value, value.swapped)


def _text_labels(
    page: Page, candidates: Sequence[Candidate], wanted: str | None, receipt: Receipt
) -> list[bool]:
    """Candidates spelling the key exactly; failing any, those on the rows that read the
    box lines spelling it."""
    target = collapse(wanted)
    if not target:
        return [False] * len(candidates)
    exact = [collapse(str(c.value)) == target for c in candidates]
    if any(exact):
        return exact
    rows = _rows_of(page, _box_span(receipt.boxes, target))
    return [bool(rows) and c.rows == rows for c in candidates]


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.upper(), b.upper(), autojunk=False).ratio()


def _box_span(boxes: Sequence[BoxLine], target: str) -> list[BoxLine]:
    """The consecutive box lines whose joined text is most like the key (or none alike)."""
    best: tuple[float, list[BoxLine]] = (0.0, [])
    for start in range(min(len(boxes), HEADER_ROWS + 6)):
        for end in range(start + 1, min(start + 6, len(boxes)) + 1):
            joined = collapse(" ".join(box.text for box in boxes[start:end]))
            score = _similarity(joined, target)
            if score > best[0]:
                best = (score, list(boxes[start:end]))
    return best[1] if best[0] >= 0.8 else []


def _rows_of(page: Page, span: Sequence[BoxLine]) -> tuple[int, ...]:
    """The engine's rows that read these printed lines: for each line, the header row most
    like it; nothing unless they are consecutive."""
    if not span:
        return ()
    found = []
    header = page.rows[: HEADER_ROWS + 6]
    for box in span:
        scored = [(_similarity(row.text, box.text), index) for index, row in enumerate(header)]
        score, index = max(scored)
        if score < 0.5:
            return ()
        found.append(index)
    rows = tuple(sorted(set(found)))
    return rows if rows == tuple(range(rows[0], rows[-1] + 1)) else ()


# --- models --------------------------------------------------------------------------------


def fit(examples: Sequence[Example], field: str) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    features = [c.features for e in examples for c in e.candidates[field]]
    labels = [label for e in examples for label in e.labels[field]]
    if len(set(labels)) < 2:
        raise SystemExit(f"every {field} candidate is labelled alike: too few receipts")
    model = GradientBoostingClassifier(**SETTINGS)
    model.fit(np.asarray(features, dtype=np.float32), np.asarray(labels, dtype=np.int8))
    return model


class Models:
    """Trained models as the server's scorer: each field's probability of being right."""

    def __init__(self, models: dict[str, Any]) -> None:
        self.models = models

    def __call__(self, field: str, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.models[field].predict_proba(features)[:, 1])


def found_fields(models: dict[str, Any], example: Example) -> dict[str, object]:
    """The fields the models choose, as the server chooses them, keyed as SROIE's."""
    scorer = Models(models)
    chosen = {field: choose(scorer, field, example.candidates[field])[0] for field in FIELDS}
    when = chosen["date"]
    assert when is None or isinstance(when, DateValue)
    return {
        "total": chosen["total"],
        "date": when.value if when else None,
        "company": chosen["merchant"],
        "address": chosen["address"],
    }


def score(models: dict[str, Any], examples: Sequence[Example]) -> dict[str, float]:
    counts = dict.fromkeys(("total", "date", "company", "address"), 0)
    for example in examples:
        for field, hit in hits(found_fields(models, example), example.key).items():
            counts[field] += hit
    return {field: round(count / len(examples), 4) for field, count in counts.items()}


def reachable(examples: Sequence[Example]) -> dict[str, float]:
    """How often some candidate is exactly right: the most any ranker could reach."""
    counts = dict.fromkeys(("total", "date", "company", "address"), 0)
    for example in examples:
        counts["total"] += any(example.labels["total"])
        counts["date"] += any(example.labels["date"])
        for field, key in (("merchant", "company"), ("address", "address")):
            wanted = collapse(example.key.get(key))
            counts[key] += any(collapse(str(c.value)) == wanted for c in example.candidates[field])
    return {field: round(count / len(examples), 4) for field, count in counts.items()}


def folds_of(examples: Sequence[Example], folds: int) -> list[list[Example]]:
    """Every k-th receipt in a fold, by name: the same folds on every run."""
    ordered = sorted(examples, key=lambda e: e.name)
    return [ordered[k::folds] for k in range(folds)]


def cross_validate(examples: Sequence[Example], folds: int) -> dict[str, float]:
    """Each fold scored by models trained on the other folds."""
    parts = folds_of(examples, folds)
    counts = dict.fromkeys(("total", "date", "company", "address"), 0.0)
    for k, held_out in enumerate(parts):
        training = [e for j, part in enumerate(parts) if j != k for e in part]
        models = {field: fit(training, field) for field in FIELDS}
        for field, value in score(models, held_out).items():
            counts[field] += value * len(held_out)
    return {field: round(count / len(examples), 4) for field, count in counts.items()}


def export(models: dict[str, Any], out: Path, description: dict[str, Any]) -> None:
    import sklearn
    from skl2onnx import to_onnx

    out.mkdir(parents=True, exist_ok=True)
    described: dict[str, Any] = {
        "trained_by": "bench/train_extractor.py",
        "scikit_learn": sklearn.__version__,
        "settings": SETTINGS,
        **description,
        "models": {},
    }
    for field, model in models.items():
        sample = np.zeros((1, len(FEATURES[field])), dtype=np.float32)
        onnx_model = to_onnx(model, sample, options={id(model): {"zipmap": False}})
        # skl2onnx lists the operator sets in a set's order, which varies between runs.
        imports = sorted(onnx_model.opset_import, key=lambda opset: opset.domain)
        del onnx_model.opset_import[:]
        onnx_model.opset_import.extend(imports)
        (out / f"{field}.onnx").write_bytes(onnx_model.SerializeToString())
        described["models"][field] = {"features": FEATURES[field]}
    (out / "extractor.json").write_text(json.dumps(described, indent=2) + "\n", encoding="utf-8")


def load_examples(folder: Path, limit: int | None = None) -> list[Example]:
    examples = []
    for receipt in receipts(folder, limit=limit):
        example = build(receipt)
        if example is not None:
            examples.append(example)
    return examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder with img/, key/ and box/")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the models go")
    parser.add_argument("--folds", "-k", type=int, default=5, help="folds of the cross-validation")
    parser.add_argument("--limit", type=int, default=None, help="only the first N receipts")
    args = parser.parse_args()
    examples = load_examples(args.folder, args.limit)
    if len(examples) < args.folds:
        parser.error(f"{len(examples)} receipts are too few for {args.folds} folds")
    crossed = cross_validate(examples, args.folds)
    models = {field: fit(examples, field) for field in FIELDS}
    figures = {
        "receipts": len(examples),
        "folds": args.folds,
        "cross_validated": crossed,
        "whole_set": score(models, examples),
        "reachable": reachable(examples),
    }
    export(models, args.out, figures)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

"""A folder of labelled receipts, the local engine's lines for each (read once, cached),
and the SROIE task 3 scoring of extracted fields.

The folder holds ``img/NAME.jpg``, ``key/NAME.json`` (company, date, address, total as
printed) and, for training, ``box/NAME.csv`` (hand transcriptions of the printed lines
with their boxes: labels, never input). The engine's lines are cached under
``~/.cache/lifegraph/ocr-lines`` (or ``LIFEGRAPH_OCR_CACHE``) by the image's SHA-256 and
the engine's settings, so training and measuring read each image once.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from storage.ocr.layout import TextLine
from storage.ocr.local import DETECTION, LocalOcrEngine
from storage.ocr.recognition import Doubt

FIELDS = ("company", "date", "address", "total")
# The ways the keys write dates; day first, month first only when day first fails.
KEY_DATE_FORMATS = (
    "%d/%m/%Y",
    "%d/%m/%y",
    "%d-%m-%Y",
    "%d-%m-%y",
    "%d.%m.%Y",
    "%Y-%m-%d",
    "%d %b %Y",
    "%d %b %y",
    "%d.%m.%y",
    "%Y/%m/%d",
    "%d-%b-%Y",
    "%d/%b/%Y",
    "%d-%b-%y",
    "%Y%m%d",
    "%d%m%Y",
    "%m/%d/%Y",
)


@dataclass(frozen=True)
class BoxLine:
    """A printed line as transcribed by hand: its text and vertical extent."""

    text: str
    top: float
    bottom: float
    left: float
    right: float


@dataclass(frozen=True)
class Receipt:
    name: str
    image: Path
    key: dict[str, str]
    boxes: list[BoxLine]
    lines: list[TextLine]
    """What the engine read."""
    seconds: float
    """How long the engine took, when it was read now rather than taken from the cache."""


def collapse(text: str | None) -> str:
    return re.sub(r"\s+", " ", (text or "").strip())


def key_date(text: str) -> date | None:
    for pattern in KEY_DATE_FORMATS:
        try:
            return datetime.strptime(collapse(text), pattern).date()
        except ValueError:
            continue
    return None


def key_total(text: str) -> Decimal | None:
    digits = re.sub(r"[^\d.\-]", "", text)
    try:
        return Decimal(digits) if digits else None
    except InvalidOperation:
        return None


def hits(
    found: Mapping[str, object], key: dict[str, str], fields: Sequence[str] = FIELDS
) -> dict[str, bool]:
    """SROIE's exact match of each field: text after trimming and collapsing spaces, the
    total as a number, the date as a calendar date."""
    result = {}
    for field in fields:
        value = found.get(field)
        if field == "date":
            result[field] = value is not None and value == key_date(key.get("date", ""))
        elif field == "total":
            result[field] = value is not None and value == key_total(key.get("total", ""))
        else:
            result[field] = bool(value) and collapse(str(value)) == collapse(key.get(field))
    return result


# Bumped when what is cached of a line changes.
_CACHE_FORMAT = 2


def cache_folder() -> Path:
    configured = os.environ.get("LIFEGRAPH_OCR_CACHE")
    return Path(configured) if configured else Path.home() / ".cache/lifegraph/ocr-lines"


def _engine_tag(engine: LocalOcrEngine) -> str:
    """What the lines depend on besides the image: the engine's settings."""
    settings = json.dumps([engine.max_side, DETECTION, _CACHE_FORMAT], sort_keys=True)
    return "local-" + hashlib.sha256(settings.encode()).hexdigest()[:12]


def read_lines(engine: LocalOcrEngine, image: Path) -> tuple[list[TextLine], float]:
    """The engine's lines for an image, from the cache or read now (then with its time)."""
    data = image.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    cached = cache_folder() / _engine_tag(engine) / f"{digest}.json"
    if cached.is_file():
        raw = json.loads(cached.read_text(encoding="utf-8"))
        return [_line(entry) for entry in raw], 0.0
    started = time.perf_counter()
    lines = engine.recognise(data, "image/jpeg")
    seconds = time.perf_counter() - started
    cached.parent.mkdir(parents=True, exist_ok=True)
    temporary = cached.with_suffix(".tmp")
    temporary.write_text(
        json.dumps([_entry(line) for line in lines]),
        encoding="utf-8",
    )
    temporary.replace(cached)
    return lines, seconds


def _entry(line: TextLine) -> list[object]:
    doubts = [[d.at, d.length, [list(c) for c in d.choices]] for d in line.doubts]
    return [line.text, [list(p) for p in line.box], line.score, doubts]


def _line(entry: list[Any]) -> TextLine:
    text, box, score, doubts = entry
    return TextLine(
        text,
        tuple((x, y) for x, y in box),
        score,
        tuple(Doubt(at, size, tuple(map(tuple, choices))) for at, size, choices in doubts),
    )


def box_lines(path: Path) -> list[BoxLine]:
    if not path.is_file():
        return []
    found = []
    with path.open(encoding="utf-8", errors="replace", newline="") as file:
        for row in csv.reader(file):
            if len(row) < 9:
                continue
            try:
                xs = [float(v) for v in row[0:8:2]]
                ys = [float(v) for v in row[1:8:2]]
            except ValueError:
                continue
            text = ",".join(row[8:])
            found.append(BoxLine(text, min(ys), max(ys), min(xs), max(xs)))
    return found


def receipts(
    folder: Path, *, limit: int | None = None, engine: LocalOcrEngine | None = None
) -> Iterator[Receipt]:
    """Every labelled receipt of the folder, sorted by name, with the engine's lines."""
    engine = engine or LocalOcrEngine()
    images = sorted((folder / "img").glob("*.jpg"))[:limit]
    for number, image in enumerate(images, 1):
        key = json.loads((folder / "key" / f"{image.stem}.json").read_text(encoding="utf-8"))
        lines, seconds = read_lines(engine, image)
        if seconds:
            print(f"read {image.stem} ({number}/{len(images)}) in {seconds:.1f} s", file=sys.stderr)
        boxes = box_lines(folder / "box" / f"{image.stem}.csv")
        yield Receipt(image.stem, image, key, boxes, lines, seconds)

"""Field accuracy of the local OCR engine on a folder of labelled receipts (SROIE task 3).

    python bench/ocr_accuracy.py DIR [--limit N] [--verbose]

DIR holds img/NAME.jpg and key/NAME.json (company, date, address, total as printed). Each
image goes through LocalOcrEngine.read, the pipeline the server runs. A field counts when
it equals the key exactly after trimming and collapsing spaces; the total compares as a
number and the date as a calendar date.

Speed is reported as a ratio to a reference measured in the same run on the same images
(decoding and scaling each image, the step before recognition), so that figures from
machines of different speed or load can be compared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from storage.ocr import OcrError, OcrResult
from storage.ocr.images import load_image
from storage.ocr.local import LocalOcrEngine

FIELDS = ("company", "date", "total")
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
    "%Y%m%d",
    "%m/%d/%Y",
)


@dataclass
class Outcome:
    name: str
    hits: dict[str, bool]
    seconds: float
    reference: float
    result: OcrResult | None
    key: dict[str, str]


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


def score(result: OcrResult | None, key: dict[str, str]) -> dict[str, bool]:
    if result is None:
        return dict.fromkeys(FIELDS, False)
    return {
        "company": collapse(result.merchant_name) == collapse(key.get("company")),
        "date": result.purchased_on == key_date(key.get("date", "")),
        "total": result.total == key_total(key.get("total", "")),
    }


async def run(folder: Path, limit: int | None, verbose: bool) -> list[Outcome]:
    engine = LocalOcrEngine()
    images = sorted((folder / "img").glob("*.jpg"))[:limit]
    outcomes = []
    for image in images:
        key = json.loads((folder / "key" / f"{image.stem}.json").read_text(encoding="utf-8"))
        started = time.perf_counter()
        result: OcrResult | None
        try:
            result = await engine.read(image.read_bytes(), "image/jpeg")
        except OcrError as exc:
            print(f"{image.stem}: {exc}", file=sys.stderr)
            result = None
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        load_image(image.read_bytes(), "image/jpeg")
        reference = time.perf_counter() - started
        outcome = Outcome(image.stem, score(result, key), seconds, reference, result, key)
        outcomes.append(outcome)
        if verbose and not all(outcome.hits.values()):
            report_miss(outcome)
    return outcomes


def report_miss(outcome: Outcome) -> None:
    result = outcome.result
    got = {
        "company": result.merchant_name if result else None,
        "date": result.purchased_on if result else None,
        "total": result.total if result else None,
    }
    misses = [f"{f}: got {got[f]!r}, key {outcome.key.get(f)!r}" for f in FIELDS]
    missed = [m for f, m in zip(FIELDS, misses, strict=True) if not outcome.hits[f]]
    print(f"{outcome.name}: " + "; ".join(missed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder with img/ and key/")
    parser.add_argument("--limit", type=int, default=None, help="only the first N receipts")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every miss")
    args = parser.parse_args()
    outcomes = asyncio.run(run(args.folder, args.limit, args.verbose))
    if not outcomes:
        parser.error(f"no images in {args.folder / 'img'}")
    count = len(outcomes)
    print(f"receipts: {count}")
    for field in FIELDS:
        hits = sum(outcome.hits[field] for outcome in outcomes)
        print(f"{field:8} {hits / count:7.1%}  ({hits}/{count})")
    later = outcomes[1:] or outcomes  # the first read also loads the models
    seconds = statistics.median(o.seconds for o in later)
    reference = statistics.median(o.reference for o in later)
    print(
        f"time per image: {seconds / reference:.1f}x the reference "
        f"(median {seconds:.2f} s against {reference * 1000:.0f} ms to decode and scale it)"
    )


if __name__ == "__main__":
    main()

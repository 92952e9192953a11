"""Field accuracy and speed of the local OCR engine on a folder of labelled receipts
(SROIE task 3).

    python bench/ocr_accuracy.py DIR [--folds 5] [--limit N] [--timed 20] [--verbose]

DIR holds img/NAME.jpg, key/NAME.json (company, date, address, total as printed) and
box/NAME.csv (see ``bench/ocr_dataset.py``). Three figures per field:

- **cross-validated**: the receipts in k folds, each fold read by rankers trained (by
  ``bench/train_extractor.py``'s code) on the other folds only: what to expect on
  receipts the ranker has never seen;
- **shipped**: the rankers in the package, on every receipt, through ``extract_fields``
  as the server runs it (trained on this folder, if it is the training set: an upper
  bound, not a forecast);
- **reachable**: how often some candidate is exactly right, whatever the ranker.

A field counts when it equals the key exactly after trimming and collapsing spaces; the
total compares as a number and the date as a calendar date.

Speed: ``--timed N`` receipts are read again, uncached, by an engine on one thread (one
core), through ``LocalOcrEngine.read``: recognition and extraction together, and
extraction alone. Each is reported as a ratio to a reference measured in the same run on
the same images (decoding and scaling each image, the step before recognition), with the
seconds beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from ocr_dataset import Receipt, hits, receipts
from train_extractor import Example, build, cross_validate, reachable

from storage.ocr import OcrError
from storage.ocr.fields import extract_fields
from storage.ocr.images import load_image
from storage.ocr.local import LocalOcrEngine

FIELDS = ("total", "date", "company", "address")


def shipped(receipts_read: list[Receipt], verbose: bool) -> dict[str, float]:
    counts = dict.fromkeys(FIELDS, 0)
    for receipt in receipts_read:
        try:
            result = extract_fields(receipt.lines, "local")
        except OcrError:
            continue
        found = {
            "total": result.total,
            "date": result.purchased_on,
            "company": result.merchant_name,
            "address": result.address,
        }
        scored = hits(found, receipt.key)
        for field, hit in scored.items():
            counts[field] += hit
        if verbose and not all(scored[f] for f in ("total", "date", "company")):
            missed = [
                f"{f}: got {found[f]!r}, key {receipt.key.get(f)!r}"
                for f in ("total", "date", "company")
                if not scored[f]
            ]
            print(f"{receipt.name}: " + "; ".join(missed))
    return {field: count / len(receipts_read) for field, count in counts.items()}


async def speed(images: list[Path]) -> tuple[float, float, float]:
    """Median seconds per receipt: reading with extraction on one thread, extraction
    alone, and the reference (decoding and scaling the image)."""
    engine = LocalOcrEngine(threads=1)
    engine.load()
    reads, extractions, references = [], [], []
    for image in images:
        data = image.read_bytes()
        started = time.perf_counter()
        load_image(data, "image/jpeg")
        references.append(time.perf_counter() - started)
        started = time.perf_counter()
        await engine.read(data, "image/jpeg")
        reads.append(time.perf_counter() - started)
        lines = engine.recognise(data, "image/jpeg")
        started = time.perf_counter()
        extract_fields(lines, "local")
        extractions.append(time.perf_counter() - started)
    return (
        statistics.median(reads),
        statistics.median(extractions),
        statistics.median(references),
    )


def line(name: str, figures: dict[str, float]) -> str:
    return f"{name:16}" + "".join(f"{figures[f]:>9.1%}" for f in FIELDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder with img/, key/ and box/")
    parser.add_argument("--folds", type=int, default=5, help="folds of the cross-validation")
    parser.add_argument("--limit", type=int, default=None, help="only the first N receipts")
    parser.add_argument("--timed", type=int, default=20, help="receipts read to time (0: none)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list the shipped misses")
    args = parser.parse_args()
    read = list(receipts(args.folder, limit=args.limit))
    if not read:
        parser.error(f"no images in {args.folder / 'img'}")
    examples: list[Example] = [e for e in map(build, read) if e is not None]
    print(f"receipts: {len(read)}")
    print(f"{'':16}" + "".join(f"{f:>9}" for f in FIELDS))
    print(line(f"{args.folds}-fold CV", cross_validate(examples, args.folds)))
    print(line("shipped", shipped(read, args.verbose)))
    print(line("reachable", reachable(examples)))
    if args.timed:
        reading, extracting, reference = asyncio.run(
            speed([receipt.image for receipt in read[: args.timed]])
        )
        print(
            f"time per receipt on one core ({args.timed} receipts, medians): reading and "
            f"extraction {reading:.2f} s = {reading / reference:.1f}x the reference "
            f"({reference * 1000:.0f} ms to decode and scale the image); extraction alone "
            f"{extracting * 1000:.0f} ms = {extracting / reference:.2f}x"
        )


if __name__ == "__main__":
    main()

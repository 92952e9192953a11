"""The field ranker's training script, run on a small folder of rendered receipts: it
trains the same models twice over, and what it ships picks the printed fields."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from receipt_images import Receipt, ReceiptLine, render

from storage.ocr.candidates import FEATURES
from storage.ocr.fields import extract_fields
from storage.ocr.local import LocalOcrEngine
from storage.ocr.ranker import MODEL_FOLDER, OnnxScorer

ROOT = Path(__file__).resolve().parent.parent
SHOPS = [
    ("GREEN LEAF GROCERS SDN BHD", ("NO. 12, JALAN MAWAR 3,", "47300 PETALING JAYA, SELANGOR")),
    ("HARBOUR HARDWARE TRADING", ("LOT 5, JALAN PELABUHAN,", "42000 PORT KLANG, SELANGOR")),
    ("SUNRISE BAKERY ENTERPRISE", ("NO. 8, JALAN SEROJA 2,", "81100 JOHOR BAHRU, JOHOR")),
    ("BLUE OCEAN PHARMACY SDN BHD", ("NO. 21, JALAN BUNGA,", "50450 KUALA LUMPUR")),
]


def receipts() -> list[Receipt]:
    made = []
    for index in range(8):
        merchant, address = SHOPS[index % len(SHOPS)]
        day = date(2024, 1, 3) + timedelta(days=37 * index)
        lines = tuple(
            ReceiptLine(f"ITEM {n}", 1 + (index + n) % 3, Decimal(f"{3 + index + n}.{10 * n:02}"))
            for n in range(1 + index % 3)
        )
        made.append(
            Receipt(
                merchant=merchant,
                address=address,
                purchased_on=day,
                date_text=f"{day:%d/%m/%Y} 1{index}:0{index}",
                lines=lines,
                cash=Decimal("200.00"),
                footer=f"RETURNS UNTIL {day + timedelta(days=30):%d/%m/%Y}",
            )
        )
    return made


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("receipts")
    (folder / "img").mkdir()
    (folder / "key").mkdir()
    for index, receipt in enumerate(receipts()):
        name = f"{index:03}"
        (folder / "img" / f"{name}.jpg").write_bytes(render(receipt, "JPEG"))
        key = {
            "company": receipt.merchant,
            "date": f"{receipt.purchased_on:%d/%m/%Y}",
            "address": " ".join(receipt.address),
            "total": str(receipt.total),
        }
        (folder / "key" / f"{name}.json").write_text(json.dumps(key), encoding="utf-8")
    return folder


def train(dataset: Path, out: Path, cache: Path) -> dict[str, object]:
    environment = {**os.environ, "LIFEGRAPH_OCR_CACHE": str(cache)}
    done = subprocess.run(
        [sys.executable, "bench/train_extractor.py", str(dataset), *("--out", str(out)), "-k2"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures: dict[str, object] = json.loads(done.stdout)
    return figures


def test_training_is_deterministic_and_its_models_read_the_fields(
    dataset: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = train(dataset, tmp_path / "first", cache)
    second = train(dataset, tmp_path / "second", cache)
    assert first == second
    assert first["receipts"] == 8
    files = sorted(path.name for path in (tmp_path / "first").iterdir())
    assert files == ["address.onnx", "date.onnx", "extractor.json", "merchant.onnx", "total.onnx"]
    for name in files:
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes()
    described = json.loads((tmp_path / "first" / "extractor.json").read_text(encoding="utf-8"))
    assert described["models"]["total"]["features"] == FEATURES["total"]

    # A receipt it never saw, read with the models just trained.
    receipt = dataclasses.replace(
        receipts()[1], purchased_on=date(2025, 6, 30), date_text="30/06/2025 09:15"
    )
    lines = LocalOcrEngine().recognise(render(receipt, "JPEG"), "image/jpeg")
    result = extract_fields(lines, "local", OnnxScorer(tmp_path / "first"))
    assert (result.total, result.purchased_on) == (receipt.total, receipt.purchased_on)
    assert result.merchant_name == receipt.merchant
    assert result.address == " ".join(receipt.address)


def test_the_shipped_models_match_the_candidates_features() -> None:
    described = json.loads((MODEL_FOLDER / "extractor.json").read_text(encoding="utf-8"))
    assert {field: model["features"] for field, model in described["models"].items()} == FEATURES
    assert described["trained_by"] == "bench/train_extractor.py"
    assert sum(path.stat().st_size for path in MODEL_FOLDER.iterdir()) < 5_000_000


def test_a_model_trained_on_other_features_is_refused(tmp_path: Path) -> None:
    for path in MODEL_FOLDER.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    described = json.loads((tmp_path / "extractor.json").read_text(encoding="utf-8"))
    described["models"]["total"]["features"] = FEATURES["total"][:-1]
    (tmp_path / "extractor.json").write_text(json.dumps(described), encoding="utf-8")
    with pytest.raises(RuntimeError, match="other features"):
        extract_fields(
            LocalOcrEngine().recognise(render(receipts()[0], "JPEG"), "image/jpeg"),
            "local",
            OnnxScorer(tmp_path),
        )

"""The offline engine: RapidOCR's bundled PP-OCR models, run by OpenVINO.

OpenVINO runs the same ONNX models as onnxruntime, with the same text, in about 60% of
the time on a CPU (measured on one core: 1.05 s a receipt against 1.8 s), which is what
keeps reading and extraction within 1.5 s a receipt on one core."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from .base import OcrError, OcrResult, timed_read
from .fields import TextLine, extract_fields
from .images import MAX_SIDE, load_image
from .tracing import traced_read

if TYPE_CHECKING:
    from rapidocr import RapidOCR

logger = logging.getLogger("lifegraph.ocr")

# The models inside the rapidocr wheel. Naming them keeps RapidOCR from ever fetching one:
# it downloads only when it is given no model path.
_DET_MODEL = "PP-OCRv6_det_small.onnx"
_CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
_REC_MODEL = "PP-OCRv6_rec_small.onnx"


DETECTION: dict[str, object] = {
    "Det.limit_type": "max",
    "Det.limit_side_len": 960,
    "Global.use_cls": False,
}
"""Text is found on the image scaled to at most 960 pixels a side (receipt print stays
well above the detector's smallest text there); recognition reads each line from the full
image. Lines are not classified as upside down: within an upright receipt they never are
(a turned photo is righted by its EXIF orientation), and classifying costs 5% of a read."""


class LocalOcrEngine:
    """Reads receipts on this machine, without network.

    The model loads once, on first use (or on load()); calls take turns on it in a worker
    thread, each using up to `threads` cores (by default all, at most four).
    """

    name = "local"

    def __init__(self, *, threads: int | None = None, max_side: int = MAX_SIDE) -> None:
        self._threads = threads or min(4, _usable_cores())
        self._max_side = max_side
        self._model: RapidOCR | None = None
        self._lock = threading.Lock()

    @traced_read
    async def read(self, image: bytes, content_type: str) -> OcrResult:
        with timed_read(self.name):
            return await asyncio.to_thread(self._read, image, content_type)

    def load(self) -> None:
        """Loads the models now, for a worker that would rather not wait on its first job."""
        with self._lock:
            self._load()

    @property
    def max_side(self) -> int:
        return self._max_side

    def _read(self, image: bytes, content_type: str) -> OcrResult:
        return extract_fields(self.recognise(image, content_type), engine=self.name)

    def recognise(self, data: bytes, content_type: str) -> list[TextLine]:
        """The text lines of an image with their boxes and scores, before any field is
        read from them (training and benchmarks cache these)."""
        from rapidocr.utils.output import RapidOCROutput

        image = load_image(data, content_type, self._max_side)
        with self._lock:
            model = self._load()
            try:
                output = model(image)
            except Exception as exc:
                logger.exception("local OCR failed")
                raise OcrError("The image could not be read.") from exc
        if (
            not isinstance(output, RapidOCROutput)
            or output.txts is None
            or output.boxes is None
            or output.scores is None
        ):
            return []  # no text detected
        return [
            TextLine(
                text=str(text),
                box=tuple((float(x), float(y)) for x, y in box),
                score=float(score),
            )
            for box, text, score in zip(output.boxes, output.txts, output.scores, strict=True)
        ]

    def _load(self) -> RapidOCR:
        if self._model is None:
            import rapidocr

            models = Path(rapidocr.__file__).parent / "models"
            for name in (_DET_MODEL, _CLS_MODEL, _REC_MODEL):
                if not (models / name).is_file():
                    raise RuntimeError(f"rapidocr's bundled model {name} is missing")
            from rapidocr.utils.typings import EngineType

            self._model = rapidocr.RapidOCR(
                params={
                    "Global.log_level": "error",
                    # load_image has downscaled already; RapidOCR must not shrink it again.
                    "Global.max_side_len": self._max_side,
                    **{
                        f"{stage}.{name}": value
                        for stage, model in (
                            ("Det", _DET_MODEL),
                            ("Cls", _CLS_MODEL),
                            ("Rec", _REC_MODEL),
                        )
                        for name, value in (
                            ("model_path", str(models / model)),
                            ("engine_type", EngineType.OPENVINO),
                        )
                    },
                    **DETECTION,
                    "EngineConfig.openvino.inference_num_threads": self._threads,
                }
            )
            # RapidOCR opens each model on first use: one small read opens all three now.
            self._model(_warm_up_image())
        return self._model


def _warm_up_image() -> Image.Image:
    image = Image.new("RGB", (320, 64), "white")
    ImageDraw.Draw(image).text((10, 12), "TOTAL 12.30", fill="black", font_size=32)
    return image


def _usable_cores() -> int:
    """The cores this process may run on (fewer than the machine's in a container)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1

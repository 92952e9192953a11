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

import numpy as np
from PIL import Image, ImageDraw

from .base import OcrError, OcrResult, timed_read
from .fields import TextLine, extract_fields
from .images import MAX_SIDE, load_image
from .recognition import Reading, decode
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
        """The text lines of an image with their boxes, scores and doubts, before any field
        is read from them (training and benchmarks cache these).

        RapidOCR finds the lines; they are read here, by its recogniser, so that the
        frames' probabilities are kept (``recognition``) rather than only the best text."""
        from rapidocr.ch_ppocr_det.utils import TextDetOutput

        image = load_image(data, content_type, self._max_side)
        pixels = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])  # RGB to BGR
        with self._lock:
            model = self._load()
            try:
                found = model(pixels, use_rec=False)
                # Without any line found RapidOCR answers an empty output of another kind.
                boxes = []
                if isinstance(found, TextDetOutput) and found.boxes is not None:
                    boxes = list(found.boxes)
                readings = self._read_lines(model, pixels, boxes)
                least_score = model.cfg.Global.text_score  # what RapidOCR drops
            except Exception as exc:
                logger.exception("local OCR failed")
                raise OcrError("The image could not be read.") from exc
        return [
            TextLine(
                text=reading.text,
                box=tuple((float(x), float(y)) for x, y in box),
                score=reading.score,
                doubts=reading.doubts,
            )
            for box, reading in zip(boxes, readings, strict=True)
            if reading.text.strip() and reading.score >= least_score
        ]

    @staticmethod
    def _read_lines(model: RapidOCR, pixels: np.ndarray, boxes: list[np.ndarray]) -> list[Reading]:
        """Each line's reading, in batches of lines of like widths, as RapidOCR batches
        them (a batch is padded to its widest line, so the same batches give the same
        text)."""
        from rapidocr.utils.process_img import get_rotate_crop_image

        recogniser = model.text_rec
        assert recogniser is not None  # loaded by the warm-up read
        crops = [get_rotate_crop_image(pixels, box.astype(np.float32)) for box in boxes]
        ratios = [crop.shape[1] / crop.shape[0] for crop in crops]
        order = np.argsort(np.array(ratios), kind="stable")
        _, height, width = recogniser.rec_image_shape
        characters = recogniser.postprocess_op.character
        readings: dict[int, Reading] = {}
        size = recogniser.rec_batch_num
        for start in range(0, len(crops), size):
            batch = order[start : start + size]
            widest = max([width / height, *(ratios[i] for i in batch)])
            inputs = np.stack([recogniser.resize_norm_img(crops[i], widest) for i in batch])
            probabilities = recogniser.session(inputs.astype(np.float32))
            for i, frames in zip(batch, probabilities, strict=True):
                readings[int(i)] = decode(frames, characters)
        return [readings[i] for i in range(len(crops))]

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

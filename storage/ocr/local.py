"""The offline engine: RapidOCR's bundled PP-OCR ONNX models on onnxruntime."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from .base import OcrError, OcrResult
from .fields import TextLine
from .images import MAX_SIDE, load_image

if TYPE_CHECKING:
    from rapidocr import RapidOCR

logger = logging.getLogger("lifegraph.ocr")

# The models that ship inside the rapidocr wheel. Naming them explicitly keeps RapidOCR
# from ever fetching a model: it only downloads when given no model path.
_DET_MODEL = "PP-OCRv6_det_small.onnx"
_CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
_REC_MODEL = "PP-OCRv6_rec_small.onnx"


class LocalOcrEngine:
    """Reads receipts on this machine. The model loads on first use; calls take turns on it."""

    name = "local"

    def __init__(self, *, threads: int | None = None, max_side: int = MAX_SIDE) -> None:
        self._threads = threads or min(4, os.cpu_count() or 1)
        self._max_side = max_side
        self._model: RapidOCR | None = None
        self._lock = threading.Lock()

    async def read(self, image: bytes, content_type: str) -> OcrResult:
        lines = await asyncio.to_thread(self._recognise, image, content_type)
        raise NotImplementedError

    def _recognise(self, data: bytes, content_type: str) -> list[TextLine]:
        image = load_image(data, content_type, self._max_side)
        with self._lock:
            model = self._load()
            try:
                output = model(image)
            except Exception as exc:
                logger.exception("local OCR failed")
                raise OcrError("The image could not be read.") from exc
        if output.txts is None or output.boxes is None or output.scores is None:
            return []
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
            self._model = rapidocr.RapidOCR(
                params={
                    "Global.log_level": "warning",
                    # We downscale ourselves; RapidOCR must not shrink the image again.
                    "Global.max_side_len": self._max_side,
                    "Det.model_path": str(models / _DET_MODEL),
                    "Cls.model_path": str(models / _CLS_MODEL),
                    "Rec.model_path": str(models / _REC_MODEL),
                    "EngineConfig.onnxruntime.intra_op_num_threads": self._threads,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                }
            )
        return self._model

"""Receipt OCR: an offline engine (``storage.ocr.local``, RapidOCR) and AWS Textract
(``storage.ocr.textract``), both returning OcrResult. The engines are imported from their
modules, so that a process loads onnxruntime or boto3 only when it uses them."""

from .base import OcrEngine, OcrError, OcrItem, OcrResult, OcrUnavailable

__all__ = ["OcrEngine", "OcrError", "OcrItem", "OcrResult", "OcrUnavailable"]

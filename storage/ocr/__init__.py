"""Receipt OCR engines behind one interface: a local offline engine and AWS Textract."""

from storage.ocr.base import OcrEngine, OcrError, OcrItem, OcrResult

__all__ = ["OcrEngine", "OcrError", "OcrItem", "OcrResult"]

"""Receipts for the tests: the app's renderer (``lifegraph.receipt_images``), and images
no receipt should be read from."""

from __future__ import annotations

import io
from functools import cache

from PIL import Image

from lifegraph.receipt_images import Receipt, ReceiptLine, render

__all__ = ["Receipt", "ReceiptLine", "blank", "pixel_bomb", "render"]


def blank(image_format: str = "PNG") -> bytes:
    """A sheet of paper with nothing on it."""
    buffer = io.BytesIO()
    Image.new("RGB", (600, 800), (250, 250, 248)).save(buffer, format=image_format)
    return buffer.getvalue()


@cache
def pixel_bomb() -> bytes:
    """A 9400 x 9400 PNG of a few hundred KB: 88 megapixels to decode."""
    buffer = io.BytesIO()
    Image.new("1", (9400, 9400), 1).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()

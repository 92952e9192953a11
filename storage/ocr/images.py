"""Turning uploaded bytes (JPEG, PNG, WebP, HEIC or PDF) into one RGB image to OCR."""

from __future__ import annotations

import io
import threading

from PIL import Image, ImageOps, UnidentifiedImageError

from .base import OcrError

# The longest side we OCR at. Receipt text stays legible well below phone-camera
# resolutions, and detection time grows with the pixel count.
MAX_SIDE = 2000
# Larger images are refused rather than decoded (a 48-megapixel photo still passes).
MAX_PIXELS = 90_000_000
# Scanned PDFs are rendered at most at this resolution.
PDF_MAX_DPI = 300

# PDFium is not thread-safe: one rendering at a time in the process.
_pdfium_lock = threading.Lock()
_heif_lock = threading.Lock()
_heif_registered = False


def load_image(data: bytes, content_type: str, max_side: int = MAX_SIDE) -> Image.Image:
    """Decodes the upload, applies its EXIF orientation, flattens it to RGB and downscales.

    Raises OcrError when the bytes cannot be decoded.
    """
    if content_type == "application/pdf":
        image = _render_pdf(data, max_side)
    else:
        if content_type == "image/heic":
            _register_heif()
        image = _open_image(data, max_side)
    image = _to_rgb(image)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def _open_image(data: bytes, max_side: int) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise OcrError("The image is too large.")
        # JPEG can decode straight at a reduced scale, much faster for large photos.
        image.draft("RGB", (max_side, max_side))
        image.load()
        return ImageOps.exif_transpose(image)
    except Image.DecompressionBombError as exc:
        raise OcrError("The image is too large.") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise OcrError("The file is not a readable image.") from exc


def _render_pdf(data: bytes, max_side: int) -> Image.Image:
    import pypdfium2  # type: ignore[import-untyped]

    with _pdfium_lock:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            raise OcrError("The PDF could not be opened.") from exc
        try:
            if len(document) == 0:
                raise OcrError("The PDF has no pages.")
            page = document[0]
            width, height = page.get_size()
            if width <= 0 or height <= 0:
                raise OcrError("The PDF page is empty.")
            scale = min(max_side / max(width, height), PDF_MAX_DPI / 72)
            bitmap = page.render(scale=scale)
            image: Image.Image = bitmap.to_pil()
            image.load()
            return image
        except pypdfium2.PdfiumError as exc:
            raise OcrError("The PDF could not be rendered.") from exc
        finally:
            document.close()


def _register_heif() -> None:
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            import pillow_heif

            pillow_heif.register_heif_opener()
            _heif_registered = True


def _to_rgb(image: Image.Image) -> Image.Image:
    """Flattens transparency onto white paper, as a receipt with a transparent background
    should read as dark text on white rather than on black."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGB", rgba.size, (255, 255, 255))
        paper.paste(rgba, mask=rgba.getchannel("A"))
        return paper
    return image.convert("RGB")

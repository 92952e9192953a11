"""Turning uploaded bytes (JPEG, PNG, WebP, HEIC or PDF) into one RGB image to OCR."""

from __future__ import annotations

import io
import threading
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from .base import OcrError

# The longest side we OCR at. Receipt text stays legible well below phone-camera
# resolutions, and detection time grows with the pixel count.
MAX_SIDE = 2000
# The most pixels decoded for one image, bounding a read's memory (3 bytes a pixel) and
# time. JPEG decodes straight at a reduced scale, so only its reduced size counts: a
# 100-megapixel photo passes; a PNG, WebP or HEIC is decoded whole, so its own size does.
MAX_DECODED_PIXELS = 50_000_000
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


def pixel_problem(data: bytes, content_type: str, max_side: int = MAX_SIDE) -> str | None:
    """Why the image would cost too much to decode, read from its header alone; None when
    it is within the budget, unreadable (reading it will say so), or a PDF (rendered at a
    bounded size)."""
    if content_type == "application/pdf":
        return None
    if content_type == "image/heic":
        _register_heif()
    try:
        _opened(data, max_side)
    except OcrError as error:
        return str(error) if str(error) == _too_many_pixels() else None
    return None


def _opened(data: bytes, max_side: int) -> Image.Image:
    """The image opened but not decoded, at the scale it will decode at."""
    try:
        with warnings.catch_warnings():
            # Pillow's own warning threshold; the budget below is ours.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        # JPEG can decode straight at a reduced scale, much faster for large photos.
        image.draft("RGB", (max_side, max_side))
    except Image.DecompressionBombError as exc:
        raise OcrError(_too_many_pixels()) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise OcrError("The file is not a readable image.") from exc
    if image.width * image.height > MAX_DECODED_PIXELS:
        raise OcrError(_too_many_pixels())
    return image


def _too_many_pixels() -> str:
    return f"The image has more than {MAX_DECODED_PIXELS // 1_000_000} megapixels."


def _open_image(data: bytes, max_side: int) -> Image.Image:
    image = _opened(data, max_side)
    try:
        image.load()
        return ImageOps.exif_transpose(image)
    except Image.DecompressionBombError as exc:
        raise OcrError(_too_many_pixels()) from exc
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

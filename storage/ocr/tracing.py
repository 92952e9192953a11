"""A span around each image an engine reads, through OpenTelemetry's API alone: a no-op
unless the process has started tracing. The span's duration is the read's, waiting for
the model included."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from opentelemetry import trace

from .base import OcrEngine, OcrResult

Read = TypeVar("Read", bound=Callable[..., Coroutine[Any, Any, OcrResult]])


def traced_read(read: Read) -> Read:
    """``ocr.read``: the engine, the image's type and bytes; then what was read. An
    :class:`~storage.ocr.OcrError` or :class:`~storage.ocr.OcrUnavailable` is recorded
    on the span as it passes."""

    @functools.wraps(read)
    async def traced(engine: OcrEngine, image: bytes, content_type: str) -> OcrResult:
        tracer = trace.get_tracer(__name__)
        attributes: dict[str, str | int] = {
            "lifegraph.ocr.engine": engine.name,
            "lifegraph.ocr.content_type": content_type,
            "lifegraph.ocr.image.bytes": len(image),
        }
        with tracer.start_as_current_span("ocr.read", attributes=attributes) as span:
            result = await read(engine, image, content_type)
            span.set_attribute("lifegraph.ocr.items", len(result.items))
            span.set_attribute("lifegraph.ocr.confidence", result.confidence)
            return result

    # The engine's own signature, that OcrEngine's protocol matches by its names.
    return cast(Read, traced)

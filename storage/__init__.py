"""The outside services for uploaded files: where they are kept, and how they are read.

Keeping: :class:`ObjectStore`, implemented by :mod:`storage.s3` (production) and by
:mod:`storage.local` with :mod:`storage.local_routes` (a folder served by the app, the
embedded default). Reading: :mod:`storage.ocr`, the receipt OCR engines (RapidOCR offline,
AWS Textract) and the extraction of a receipt's fields from what they read. Each
implementation is imported from its own module, so that a process loads boto3 or
onnxruntime only when it uses them. Nothing here touches the database.
"""

from storage.objects import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    PresignedPost,
    validate_key,
)

__all__ = ["ObjectInfo", "ObjectNotFound", "ObjectStore", "PresignedPost", "validate_key"]

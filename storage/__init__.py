"""Object storage for uploaded files (receipt and note images).

The interface lives here; the implementations are :mod:`storage.s3` (production) and
:mod:`storage.local` with :mod:`storage.local_routes` (the embedded default), imported
from their modules so that boto3 loads only where S3 is used.
"""

from storage.objects import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    PresignedPost,
    validate_key,
)

__all__ = ["ObjectInfo", "ObjectNotFound", "ObjectStore", "PresignedPost", "validate_key"]

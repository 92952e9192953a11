"""Download links for stored images, signed once and handed out again while they stay
valid long enough: a page of 50 receipts signs nothing after its first read, and an
image keeps one URL for minutes, so the apps' image caches hit."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from storage.objects import MAX_EXPIRES_IN, ObjectStore


class DownloadLinks:
    """Links are signed for ``ttl + reuse_seconds`` and reused for ``reuse_seconds``, so
    every link handed out is valid for at least ``ttl`` more seconds."""

    def __init__(
        self,
        reuse_seconds: int = 240,
        size: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reuse = reuse_seconds
        self._size = size
        self._clock = clock
        self._links: OrderedDict[tuple[str, int], tuple[str, float]] = OrderedDict()

    async def urls(self, store: ObjectStore, keys: Sequence[str], ttl: int) -> list[str]:
        now = self._clock()
        found: dict[str, str] = {}
        for key in keys:
            entry = self._links.get((key, ttl))
            if entry is not None and entry[1] > now:
                found[key] = entry[0]
        missing = list(dict.fromkeys(key for key in keys if key not in found))
        if missing:
            lifetime = min(ttl + self._reuse, MAX_EXPIRES_IN)
            signed = await store.presigned_get_many(missing, expires_in=lifetime)
            reuse_until = now + lifetime - ttl
            for key, url in zip(missing, signed, strict=True):
                found[key] = url
                self._links[(key, ttl)] = (url, reuse_until)
                self._links.move_to_end((key, ttl))
            while len(self._links) > self._size:
                self._links.popitem(last=False)
        return [found[key] for key in keys]

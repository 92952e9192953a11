"""Download links: reused while they have at least the asked lifetime left."""

from __future__ import annotations

from collections.abc import Sequence

from resolvers.links import DownloadLinks


class Signer:
    """Signs links that say when they were signed and for how long."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.calls: list[list[str]] = []

    async def presigned_get_many(self, keys: Sequence[str], *, expires_in: int) -> list[str]:
        self.calls.append(list(keys))
        return [f"{key}?signed={self.clock[0]}&for={expires_in}" for key in keys]


async def test_a_link_is_reused_while_it_stays_valid_long_enough() -> None:
    now = [1000.0]
    signer = Signer(now)
    links = DownloadLinks(reuse_seconds=240, clock=lambda: now[0])
    first = await links.urls(signer, ["a", "b", "a"], ttl=300)  # type: ignore[arg-type]
    assert first == ["a?signed=1000.0&for=540", "b?signed=1000.0&for=540", first[0]]
    assert signer.calls == [["a", "b"]]

    now[0] += 239  # signed for 540 s: 301 s left, still at least the 300 asked
    assert await links.urls(signer, ["b", "a"], ttl=300) == [first[1], first[0]]  # type: ignore[arg-type]
    assert len(signer.calls) == 1

    now[0] += 2  # 299 s left: too little, signed again
    again = await links.urls(signer, ["a"], ttl=300)  # type: ignore[arg-type]
    assert again == ["a?signed=1241.0&for=540"]
    assert signer.calls[-1] == ["a"]


async def test_links_of_another_lifetime_are_signed_apart() -> None:
    now = [0.0]
    signer = Signer(now)
    links = DownloadLinks(clock=lambda: now[0])
    short = await links.urls(signer, ["a"], ttl=60)  # type: ignore[arg-type]
    long = await links.urls(signer, ["a"], ttl=600)  # type: ignore[arg-type]
    assert short != long
    assert len(signer.calls) == 2


async def test_the_cache_is_bounded() -> None:
    now = [0.0]
    signer = Signer(now)
    links = DownloadLinks(size=3, clock=lambda: now[0])
    await links.urls(signer, ["a", "b", "c", "d"], ttl=60)  # type: ignore[arg-type]
    await links.urls(signer, ["a"], ttl=60)  # type: ignore[arg-type]
    assert signer.calls[-1] == ["a"]  # the oldest was let go

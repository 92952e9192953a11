"""Choosing among the recogniser's readings of a word: the one that spells a word.

Where the recogniser hesitated (``recognition.Doubt``), a word may read otherwise. A
reading is taken instead of the first when the first is not a known word and the other is
(``NART`` where the frame also saw an M: ``MART``; ``HARDWARÉ``: ``HARDWARE``), or when the
first puts a digit among letters and the other does not (``FO0DICIOUS``, ``1DEA``), and the
recogniser found it at least ``LEAST_RATIO`` as likely (an accent it doubted costs nothing).
Nothing else is changed: names that are no word (``AEON``) keep the reading the recogniser
liked best, and so do amounts and punctuation.

The known words are the most frequent words of the languages written in Latin letters, as
wordfreq counts them (``bench/build_lexicon.py`` writes ``model/words.u64``).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import unicodedata
from collections.abc import Container, Iterable, Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np

from .layout import TextLine
from .recognition import Doubt

WORDS = Path(__file__).parent / "model" / "words.u64"
# How much less likely than the first reading another may be, and still be taken.
LEAST_RATIO = 0.1
# The doubts of one word that are weighed (the most doubtful), to bound the readings tried.
_MOST_DOUBTS = 5
_TOKEN = re.compile(r"\S+")
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_NUMBER = re.compile(r"\d[.,:/-]?\d")


class Lexicon:
    """A set of words held as their sorted 64-bit hashes (BLAKE2b): 4 MB for the shipped
    half million, loaded at once, where a set of Python strings takes over 90 MB and a
    second to build. Two words sharing a hash are one chance in 2^64 / 10^6."""

    def __init__(self, hashes: np.ndarray) -> None:
        self._hashes = hashes

    @classmethod
    def of(cls, words: Iterable[str]) -> Lexicon:
        return cls(np.unique(np.fromiter(map(_hash, words), dtype=np.uint64)))

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        return cls(np.fromfile(path, dtype="<u8"))

    def save(self, path: Path) -> None:
        self._hashes.astype("<u8").tofile(path)

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        wanted = np.uint64(_hash(word))
        at = int(np.searchsorted(self._hashes, wanted))
        return at < len(self._hashes) and self._hashes[at] == wanted

    def __len__(self) -> int:
        return len(self._hashes)


def _hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


@cache
def known_words() -> Lexicon:
    return Lexicon.load(WORDS)


def respelled(line: TextLine, known: Container[str] | None = None) -> TextLine:
    """The line with each doubtful word read as the likeliest reading that ranks higher
    (a known word above an unknown one, letters above letters mixed with a digit)."""
    if not line.doubts:
        return line
    weighed = [doubt for doubt in map(_of_letters, line.doubts) if len(doubt.choices) > 1]
    if not weighed:
        return line
    words = known_words() if known is None else known
    text = line.text
    pieces: list[str] = []
    done = 0
    for token in _TOKEN.finditer(text):
        start, end = token.span()
        doubts = [d for d in weighed if start <= d.at and d.at + d.length <= end]
        if not doubts:
            continue
        better = _better_reading(text, start, end, doubts, words)
        if better is not None:
            pieces.append(text[done:start])
            pieces.append(better)
            done = end
    if not pieces:
        return line
    pieces.append(text[done:])
    return replace(line, text="".join(pieces))


def _of_letters(doubt: Doubt) -> Doubt:
    """The doubt between letters and digits only: punctuation and spaces are kept as read
    (a word is not made by dropping its apostrophe or splitting it)."""
    first = doubt.choices[0][0]
    if first and not first.isalnum():
        return replace(doubt, choices=doubt.choices[:1])
    return replace(doubt, choices=tuple(c for c in doubt.choices if not c[0] or c[0].isalnum()))


def _penalty(doubt: Doubt, pick: int) -> float:
    """How much less likely the recogniser found this choice (a log ratio). A letter that
    differs from the first only by its accent costs nothing: the multilingual recogniser
    spreads one glyph over its accented forms, and the mark is what it most often adds."""
    (first, likelihood), (choice, probability) = doubt.choices[0], doubt.choices[pick]
    if choice and first and _base(choice) == _base(first):
        return 0.0
    return math.log(probability / likelihood)


def _base(letter: str) -> str:
    return unicodedata.normalize("NFD", letter)[0].lower()


def _better_reading(
    text: str, start: int, end: int, doubts: Sequence[Doubt], words: Container[str]
) -> str | None:
    first = text[start:end]
    if _rank(first, words) < 0 or _NUMBER.search(first):
        return None  # amounts, dates, codes: read as the recogniser liked best
    doubts = sorted(doubts, key=lambda d: d.choices[0][1])[:_MOST_DOUBTS]
    doubts.sort(key=lambda d: (d.at, d.length))
    best: tuple[int, float, str] | None = None
    least = math.log(LEAST_RATIO)
    for picks in itertools.product(*(range(len(d.choices)) for d in doubts)):
        if not any(picks):
            continue
        ratio = sum(_penalty(d, k) for d, k in zip(doubts, picks, strict=True))
        if ratio < least:
            continue
        reading = _spelled(text, start, end, doubts, picks)
        rank = _rank(reading, words)
        if rank > _rank(first, words) and (best is None or (rank, ratio) > best[:2]):
            best = (rank, ratio, reading)
    return best[2] if best else None


def _spelled(text: str, start: int, end: int, doubts: Sequence[Doubt], picks: Sequence[int]) -> str:
    parts = []
    at = start
    for doubt, pick in zip(doubts, picks, strict=True):
        parts.append(text[at : doubt.at])
        parts.append(doubt.choices[pick][0])
        at = doubt.at + doubt.length
    parts.append(text[at:end])
    return "".join(parts)


def _rank(token: str, words: Container[str]) -> int:
    """2 for a known word, 1 for other letters, 0 for letters with a digit among them, -1
    for anything else (numbers, codes)."""
    core = _EDGES.sub("", token)
    if len(core) >= 3 and core.isalpha() and core.lower() in words:
        return 2
    alphanumeric = re.sub(r"[\W_]", "", core)
    if alphanumeric.isalpha():
        return 1
    letters = sum(c.isalpha() for c in alphanumeric)
    digits = sum(c.isdigit() for c in alphanumeric)
    if letters >= 2 and 0 < digits <= max(1, letters // 3) and not alphanumeric[-1].isdigit():
        return 0
    return -1

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextLine:
    """One piece of recognised text: its four corners (clockwise from top left) and score."""

    text: str
    box: tuple[tuple[float, float], ...]
    score: float

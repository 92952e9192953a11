"""Grouping recognised text pieces into the printed rows of a receipt."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from .recognition import Doubt


@dataclass(frozen=True)
class TextLine:
    """One piece of recognised text: its four corners (clockwise from top left), score,
    and where the recogniser could have read it otherwise (engines that say)."""

    text: str
    box: tuple[tuple[float, float], ...]
    score: float
    doubts: tuple[Doubt, ...] = ()


@dataclass(frozen=True)
class Piece:
    """A text piece in deskewed page coordinates."""

    text: str
    score: float
    left: float
    right: float
    top: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass
class Row:
    """Pieces printed side by side on one row, left to right."""

    pieces: list[Piece] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(piece.text for piece in self.pieces)

    @property
    def top(self) -> float:
        return min(piece.top for piece in self.pieces)

    @property
    def bottom(self) -> float:
        return max(piece.bottom for piece in self.pieces)

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def height(self) -> float:
        return statistics.median(piece.height for piece in self.pieces)

    @property
    def score(self) -> float:
        return statistics.fmean(piece.score for piece in self.pieces)


def group_rows(lines: Sequence[TextLine]) -> list[Row]:
    """Rows of text top to bottom, after undoing the photo's overall tilt."""
    pieces = _deskew(lines)
    rows: list[Row] = []
    for piece in sorted(pieces, key=lambda p: p.middle):
        row = _matching_row(rows, piece)
        if row is None:
            rows.append(Row([piece]))
        else:
            row.pieces.append(piece)
    for row in rows:
        row.pieces.sort(key=lambda p: p.left)
    rows.sort(key=lambda r: r.middle)
    return rows


def _matching_row(rows: list[Row], piece: Piece) -> Row | None:
    """The recent row this piece sits on: their vertical middles lie within half a height."""
    for row in reversed(rows[-4:]):
        if any(_overlap(piece, other) for other in row.pieces):
            continue
        if abs(row.middle - piece.middle) < 0.5 * min(row.height, piece.height):
            return row
    return None


def _overlap(a: Piece, b: Piece) -> bool:
    """Whether two pieces share much of their width, so cannot sit side by side."""
    shared = min(a.right, b.right) - max(a.left, b.left)
    return shared > 0.3 * min(a.right - a.left, b.right - b.left)


def _deskew(lines: Sequence[TextLine]) -> list[Piece]:
    angles = [_angle(line.box) for line in lines if _is_wide(line.box)]
    angle = statistics.median(angles) if angles else 0.0
    cos, sin = math.cos(-angle), math.sin(-angle)
    pieces = []
    for line in lines:
        xs = [x * cos - y * sin for x, y in line.box]
        ys = [x * sin + y * cos for x, y in line.box]
        pieces.append(
            Piece(
                text=line.text.strip(),
                score=line.score,
                left=min(xs),
                right=max(xs),
                top=min(ys),
                bottom=max(ys),
            )
        )
    return [piece for piece in pieces if piece.text]


def _angle(box: tuple[tuple[float, float], ...]) -> float:
    (x0, y0), (x1, y1) = box[0], box[1]
    return math.atan2(y1 - y0, x1 - x0)


def _is_wide(box: tuple[tuple[float, float], ...]) -> bool:
    (x0, y0), (x1, y1), _, (x3, y3) = box[:4]
    return math.hypot(x1 - x0, y1 - y0) > 3 * math.hypot(x3 - x0, y3 - y0)

"""Turning the recogniser's per-frame character probabilities into text, keeping the
places where it hesitated.

The recogniser (a CTC model) gives, for each narrow frame of a text line, a probability
for every character and for "nothing here" (the blank). Greedy decoding keeps each frame's
likeliest symbol, merges repeats and drops blanks; that is the line's text. Where the
likeliest symbol was not clearly likelier than the rest, the runners-up are kept as a
``Doubt``: a later step (``spelling``) may prefer one of them when it spells a word and the
first choice does not ("NART" where the frame also saw an M).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# A frame whose best symbol is under this probability is a doubt.
DOUBTFUL = 0.9
# Runners-up less likely than this are not kept.
LEAST_LIKELY = 0.02
_CHOICES = 3
_BLANK = 0


@dataclass(frozen=True)
class Doubt:
    """Where the text could read otherwise: ``text[at:at + length]`` (one character, or
    none for a place between two) and its readings with their probabilities, the chosen
    one first; "" is no character."""

    at: int
    length: int
    choices: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Reading:
    text: str
    score: float
    """The mean probability of the characters read, as PaddleOCR scores a line."""
    doubts: tuple[Doubt, ...]


def decode(probabilities: np.ndarray, characters: Sequence[str]) -> Reading:
    """One line's greedy CTC reading from its (frames x symbols) probabilities; symbol 0
    is the blank."""
    best = probabilities.argmax(axis=1)
    best_probability = probabilities[np.arange(len(best)), best]
    text: list[str] = []
    kept: list[float] = []
    doubts: list[Doubt] = []
    previous = _BLANK
    for frame, symbol in enumerate(best):
        if symbol != _BLANK and symbol != previous:
            if best_probability[frame] < DOUBTFUL:
                choices = _choices(probabilities[frame], characters, symbol)
                doubts.append(Doubt(len(text), 1, choices))
            text.append(characters[symbol])
            kept.append(float(best_probability[frame]))
        elif symbol == _BLANK and best_probability[frame] < DOUBTFUL:
            inserted = _inserted(probabilities[frame], characters, text, best, frame)
            if inserted is not None:
                doubts.append(Doubt(len(text), 0, inserted))
        previous = symbol
    score = float(np.mean(kept)) if kept else 0.0
    return Reading("".join(text), score, tuple(_merged(doubts)))


def _choices(
    frame: np.ndarray, characters: Sequence[str], chosen: int
) -> tuple[tuple[str, float], ...]:
    order = np.argsort(-frame, kind="stable")[:_CHOICES]
    choices = [(characters[chosen], round(float(frame[chosen]), 3))]
    for symbol in order:
        if symbol != chosen and frame[symbol] >= LEAST_LIKELY:
            reading = "" if symbol == _BLANK else characters[symbol]
            choices.append((reading, round(float(frame[symbol]), 3)))
    return tuple(choices)


def _inserted(
    frame: np.ndarray,
    characters: Sequence[str],
    text: Sequence[str],
    best: np.ndarray,
    index: int,
) -> tuple[tuple[str, float], ...] | None:
    """The characters a blank frame might have held instead. A character equal to the one
    before or after would merge with it, so it adds nothing."""
    order = np.argsort(-frame, kind="stable")[:_CHOICES]
    after = next((int(s) for s in best[index + 1 :] if s != _BLANK), _BLANK)
    before = text[-1] if text else None
    choices = [
        (characters[symbol], round(float(frame[symbol]), 3))
        for symbol in order
        if symbol != _BLANK
        and frame[symbol] >= LEAST_LIKELY
        and characters[symbol] not in (before, characters[after] if after else None)
    ]
    if not choices:
        return None
    return (("", round(float(frame[_BLANK]), 3)), *choices)


def _merged(doubts: list[Doubt]) -> list[Doubt]:
    """One doubt per place between characters: of several blank frames there, the one
    likeliest to hold a character."""
    merged: list[Doubt] = []
    for doubt in doubts:
        last = merged[-1] if merged else None
        if last and doubt.length == 0 and last.length == 0 and last.at == doubt.at:
            if doubt.choices[0][1] < last.choices[0][1]:
                merged[-1] = doubt
            continue
        merged.append(doubt)
    return merged

"""Progress bars for the long commands (``demo``, ``receipts reprocess``), drawn by rich."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ProgressBars:
    """One bar per named task: ``start(task, total)``, then ``advance(task, steps)``."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    @property
    def console(self) -> Console:
        """Prints above the bars while they are drawn."""
        return self._progress.console

    def start(self, task: str, total: int) -> None:
        if task in self._tasks:
            self._progress.reset(self._tasks[task], total=total)
        else:
            self._tasks[task] = self._progress.add_task(task, total=total)

    def advance(self, task: str, steps: int = 1) -> None:
        if task not in self._tasks:
            self._tasks[task] = self._progress.add_task(task, total=None)
        self._progress.advance(self._tasks[task], steps)


@contextlib.contextmanager
def progress_bars(console: Console) -> Iterator[ProgressBars]:
    """Bars drawn on ``console`` until the block ends. Meanwhile only warnings and errors
    are logged: a line for each step (a job queued, a receipt read) would break the bars."""
    columns = (
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        with Progress(*columns, console=console) as progress:
            yield ProgressBars(progress)
    finally:
        root.setLevel(level)

"""Progress bars on the terminal for the command line (and the benchmarks): ``hub.progress.Progress``
drawn with tqdm. The operations never import tqdm; whoever runs them at a terminal hands them this."""

from __future__ import annotations

from typing import Never

from tqdm import tqdm


class ConsoleProgress:
    """One bar per phase, on stderr."""

    def __init__(self) -> None:
        self._bar: tqdm[Never] | None = None  # a bar over no iterable: tqdm's stubs type it so

    def begin(self, task: str, total: int | None, unit: str) -> None:
        self.end()
        self._bar = tqdm(total=total, desc=task, unit=f" {unit}", unit_scale=total is None)

    def advance(self, done: int = 1, note: str | None = None) -> None:
        if self._bar is not None:
            if note is not None:
                self._bar.set_postfix_str(note, refresh=False)
            self._bar.update(done)

    def end(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

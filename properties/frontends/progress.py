"""The status `kvcheck` shows while it runs: a live line on a terminal, heartbeats in a CI log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kvcheck.machine.coverage import Coverage


class Progress:
    """A live status line on a terminal; off a terminal (a CI log), a heartbeat line every
    `HEARTBEAT` seconds, so a long run visibly lives."""

    HEARTBEAT = 10.0

    def __init__(self, stream: object, enabled: bool, *, terminal: bool = True):
        self._stream = stream
        self._enabled = enabled
        self._terminal = terminal
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, name: str, coverage: Coverage, budget: float) -> None:
        """Show `name`'s counters until `stop`."""
        began = time.monotonic()
        self.start_status(
            lambda: (
                f"{name}: {coverage.examples} examples, {coverage.steps} steps, "
                f"{time.monotonic() - began:4.0f}/{budget:.0f}s"
            )
        )

    def start_status(self, status: Callable[[], str]) -> None:
        """Show what `status` returns, asked afresh at every tick, until `stop`."""
        if not self._enabled:
            return
        interval = 0.25 if self._terminal else self.HEARTBEAT

        def tick() -> None:
            while not self._stop.wait(interval):
                text = status()
                self._write(f"\r{text} " if self._terminal else f"kvcheck: {text}\n")

        self._stop.clear()
        self._thread = threading.Thread(target=tick, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Clear the status line."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            if self._terminal:
                self._write("\r\033[K")

    def _write(self, text: str) -> None:
        self._stream.write(text)  # type: ignore[attr-defined]
        self._stream.flush()  # type: ignore[attr-defined]

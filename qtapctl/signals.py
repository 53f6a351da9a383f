"""Clean up on SIGTERM/SIGINT/SIGHUP: temporary trees and files never outlive a stopped run.

Python runs `finally` blocks and context exits on an exception, not on a signal's default
action; so while a command holds temporary state, these signals raise `SystemExit` (status
128 + signal number, as a shell reports a signal) in the main thread and the cleanup runs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def exit_cleanly_on_signals() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set from the main thread; a caller there owns them
        return
    previous = {sig: signal.signal(sig, _exit) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

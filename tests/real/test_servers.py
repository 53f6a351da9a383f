"""The servers these tests start listen on 127.0.0.1 only and do not outlive the code that
started them, even when it fails."""

from __future__ import annotations

import os
import socket
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from tests.real.fake_kube_api import fake_kube_api
from tests.real.servers import LOOPBACK, moto_server, openbao_dev_server

pytestmark = pytest.mark.real


class _SimulatedTestError(Exception):
    pass


def _accepts_connections(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((LOOPBACK, port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _fail_while_running(server: AbstractContextManager[Any], url_of: str) -> tuple[Any, int]:
    """Enter `server`, check it listens on 127.0.0.1, then fail as a test would; return the
    server's handle and port for checks after the failure."""
    seen: dict[str, Any] = {}

    def run() -> None:
        with server as running:
            url = getattr(running, url_of)
            seen["server"], seen["port"] = running, int(url.rsplit(":", 1)[1])
            assert url.split("://")[1].startswith(f"{LOOPBACK}:"), url
            assert _accepts_connections(seen["port"])
            raise _SimulatedTestError

    with pytest.raises(_SimulatedTestError):
        run()
    return seen["server"], seen["port"]


def test_openbao_is_stopped_by_pid_when_the_test_fails(tmp_path: Path) -> None:
    bao, port = _fail_while_running(openbao_dev_server(tmp_path), "address")
    assert not _pid_alive(bao.pid), f"bao (pid {bao.pid}) is still running"
    assert not _accepts_connections(port)


def test_moto_is_stopped_when_the_test_fails() -> None:
    _, port = _fail_while_running(moto_server(), "endpoint")
    assert not _accepts_connections(port)


def test_the_kubernetes_api_stand_in_is_stopped_when_the_test_fails(tmp_path: Path) -> None:
    _, port = _fail_while_running(fake_kube_api(tmp_path), "host")
    assert not _accepts_connections(port)

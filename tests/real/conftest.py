"""Fixtures for the real-service tests: an OpenBao dev server, a moto server and a stand-in for
the Kubernetes TokenReview API, each on a free port of 127.0.0.1, started once per session and
stopped by the fixture that started it, whatever the tests did. State is reset before each
test that uses a server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import hvac
import pytest

from tests.real import vault_checks
from tests.real.aws_checks import Aws
from tests.real.fake_kube_api import FakeKubeApi, fake_kube_api
from tests.real.servers import Moto, OpenBao, moto_server, openbao_dev_server

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(scope="session", autouse=True)
def _loopback_only() -> Iterator[None]:
    """These tests talk to 127.0.0.1 only; no proxy from the environment may carry that
    traffic elsewhere (requests, hvac and botocore all honour these variables)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in PROXY_VARIABLES:
            patch.delenv(name, raising=False)
        for name in ("NO_PROXY", "no_proxy"):
            patch.setenv(name, ",".join(filter(None, ["127.0.0.1", os.environ.get(name)])))
        yield


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    with openbao_dev_server(tmp_path_factory.mktemp("openbao")) as server:
        yield server


@pytest.fixture
def vault(openbao: OpenBao) -> hvac.Client:
    """A root client of a server reset to its fresh dev state."""
    root = hvac.Client(url=openbao.address, token=openbao.root_token)
    vault_checks.reset(root)
    return root


@pytest.fixture(scope="session")
def kube_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeKubeApi]:
    with fake_kube_api(tmp_path_factory.mktemp("kube-api")) as api:
        yield api


@pytest.fixture(scope="session")
def moto_session() -> Iterator[Moto]:
    with moto_server() as server:
        yield server


@pytest.fixture
def moto(moto_session: Moto) -> Moto:
    """The moto server, wiped and with IAM enforcement off."""
    moto_session.reset()
    return moto_session


@pytest.fixture
def aws(moto: Moto) -> Aws:
    return Aws(moto.endpoint)

"""A stand-in for the one Kubernetes API call Vault's kubernetes auth makes: TokenReview.

OpenBao's kubernetes auth (real code) checks a login's service account, namespace and audience
against the role, then asks the cluster's API server, over TLS verified with the configured
`kubernetes_ca_cert`, whether the token is valid for the role's audience. No cluster runs here,
so this HTTPS server on 127.0.0.1 answers that TokenReview as the API server would: the token is
authenticated for the requested audiences when it was issued for one of them, and the user is
`system:serviceaccount:<namespace>:<name>`. It does not check signatures; the tokens are minted
by `service_account_token` below, as the TokenRequest API would mint them for ESO.
"""

from __future__ import annotations

import base64
import datetime
import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"
TOKEN_REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def service_account_token(namespace: str, name: str, audiences: Sequence[str]) -> str:
    """A projected service-account token (JWT) with the claims the TokenRequest API sets."""
    now = int(time.time())
    claims = {
        "aud": list(audiences),
        "exp": now + 600,
        "iat": now,
        "nbf": now,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": f"system:serviceaccount:{namespace}:{name}",
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, name))},
        },
    }
    return f"{_b64({'alg': 'RS256', 'kid': 'test'})}.{_b64(claims)}.{_b64({'unsigned': True})}"


def _review(spec: dict[str, Any]) -> dict[str, Any]:
    claims = _claims(spec["token"])
    issued_for = claims["aud"]
    requested = spec.get("audiences") or []
    granted = [a for a in issued_for if not requested or a in requested]
    if not granted:
        return {"authenticated": False, "error": "token audiences are invalid for the target"}
    account = claims["kubernetes.io"]
    return {
        "authenticated": True,
        "audiences": granted,
        "user": {
            "username": f"system:serviceaccount:{account['namespace']}:"
            f"{account['serviceaccount']['name']}",
            "uid": account["serviceaccount"]["uid"],
        },
    }


class _TokenReviewHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        if self.path != TOKEN_REVIEW_PATH:
            self.send_error(404)
            return
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps(
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "status": _review(request["spec"]),
            }
        ).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no request log on stderr."""


@dataclass(frozen=True)
class FakeKubeApi:
    host: str
    ca_pem: str


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None, signer: Any
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address(LOOPBACK))]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


@contextmanager
def fake_kube_api(workdir: Path) -> Iterator[FakeKubeApi]:
    """The TokenReview endpoint over HTTPS on a free port of 127.0.0.1, with its own CA."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("qtap-tests-kubernetes-ca", ca_key, None, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate("kube-apiserver", server_key, ca, ca_key)
    cert_file, key_file = workdir / "apiserver.crt", workdir / "apiserver.key"
    cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)

    server = ThreadingHTTPServer((LOOPBACK, 0), _TokenReviewHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield FakeKubeApi(
            host=f"https://{LOOPBACK}:{server.server_address[1]}",
            ca_pem=ca.public_bytes(serialization.Encoding.PEM).decode(),
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

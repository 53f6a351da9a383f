"""A Sealed Secrets controller's key pair, made by the tests, and the controller's unsealing.

`unseal` is crypto.go's `HybridDecrypt` written with `cryptography`'s standard primitives
(RSA-OAEP with SHA-256 for hash and MGF1, AES-256-GCM with a zero nonce), independent of the
program's own OAEP encoding: whatever it opens, the controller opens.
"""

from __future__ import annotations

import base64
import datetime
import functools
import struct
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class ControllerKey:
    private_key: rsa.RSAPrivateKey
    certificate_pem: str


def certificate_pem(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    *,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> str:
    """A self-signed certificate like the controller's (`sealed-secret` CN, ~10 years)."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - datetime.timedelta(days=1))
        .not_valid_after(not_after or now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def new_controller_key(bits: int = 2048) -> ControllerKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return ControllerKey(key, certificate_pem(key))


def controller_key(index: int = 0) -> ControllerKey:
    """One key pair per index for the whole session (RSA key generation is slow)."""
    return _controller_key(index)


@functools.cache
def _controller_key(index: int) -> ControllerKey:
    return new_controller_key()


def split(sealed_b64: str) -> tuple[bytes, bytes]:
    """(RSA ciphertext, AES-GCM ciphertext with tag) of one encryptedData value."""
    data = base64.b64decode(sealed_b64, validate=True)
    (rsa_length,) = struct.unpack(">H", data[:2])
    assert len(data) >= 2 + rsa_length, "shorter than its RSA length prefix"
    return data[2 : 2 + rsa_length], data[2 + rsa_length :]


def session_key(private_key: rsa.RSAPrivateKey, sealed_b64: str, label: bytes) -> bytes:
    rsa_part, _ = split(sealed_b64)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
    return private_key.decrypt(rsa_part, oaep)


def unseal(private_key: rsa.RSAPrivateKey, sealed_b64: str, label: bytes) -> str:
    """What the controller does with one value (raises when the key or label is wrong)."""
    key = session_key(private_key, sealed_b64, label)
    assert len(key) == 32, "the session key is not AES-256"
    _, aes_part = split(sealed_b64)
    return AESGCM(key).decrypt(bytes(12), aes_part, None).decode()


# A minimal DER reader/writer, to build certificates `cryptography` refuses to make (an RSA
# public exponent of 1, a huge exponent): the certificate is parsed into (tag, content)
# tuples, edited, and encoded again. The signature is left stale; nothing here checks it.

DerNode = tuple[int, "bytes | list[DerNode]"]
_CONSTRUCTED = 0x20


def der_decode(data: bytes) -> DerNode:
    node, rest = _der_one(data)
    assert not rest, "trailing bytes after the DER value"
    return node


def _der_one(data: bytes) -> tuple[DerNode, bytes]:
    tag, length_byte = data[0], data[1]
    offset = 2
    if length_byte & 0x80:
        count = length_byte & 0x7F
        length = int.from_bytes(data[2 : 2 + count], "big")
        offset += count
    else:
        length = length_byte
    body, rest = data[offset : offset + length], data[offset + length :]
    if tag & _CONSTRUCTED:
        children: list[DerNode] = []
        while body:
            child, body = _der_one(body)
            children.append(child)
        return (tag, children), rest
    return (tag, body), rest


def der_encode(node: DerNode) -> bytes:
    tag, content = node
    body = (
        b"".join(der_encode(child) for child in content) if isinstance(content, list) else content
    )
    size = len(body)
    if size < 0x80:
        header = bytes([tag, size])
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
        header = bytes([tag, 0x80 | len(raw)]) + raw
    return header + body


def der_integer(value: int) -> DerNode:
    return (0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=False))


def with_rsa_public_numbers(pem: str, *, e: int, n: int | None = None) -> str:
    """`pem`'s certificate with its RSA public key's exponent (and modulus) replaced."""
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    certificate = der_decode(base64.b64decode(body))
    tbs = certificate[1][0]  # type: ignore[index]
    spki = tbs[1][6]  # version, serial, signature, issuer, validity, subject, spki
    bit_string = spki[1][1]
    modulus, _ = der_decode(bit_string[1][1:])[1]  # type: ignore[misc]
    key = (0x30, [der_integer(n) if n is not None else modulus, der_integer(e)])
    spki[1][1] = (0x03, b"\x00" + der_encode(key))
    encoded = base64.b64encode(der_encode(certificate)).decode()
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"

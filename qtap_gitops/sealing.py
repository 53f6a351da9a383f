"""Sealing values for the Sealed Secrets controller, deterministically.

The controller (bitnami-labs/sealed-secrets v0.36.6, `pkg/crypto/crypto.go`, `HybridEncrypt`)
unseals each value of a SealedSecret's `spec.encryptedData` on its own:

    base64std( uint16be(len(rsa)) || rsa || aes )
    rsa = RSA-OAEP(SHA-256 for the hash and MGF1, label = scope label)(session key)
    aes = AES-256-GCM(session key, nonce = 12 zero bytes, no additional data)(value) || tag

kubeseal draws the 32-byte session key and the OAEP seed at random, so sealing the same value
twice gives two ciphertexts, and a program that seals on every run shows a diff on every
`pulumi up`. Here both are derived with HMAC-SHA256 from a key only the stack holds and from
(certificate, scope label, key name, value): unchanged values give byte-identical ciphertext, a
changed value (or certificate, or scope) gets a new session key, which matters because GCM's
nonce is fixed at zero and a session key must never encrypt two plaintexts. Without the stack's
key nobody can recompute a ciphertext to confirm a guessed value. The controller sees standard
RSA-OAEP and AES-GCM and unseals it like any kubeseal output.

`cryptography`'s OAEP padding always draws its own random seed, so the OAEP encoding (RFC 8017,
section 7.1.1) is done here with the derived seed, followed by raw RSA (m^e mod n).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .problems import Problem, Severity
from .settings import SealedSecretsScope, position_of

SESSION_KEY_BYTES = 32  # crypto.go: sessionKeyBytes
GCM_NONCE = bytes(12)  # crypto.go: "SessionKey is only used once, so zero nonce is ok"
HASH_BYTES = 32  # SHA-256
STACK_KEY_BYTES = 32
# kubeseal's controller makes 4096-bit keys; 2048 bits is the floor of current guidance.
MIN_RSA_BITS = 2048
SEALED_SECRET_API_VERSION = "bitnami.com/v1alpha1"
# pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go: SecretScope reads these.
SCOPE_ANNOTATIONS: Mapping[SealedSecretsScope, Mapping[str, str]] = {
    SealedSecretsScope.STRICT: {},
    SealedSecretsScope.NAMESPACE_WIDE: {"sealedsecrets.bitnami.com/namespace-wide": "true"},
    SealedSecretsScope.CLUSTER_WIDE: {"sealedsecrets.bitnami.com/cluster-wide": "true"},
}
_DOMAIN = b"qtap-gitops sealed-secrets v1"
CERTIFICATE_KEY = "qtap:secrets.sealedSecrets.certificate"


class SealingError(ValueError):
    """The certificate cannot be used to seal (already described by `certificate_problems`)."""


def scope_label(namespace: str, name: str, scope: SealedSecretsScope) -> bytes:
    """The OAEP label the controller checks (sealedsecret_expansion.go, `EncryptionLabel`)."""
    if scope is SealedSecretsScope.CLUSTER_WIDE:
        return b""
    if scope is SealedSecretsScope.NAMESPACE_WIDE:
        return namespace.encode()
    return f"{namespace}/{name}".encode()


# The controller's certificate.


@dataclass(frozen=True)
class SealingCertificate:
    public_key: rsa.RSAPublicKey
    fingerprint: bytes
    """sha256 of the public key (DER SubjectPublicKeyInfo): a new controller key changes it."""


def _load(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def certificate_problems(
    pem: str,
    *,
    source: str,
    positions: Mapping[str, tuple[int, int]] | None = None,
    now: datetime.datetime | None = None,
    setting: str = CERTIFICATE_KEY,
) -> list[Problem]:
    """Why the controller's certificate cannot seal: unreadable, not RSA, a key too small,
    expired or not yet valid (kubeseal refuses an expired certificate too). `setting` is the
    key that holds it ("" for a certificate file)."""
    line, column = position_of(positions or {}, setting) if setting else (None, None)
    fetch = "paste the controller's current certificate: kubeseal --fetch-cert"

    def problem(message: str, fix: str = fetch) -> list[Problem]:
        return [
            Problem(
                severity=Severity.ERROR,
                code="sealing-certificate",
                file=source,
                line=line,
                column=column,
                yaml_path=setting,
                message=message,
                fix=fix,
            )
        ]

    try:
        certificate = _load(pem)
    except ValueError as error:
        return problem(f"is not a readable X.509 certificate ({error})")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return problem(
            f"holds a {type(key).__name__.removeprefix('_')} key; the Sealed Secrets controller "
            "seals with RSA-OAEP, so its certificate must hold an RSA key",
        )
    if key.key_size < MIN_RSA_BITS:
        return problem(f"holds a {key.key_size}-bit RSA key; at least {MIN_RSA_BITS} bits needed")
    moment = now or datetime.datetime.now(datetime.UTC)
    if certificate.not_valid_after_utc < moment:
        return problem(
            f"expired on {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; the controller has "
            "renewed its sealing key since",
        )
    if certificate.not_valid_before_utc > moment:
        return problem(
            f"is not valid before {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
            "check the clock of this machine, or paste the certificate the controller uses now",
        )
    return []


def load_certificate(pem: str, *, now: datetime.datetime | None = None) -> SealingCertificate:
    problems = certificate_problems(pem, source="certificate", now=now)
    if problems:
        raise SealingError(f"the sealing certificate {problems[0].message}")
    key = _load(pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SealingCertificate(key, hashlib.sha256(der).digest())


# Deterministic hybrid encryption.


def _framed(*parts: bytes) -> bytes:
    """Length-prefixed concatenation: no two different tuples give the same bytes."""
    return b"".join(struct.pack(">Q", len(part)) + part for part in parts)


def derive(
    stack_key: bytes, fingerprint: bytes, label: bytes, key_name: str, value: bytes
) -> tuple[bytes, bytes]:
    """(AES session key, OAEP seed) for one value, from the stack's key and what is sealed."""
    if len(stack_key) < STACK_KEY_BYTES:
        raise SealingError(f"the stack's sealing key must have at least {STACK_KEY_BYTES} bytes")
    message = _framed(fingerprint, label, key_name.encode(), value)
    session_key = hmac.new(stack_key, _DOMAIN + b" session-key" + message, "sha256").digest()
    seed = hmac.new(stack_key, _DOMAIN + b" oaep-seed" + message, "sha256").digest()
    return session_key, seed


def _mgf1(seed: bytes, length: int) -> bytes:
    """RFC 8017 B.2.1 with SHA-256."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def oaep_encrypt(public_key: rsa.RSAPublicKey, message: bytes, label: bytes, seed: bytes) -> bytes:
    """RSAES-OAEP-ENCRYPT (RFC 8017 7.1.1), SHA-256 for the hash and MGF1, with `seed` given."""
    numbers = public_key.public_numbers()
    k = (numbers.n.bit_length() + 7) // 8
    if len(seed) != HASH_BYTES:
        raise SealingError("the OAEP seed must be as long as the hash")
    if len(message) > k - 2 * HASH_BYTES - 2:
        raise SealingError("message too long for OAEP with this key")
    label_hash = hashlib.sha256(label).digest()
    padding = bytes(k - len(message) - 2 * HASH_BYTES - 2)
    data_block = label_hash + padding + b"\x01" + message
    masked_db = _xor(data_block, _mgf1(seed, k - HASH_BYTES - 1))
    masked_seed = _xor(seed, _mgf1(masked_db, HASH_BYTES))
    encoded = b"\x00" + masked_seed + masked_db
    cipher = pow(int.from_bytes(encoded, "big"), numbers.e, numbers.n)
    return cipher.to_bytes(k, "big")


def hybrid_encrypt(
    public_key: rsa.RSAPublicKey,
    value: bytes,
    label: bytes,
    session_key: bytes,
    seed: bytes,
) -> bytes:
    """crypto.go `HybridEncrypt` with the session key and OAEP seed given."""
    rsa_ciphertext = oaep_encrypt(public_key, session_key, label, seed)
    sealed = AESGCM(session_key).encrypt(GCM_NONCE, value, None)
    return struct.pack(">H", len(rsa_ciphertext)) + rsa_ciphertext + sealed


def seal_value(
    certificate: SealingCertificate,
    stack_key: bytes | None,
    label: bytes,
    key_name: str,
    value: str,
) -> str:
    """One `spec.encryptedData` entry. With `stack_key` None, sealing is randomized as with
    kubeseal (for a one-off manifest); otherwise deterministic."""
    plaintext = value.encode()
    if stack_key is None:
        session_key, seed = os.urandom(SESSION_KEY_BYTES), os.urandom(HASH_BYTES)
    else:
        session_key, seed = derive(stack_key, certificate.fingerprint, label, key_name, plaintext)
    sealed = hybrid_encrypt(certificate.public_key, plaintext, label, session_key, seed)
    return base64.b64encode(sealed).decode()


def seal_values(
    certificate: SealingCertificate,
    stack_key: bytes | None,
    *,
    namespace: str,
    name: str,
    scope: SealedSecretsScope,
    values: Mapping[str, str],
) -> dict[str, str]:
    """Every value sealed for the Secret `namespace/name` under `scope`, by key, sorted."""
    label = scope_label(namespace, name, scope)
    return {
        key: seal_value(certificate, stack_key, label, key, values[key]) for key in sorted(values)
    }


def sealed_revision(encrypted_data: Mapping[str, str]) -> str:
    """A digest of the sealed ciphertexts (never of the values): it changes exactly when a
    sealed value does, and reveals nothing a reader of the SealedSecret does not already see."""
    digest = hashlib.sha256()
    for key in sorted(encrypted_data):
        digest.update(_framed(key.encode(), encrypted_data[key].encode()))
    return digest.hexdigest()


def sealed_secret_manifest(
    *,
    name: str,
    namespace: str,
    scope: SealedSecretsScope,
    encrypted_data: Mapping[str, str],
    labels: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """The `bitnami.com/v1alpha1` SealedSecret the controller unseals into Secret `name`."""
    return {
        "apiVersion": SEALED_SECRET_API_VERSION,
        "kind": "SealedSecret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": {**(annotations or {}), **SCOPE_ANNOTATIONS[scope]},
        },
        "spec": {
            "encryptedData": {k: encrypted_data[k] for k in sorted(encrypted_data)},
            "template": {
                "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
                "type": "Opaque",
            },
        },
    }

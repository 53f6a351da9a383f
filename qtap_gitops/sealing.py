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
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .problems import Problem, problem
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


# kubeseal's controller makes keys with exponent 65537 (Go's rsa.GenerateKey); any other
# exponent is refused, and the modulus is bounded, so sealing (m^e mod n) and the check stay
# well under a second for any certificate a pull request commits.
RSA_EXPONENT = 65537
MAX_RSA_BITS = 8192
# Bounds the work of parsing a pasted certificate; the controller's is under 2 KiB.
MAX_PEM_CHARS = 64 * 1024
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----[A-Za-z0-9+/=\s]*?-----END \1-----")
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----")
# Exceptions `cryptography` raises on a malformed certificate: all become a Problem.
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


def _framing_problem(pem: str) -> tuple[str, int] | None:
    """(what is wrong, 1-based line in `pem`) when the text is not exactly one PEM certificate.

    `cryptography` reads the first CERTIFICATE block and ignores the rest, so a private key
    pasted along (which must never be committed) or trailing text would pass unseen."""
    if len(pem) > MAX_PEM_CHARS:
        return f"is {len(pem)} characters long; a certificate is a few KiB", 1
    private = _PRIVATE_KEY.search(pem)
    if private is not None:
        return (
            "also holds a private key (not shown); only the controller may hold it, and a "
            "private key must never be committed",
            pem.count("\n", 0, private.start()) + 1,
        )
    blocks = list(_PEM_BLOCK.finditer(pem))
    if not blocks or blocks[0].group(1) != "CERTIFICATE":
        return None  # not PEM at all: the parser below says what it is
    if len(blocks) > 1:
        line = pem.count("\n", 0, blocks[1].start()) + 1
        return f"holds {len(blocks)} PEM blocks; the controller's certificate is one", line
    before, after = pem[: blocks[0].start()], pem[blocks[0].end() :]
    if before.strip() or after.strip():
        offset = blocks[0].end() if after.strip() else 0
        stray = offset + len(pem[offset:]) - len(pem[offset:].lstrip())
        return "has text before or after the certificate", pem.count("\n", 0, stray) + 1
    return None


def _key_problem(key: rsa.RSAPublicKey) -> str | None:
    """What makes an RSA key unusable for sealing: its size, its exponent."""
    if key.key_size < MIN_RSA_BITS:
        return f"holds a {key.key_size}-bit RSA key; at least {MIN_RSA_BITS} bits needed"
    if key.key_size > MAX_RSA_BITS:
        return f"holds a {key.key_size}-bit RSA key; at most {MAX_RSA_BITS} bits"
    exponent = key.public_numbers().e
    if exponent != RSA_EXPONENT:
        shown = exponent if exponent.bit_length() <= 64 else f"a {exponent.bit_length()}-bit"
        return (
            f"holds an RSA key with public exponent {shown}; the controller's keys use "
            f"{RSA_EXPONENT}"
        )
    return None


def _inspect(pem: str, moment: datetime.datetime) -> tuple[str, str, int | None] | rsa.RSAPublicKey:
    """The certificate's RSA key, or (what is wrong, its fix, line in `pem`). Every
    `cryptography` call on the hostile text happens here, inside the error handling."""
    fetch = "paste the controller's current certificate: kubeseal --fetch-cert"
    framing = _framing_problem(pem)
    if framing is not None:
        return framing[0], "paste only the output of kubeseal --fetch-cert", framing[1]
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
        key = certificate.public_key()
        try:
            usage: x509.KeyUsage | None = certificate.extensions.get_extension_for_class(
                x509.KeyUsage
            ).value
        except x509.ExtensionNotFound:
            usage = None
        not_after, not_before = certificate.not_valid_after_utc, certificate.not_valid_before_utc
    except _PARSE_ERRORS as error:
        # The message names what is wrong; `cryptography`'s texts never hold key material.
        return f"is not a readable X.509 certificate ({error})", fetch, None
    if not isinstance(key, rsa.RSAPublicKey):
        return (
            f"holds a {type(key).__name__.removeprefix('_')} key; the Sealed Secrets controller "
            "seals with RSA-OAEP, so its certificate must hold an RSA key",
            fetch,
            None,
        )
    wrong_key = _key_problem(key)
    if wrong_key is not None:
        return wrong_key, fetch, None
    # RFC 5280 4.2.1.3: an RSA key that wraps session keys needs keyEncipherment when the
    # certificate restricts its usage at all.
    if usage is not None and not usage.key_encipherment:
        return (
            "restricts its key to uses without keyEncipherment; it may not encrypt the session "
            "keys that sealing wraps",
            fetch,
            None,
        )
    if not_after < moment:
        return (
            f"expired on {not_after:%Y-%m-%d %H:%M} UTC; the controller has renewed its sealing "
            "key since",
            fetch,
            None,
        )
    if not_before > moment:
        return (
            f"is not valid before {not_before:%Y-%m-%d %H:%M} UTC",
            "check the clock of this machine, or paste the certificate the controller uses now",
            None,
        )
    return key


def certificate_problems(
    pem: str,
    *,
    source: str,
    positions: Mapping[str, tuple[int, int]] | None = None,
    now: datetime.datetime | None = None,
    setting: str = CERTIFICATE_KEY,
) -> list[Problem]:
    """Why the controller's certificate cannot seal: unreadable, not exactly one certificate (a
    private key or stray text along), not RSA, a key too small or too large, an exponent other
    than 65537, a key usage without keyEncipherment, expired or not yet valid (kubeseal refuses
    an expired certificate too). `setting` is the key that holds it ("" for a certificate
    file, where a stray block or text is placed at its line)."""
    found = _inspect(pem, now or datetime.datetime.now(datetime.UTC))
    if isinstance(found, rsa.RSAPublicKey):
        return []
    message, fix, line_in_pem = found
    if setting:
        line, column = position_of(positions or {}, setting)
    else:
        line, column = line_in_pem, (None if line_in_pem is None else 1)
    return [
        problem(
            "sealing-certificate",
            source,
            (line, column),
            setting,
            message,
            fix,
        )
    ]


def load_certificate(pem: str, *, now: datetime.datetime | None = None) -> SealingCertificate:
    found = _inspect(pem, now or datetime.datetime.now(datetime.UTC))
    if not isinstance(found, rsa.RSAPublicKey):
        raise SealingError(f"the sealing certificate {found[0]}")
    der = found.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SealingCertificate(found, hashlib.sha256(der).digest())


def describe_certificate(pem: str) -> dict[str, str] | None:
    """What a reviewer needs to recognise the controller's certificate: the SHA-256 fingerprint
    of the certificate (as `openssl x509 -fingerprint -sha256` prints it), its subject and its
    validity; None for a certificate the check refuses (the check says why)."""
    if isinstance(_inspect(pem, datetime.datetime.now(datetime.UTC)), tuple):
        return None
    try:
        certificate = x509.load_pem_x509_certificate(pem.strip().encode("ascii"))
        der = certificate.public_bytes(serialization.Encoding.DER)
        subject = certificate.subject.rfc4514_string()
    except (*_PARSE_ERRORS, UnicodeEncodeError):
        return None
    digest = hashlib.sha256(der).hexdigest().upper()
    return {
        "sha256": ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
        "subject": subject[:200],
        "notBefore": certificate.not_valid_before_utc.isoformat(),
        "notAfter": certificate.not_valid_after_utc.isoformat(),
    }


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

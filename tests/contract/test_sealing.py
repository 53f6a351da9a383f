"""Sealing for the Sealed Secrets controller: what the program seals, the controller's own
algorithm (RSA-OAEP + AES-GCM, in `tests/sealing_keys.py`) unseals, for each scope; sealing is
deterministic per stack key and value; unusable certificates are refused with a message."""

from __future__ import annotations

import base64
import datetime
import time

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from qtap_gitops import sealing
from qtap_gitops.sealing import (
    SealingError,
    certificate_problems,
    load_certificate,
    scope_label,
    seal_values,
    sealed_revision,
    sealed_secret_manifest,
)
from qtap_gitops.settings import SealedSecretsScope
from tests.sealing_keys import (
    certificate_pem,
    controller_key,
    session_key,
    split,
    unseal,
    with_rsa_public_numbers,
)

STACK_KEY = bytes(range(32))
VALUES = {
    "REGISTRATION_TOKEN": "token-5b1e0c",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "secret/with+symbols=",
    "EMPTY_IS_ALLOWED": "",
}


def sealed(scope: SealedSecretsScope, values=VALUES, stack_key=STACK_KEY, key_index: int = 0):
    certificate = load_certificate(controller_key(key_index).certificate_pem)
    return seal_values(
        certificate, stack_key, namespace="qpoint", name="qtap-secrets", scope=scope, values=values
    )


def test_scope_labels_are_the_controllers():
    # sealedsecret_expansion.go, EncryptionLabel.
    assert (
        scope_label("qpoint", "qtap-secrets", SealedSecretsScope.STRICT) == b"qpoint/qtap-secrets"
    )
    assert scope_label("qpoint", "qtap-secrets", SealedSecretsScope.NAMESPACE_WIDE) == b"qpoint"
    assert scope_label("qpoint", "qtap-secrets", SealedSecretsScope.CLUSTER_WIDE) == b""


@pytest.mark.parametrize("scope", list(SealedSecretsScope))
def test_the_controller_unseals_every_value_for_each_scope(scope):
    encrypted = sealed(scope)
    label = scope_label("qpoint", "qtap-secrets", scope)
    private_key = controller_key().private_key
    assert set(encrypted) == set(VALUES)
    for name, value in VALUES.items():
        assert unseal(private_key, encrypted[name], label) == value
        # crypto.go's framing: 2-byte length, then a full-size RSA block.
        rsa_part, aes_part = split(encrypted[name])
        assert len(rsa_part) == 256
        assert len(aes_part) == len(value.encode()) + 16


@pytest.mark.parametrize("scope", list(SealedSecretsScope))
def test_a_wrong_label_fails_to_unseal(scope):
    encrypted = sealed(scope)
    private_key = controller_key().private_key
    for wrong in (b"other/qtap-secrets", b"qpoint/other", b"qpoint", b""):
        if wrong == scope_label("qpoint", "qtap-secrets", scope):
            continue
        with pytest.raises(ValueError, match="Decryption failed"):
            unseal(private_key, encrypted["REGISTRATION_TOKEN"], wrong)


def test_a_wrong_private_key_fails_to_unseal():
    encrypted = sealed(SealedSecretsScope.STRICT)
    with pytest.raises(ValueError, match="Decryption failed"):
        unseal(
            controller_key(1).private_key, encrypted["REGISTRATION_TOKEN"], b"qpoint/qtap-secrets"
        )


def test_a_tampered_ciphertext_fails_to_unseal():
    encrypted = sealed(SealedSecretsScope.STRICT)["REGISTRATION_TOKEN"]
    data = bytearray(base64.b64decode(encrypted))
    data[-1] ^= 1
    with pytest.raises(InvalidTag):
        unseal(
            controller_key().private_key, base64.b64encode(data).decode(), b"qpoint/qtap-secrets"
        )


def test_same_stack_key_and_values_give_byte_identical_ciphertext():
    first = sealed(SealedSecretsScope.STRICT)
    assert sealed(SealedSecretsScope.STRICT) == first
    manifest = sealed_secret_manifest(
        name="qtap-secrets",
        namespace="qpoint",
        scope=SealedSecretsScope.STRICT,
        encrypted_data=first,
        labels={"app": "qtap"},
    )
    assert manifest["spec"]["encryptedData"] == first  # type: ignore[index]


def test_a_changed_value_unseals_to_the_new_value_under_a_new_session_key():
    before = sealed(SealedSecretsScope.STRICT)
    after = sealed(SealedSecretsScope.STRICT, {**VALUES, "REGISTRATION_TOKEN": "rotated-9f2"})
    private_key, label = controller_key().private_key, b"qpoint/qtap-secrets"
    assert unseal(private_key, after["REGISTRATION_TOKEN"], label) == "rotated-9f2"
    assert session_key(private_key, after["REGISTRATION_TOKEN"], label) != session_key(
        private_key, before["REGISTRATION_TOKEN"], label
    )
    # The other values keep their ciphertext: no diff where nothing changed.
    assert {k: v for k, v in after.items() if k != "REGISTRATION_TOKEN"} == {
        k: v for k, v in before.items() if k != "REGISTRATION_TOKEN"
    }
    assert sealed_revision(after) != sealed_revision(before)


def test_session_keys_differ_per_key_name_scope_and_stack_key():
    private_key = controller_key().private_key
    same_value = {"A": "x", "B": "x"}
    strict = sealed(SealedSecretsScope.STRICT, same_value)
    wide = sealed(SealedSecretsScope.CLUSTER_WIDE, same_value)
    other_stack = sealed(SealedSecretsScope.STRICT, same_value, stack_key=bytes(32))
    keys = {
        session_key(private_key, strict["A"], b"qpoint/qtap-secrets"),
        session_key(private_key, strict["B"], b"qpoint/qtap-secrets"),
        session_key(private_key, wide["A"], b""),
        session_key(private_key, other_stack["A"], b"qpoint/qtap-secrets"),
    }
    assert len(keys) == 4


def test_without_a_stack_key_sealing_is_randomized_like_kubeseal():
    first = sealed(SealedSecretsScope.STRICT, stack_key=None)
    second = sealed(SealedSecretsScope.STRICT, stack_key=None)
    assert first["REGISTRATION_TOKEN"] != second["REGISTRATION_TOKEN"]
    label = b"qpoint/qtap-secrets"
    assert (
        unseal(controller_key().private_key, second["REGISTRATION_TOKEN"], label)
        == VALUES["REGISTRATION_TOKEN"]
    )


def test_a_short_stack_key_is_refused():
    with pytest.raises(SealingError):
        sealed(SealedSecretsScope.STRICT, stack_key=b"short")


def test_oaep_encoding_matches_rfc_8017_as_cryptography_decodes_it():
    private_key = controller_key().private_key
    public_key = private_key.public_key()
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    for label in (b"", b"qpoint", b"qpoint/qtap-secrets"):
        message = bytes(range(32))
        cipher = sealing.oaep_encrypt(public_key, message, label, bytes(32))
        oaep = padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label
        )
        assert private_key.decrypt(cipher, oaep) == message


# Certificates.

NOW = datetime.datetime.now(datetime.UTC)


def messages(pem: str) -> list[str]:
    return [p.format() for p in certificate_problems(pem, source="Pulumi.dev.yaml")]


def test_the_controllers_certificate_is_accepted():
    assert messages(controller_key().certificate_pem) == []


def test_an_expired_certificate_is_refused():
    key = controller_key().private_key
    pem = certificate_pem(
        key,
        not_before=NOW - datetime.timedelta(days=30),
        not_after=NOW - datetime.timedelta(days=1),
    )
    (message,) = messages(pem)
    assert "qtap:secrets.sealedSecrets.certificate: expired on" in message
    assert "kubeseal --fetch-cert" in message
    with pytest.raises(SealingError, match="expired"):
        load_certificate(pem)


def test_a_certificate_not_yet_valid_is_refused():
    pem = certificate_pem(
        controller_key().private_key,
        not_before=NOW + datetime.timedelta(days=1),
        not_after=NOW + datetime.timedelta(days=30),
    )
    (message,) = messages(pem)
    assert "is not valid before" in message


def test_a_non_rsa_certificate_is_refused():
    (message,) = messages(certificate_pem(ec.generate_private_key(ec.SECP256R1())))
    assert "must hold an RSA key" in message


def test_a_small_rsa_key_is_refused():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (the weak key under test)
    (message,) = messages(certificate_pem(small))
    assert "1024-bit RSA key; at least 2048 bits needed" in message


def test_garbage_is_refused_without_a_traceback():
    (message,) = messages("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert "is not a readable X.509 certificate" in message
    assert "error [sealing-certificate]" in message


# Hostile certificates (issue 17 item 9): every one is a Problem, never a traceback, and
# deciding it (or sealing with what passes) stays well under a second.


def only_message(pem: str, **kwargs) -> str:
    (problem,) = certificate_problems(pem, source="cert.pem", setting="", **kwargs)
    assert problem.code == "sealing-certificate"
    return problem.format()


def test_an_rsa_exponent_of_one_is_refused_without_a_traceback():
    pem = with_rsa_public_numbers(controller_key().certificate_pem, e=1)
    assert "is not a readable X.509 certificate" in only_message(pem)
    with pytest.raises(SealingError):
        load_certificate(pem)


@pytest.mark.parametrize(
    "exponent", [3, 17, 2**16 + 3, 2**2000 + 1], ids=["3", "17", "65539", "2^2000+1"]
)
def test_exponents_other_than_65537_are_refused(exponent):
    pem = with_rsa_public_numbers(controller_key().certificate_pem, e=exponent)
    started = time.monotonic()
    message = only_message(pem)
    assert time.monotonic() - started < 1
    assert "public exponent" in message
    assert "use 65537" in message
    assert str(2**2000 + 1) not in message


def test_a_modulus_above_8192_bits_is_refused():
    huge = (1 << 16383) | 1  # odd, 16384 bits: not a real key, only its size matters
    pem = with_rsa_public_numbers(controller_key().certificate_pem, e=65537, n=huge)
    assert "16384-bit RSA key; at most 8192 bits" in only_message(pem)


def private_key_pem() -> str:
    return (
        controller_key()
        .private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


@pytest.mark.parametrize("private_first", [False, True])
def test_a_pem_that_also_carries_a_private_key_is_refused_without_showing_it(private_first):
    cert, key = controller_key().certificate_pem, private_key_pem()
    pem = key + cert if private_first else cert + key
    message = only_message(pem)
    assert "also holds a private key (not shown)" in message
    line = 1 if private_first else cert.count("\n") + 1
    assert message.startswith(f"cert.pem:{line}:1: error")
    body = [row for row in key.splitlines() if not row.startswith("-----")]
    assert not any(row in message for row in body)


@pytest.mark.parametrize(
    "text", ["{cert}garbage\n", "junk\n{cert}", "{cert}{cert}", "{cert}-----BEGIN X-----\n"]
)
def test_trailing_or_leading_text_and_extra_blocks_are_refused(text):
    pem = text.format(cert=controller_key().certificate_pem)
    message = only_message(pem)
    assert "paste only the output of kubeseal --fetch-cert" in message
    with pytest.raises(SealingError):
        load_certificate(pem)


def certificate_with_key_usage(**usage: bool) -> str:
    key = controller_key().private_key
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
        ),
        False,
    )
    flags.update(usage)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=30))
        .add_extension(
            x509.KeyUsage(**flags, encipher_only=False, decipher_only=False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_a_key_usage_without_key_encipherment_is_refused():
    pem = certificate_with_key_usage(digital_signature=True, key_cert_sign=True)
    assert "without keyEncipherment" in only_message(pem)


def test_a_key_usage_with_key_encipherment_is_accepted():
    # The controller's own certificate (keys.go) allows encipherment and certificate signing.
    pem = certificate_with_key_usage(key_encipherment=True, key_cert_sign=True)
    assert certificate_problems(pem, source="cert.pem") == []
    load_certificate(pem)


def _mutate(pem: str, data: st.DataObject) -> str:
    body = "".join(row for row in pem.splitlines() if not row.startswith("-----"))
    der = bytearray(base64.b64decode(body))
    for _ in range(data.draw(st.integers(1, 6))):
        index = data.draw(st.integers(0, len(der) - 1))
        der[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(der) // 2, len(der)))
    encoded = base64.b64encode(bytes(der[:cut])).decode()
    rows = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(rows) + "\n-----END CERTIFICATE-----\n"


@given(st.data())
def test_mutated_and_generated_pems_never_raise_and_stay_fast(data):
    base = controller_key().certificate_pem
    kind = data.draw(st.sampled_from(["mutated", "numbers", "text"]))
    if kind == "mutated":
        pem = _mutate(base, data)
    elif kind == "numbers":
        e = data.draw(st.one_of(st.integers(0, 70000), st.integers(0, 2**9000)))
        n = data.draw(st.none() | st.integers(0, 2**9000))
        pem = with_rsa_public_numbers(base, e=e, n=n)
    else:
        pem = (
            data.draw(st.text(max_size=300))
            + data.draw(st.sampled_from(["", base]))
            + (data.draw(st.text(max_size=50)))
        )
    started = time.monotonic()
    problems = certificate_problems(pem, source="cert.pem", setting="")
    if not problems:
        seal_values(
            load_certificate(pem),
            STACK_KEY,
            namespace="qpoint",
            name="qtap-secrets",
            scope=SealedSecretsScope.STRICT,
            values=VALUES,
        )
    else:
        assert all(p.code == "sealing-certificate" and p.fix for p in problems)
        with pytest.raises(SealingError):
            load_certificate(pem)
    assert time.monotonic() - started < 1

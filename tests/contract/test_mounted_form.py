"""What the agent reads: the chart embeds the snapshot in a literal block scalar, which YAML reads
LF-normalized with exactly one final newline; the digest annotation is that form's digest."""

from __future__ import annotations

import hashlib

import yaml
from hypothesis import given
from hypothesis import strategies as st

from qtap_gitops.snapshot import check_snapshot_bytes
from qtap_gitops.snapshot.model import mounted_form, mounted_sha256
from tests.conftest import REPO


def rendered_configmap_value(config: str) -> str:
    """The chart's ConfigMap data as Helm renders it (`tap-config.yaml: |` followed by
    `{{ .Values.config | nindent 4 }}`: sprig's nindent is a newline, then 4 spaces before
    every line), read back by a YAML parser as the kubelet's API server would store it."""
    indented = "\n" + "    " + config.replace("\n", "\n    ")
    document = "data:\n  tap-config.yaml: |" + indented.replace("\n", "\n  ") + "\n"
    return yaml.safe_load(document)["data"]["tap-config.yaml"]


def test_line_ends_and_final_newlines_do_not_change_the_digest():
    committed = (REPO / "snapshots/dev/qtap-config.yaml").read_bytes()
    assert committed.endswith(b"\n")
    assert not committed.endswith(b"\n\n")
    assert b"\r" not in committed
    variants = [
        committed.replace(b"\n", b"\r\n"),  # CRLF
        committed.rstrip(b"\n"),  # no final newline
        committed + b"\n\n\n",  # several final newlines
    ]
    reference = check_snapshot_bytes(committed, "dev.yaml").snapshot
    assert reference is not None
    # A committed snapshot is mounted as it is: its digest is that of its bytes.
    assert reference.sha256 == hashlib.sha256(committed).hexdigest()
    for variant in variants:
        snapshot = check_snapshot_bytes(variant, "variant.yaml").snapshot
        assert snapshot is not None
        assert snapshot.raw == variant  # the bytes sent to the chart stay the file's
        assert snapshot.sha256 == reference.sha256  # but the pods do not roll for nothing


LINE = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\x85"
    ),
    max_size=20,
).filter(lambda line: line.strip(" ") == line or line.strip())


@given(
    first=st.from_regex(r"[a-z][a-z_]{0,8}: [a-z0-9]{1,8}", fullmatch=True),
    rest=st.lists(LINE, max_size=6),
    crlf=st.booleans(),
    final=st.integers(min_value=0, max_value=3),
)
def test_the_mounted_form_is_what_yaml_reads_from_the_charts_block(first, rest, crlf, final):
    body = "\n".join([first, *rest]).rstrip("\n")
    text = body + "\n" * final
    if crlf:
        text = text.replace("\n", "\r\n")
    # What Helm renders: the value's CRLF stays inside the block, and YAML reads it as LF.
    read = rendered_configmap_value(text)
    assert read.encode() == mounted_form(text.encode())
    assert mounted_sha256(text.encode()) == hashlib.sha256(read.encode()).hexdigest()

"""Keys with look-alike characters get a warning of their own (issue 17, item 4): in a snapshot
and in a stack file, each naming the characters by code point."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from qtap_gitops.homoglyph import non_ascii_key
from qtap_gitops.provider_settings import check_stack_file
from qtap_gitops.settings import RawStackConfig
from qtap_gitops.snapshot import check_snapshot_bytes
from tests.conftest import REPO

CYRILLIC_A = "\u0430"


def test_a_snapshot_key_with_a_cyrillic_letter_is_named_by_code_point():
    text = (REPO / "snapshots/dev/qtap-config.yaml").read_text()
    assert "\nversion: 2\n" in f"\n{text}"
    hostile = text.replace("version: 2", f"version: 2\nt{CYRILLIC_A}p: {{}}", 1)
    report = check_snapshot_bytes(hostile.encode(), "snap.yaml")
    found = [p for p in report.problems if p.code == "non-ascii-key"]
    assert len(found) == 1
    assert not found[0].is_error
    assert "U+0430 CYRILLIC SMALL LETTER A" in found[0].message
    assert "mixes the CYRILLIC and LATIN scripts" in found[0].message
    assert found[0].line is not None


def test_a_stack_file_key_with_a_greek_letter_is_a_warning_of_its_own():
    raw = RawStackConfig(
        stack="dev",
        source="Pulumi.dev.yaml",
        values={"pulumi:disable-default-providers": '["*"]', "aws:regi\u03bfn": "us-east-1"},
        positions={"aws:regi\u03bfn": (4, 3)},
    )
    found = [p for p in check_stack_file(raw) if p.code == "non-ascii-key"]
    assert len(found) == 1
    assert (found[0].line, found[0].column) == (4, 3)
    assert "U+03BF GREEK SMALL LETTER OMICRON" in found[0].message
    assert found[0].fix


def test_ascii_keys_are_left_alone():
    assert non_ascii_key("access_key") is None


@given(st.text(min_size=1, max_size=200))
def test_any_key_is_answered_briefly(key: str):
    answer = non_ascii_key(key)
    assert (answer is None) == key.isascii()
    if answer is not None:
        assert len(answer) < 600  # at most four characters are named

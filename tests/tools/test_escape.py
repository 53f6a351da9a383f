"""The escaping every command's output goes through: input adds words, never structure."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from qtapctl.escape import md_code, md_fence, md_text, terminal_block, terminal_line
from tests.tools.test_properties import budget

anything = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
        st.sampled_from("\x00\x1b\r\n\t\x7f\x85\u2028\u202e\u2066|`<>&*_[]#~\\"),
    )
)


def invisible(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]


@budget(ci=300)
@given(anything)
def test_terminal_line_has_no_invisible_character_and_no_line_break(value: str):
    shown = terminal_line(value)
    assert invisible(shown) == []


@budget(ci=300)
@given(anything)
def test_terminal_block_keeps_only_line_breaks_and_tabs(value: str):
    assert set(invisible(terminal_block(value))) <= {"\n", "\t"}


@budget(ci=300)
@given(anything)
def test_markdown_text_holds_no_markdown_or_html_syntax(value: str):
    for shown in (md_text(value), md_code(value)[len("<code>") : -len("</code>")]):
        assert invisible(shown) == []
        bare = re.sub(r"&#\d+;", "", shown)
        assert not set(bare) & set("|`<>*_[]#~\\!\n&"), shown
        # Every `&` starts a numeric character reference: nothing else can be an entity.
        assert all(re.match(r"&#\d+;", shown[i:]) for i, c in enumerate(shown) if c == "&")


@budget(ci=300)
@given(anything, st.sampled_from(["text", "yaml"]))
def test_a_fenced_block_is_closed_only_by_its_own_fence(value: str, info: str):
    block = md_fence(value, info)
    lines = block.split("\n")
    opening = lines[0][: -len(info)]
    assert set(opening) == {"`"}
    assert len(opening) >= 3
    assert lines[-2] == opening
    assert lines[-1] == ""
    # No line inside starts with a backtick run as long as the fence (CommonMark closing rule).
    for line in lines[1:-2]:
        run = re.match(r" {0,3}(`+)", line)
        assert not run or len(run.group(1)) < len(opening), line


def test_examples_from_the_issue():
    assert terminal_line("key\x1b[31m\r\n") == "key\\x1b[31m\\x0d\\x0a"
    assert md_text("a|b`c`\n<b>&") == "a&#124;b&#96;c&#96;&#92;x0a&#60;b&#62;&#38;"
    assert md_fence("```\ninside\n```") == "````text\n```\ninside\n```\n````\n"

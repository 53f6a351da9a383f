"""Properties of the contract for any input: generated YAML documents and stack files.

Whatever a pull request commits, checking it must return problems (never raise), in bounded
time, and never show a credential planted in the file. Documents are generated from random
shapes, types, tags, anchors and aliases (nested "billion laughs" and recursive ones included),
unicode and control characters, and as mutations of the committed snapshots.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from qtap_gitops.problems import Problem
from qtap_gitops.provider_settings import check_stack_file
from qtap_gitops.release_values import check_chart_values
from qtap_gitops.settings import check_settings
from qtap_gitops.snapshot import SnapshotReport, check_snapshot_bytes
from qtap_gitops.stackfile import find_project, load_stack_config
from qtap_gitops.yamldiff import diff_yaml, show
from qtap_gitops.yamlsource import MAX_NODES
from tests.conftest import REPO, STACKS, copy_project

FILE = "snapshots/test/qtap-config.yaml"
REAL = {stack: (REPO / "snapshots" / stack / "qtap-config.yaml").read_text() for stack in STACKS}
TIME_BOUND = 5.0  # seconds; a guard against hangs, far above the benchmark's numbers

# A credential never has the shape of an env variable name (it holds '-'), so no message may
# show it, whichever position it is planted in.
secrets = st.from_regex(r"sk-[a-z0-9]{16}", fullmatch=True)

scalars = st.one_of(
    st.sampled_from(
        [
            "",
            "~",
            "null",
            "yes",
            "no",
            "on",
            "off",
            "y",
            "true",
            "False",
            "0x1F",
            "012",
            "1e3",
            ".inf",
            "-.nan",
            "2",
            "2.0",
            "env",
            "text",
            "s3",
            "pulse",
            "s3.amazonaws.com",
            "us-east-1",
            "<<",
            "{{DIGEST}}",
            "0o17",
            "+1_000",
            "- a",
            ": b",
            "#c",
            "&a",
            "*a",
            "!tag",
            "%x",
            "|",
            ">",
        ]
    ),
    st.sampled_from(["9" * 5000, "0x" + "f" * 5000, "1e999", "-" + "1" * 30, "0b" + "1" * 70]),
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
)
tags = st.sampled_from(
    [
        "",
        "",
        "",
        "!!str ",
        "!!int ",
        "!!bool ",
        "!!float ",
        "!!null ",
        "!!binary ",
        "!foo ",
        "!!set ",
        "!!timestamp ",
        "! ",
        "!!map ",
        "!!seq ",
        "!<tag:yaml.org,2002:str> ",
    ]
)


def quoted(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else json.dumps(value)


@st.composite
def flow_values(draw: st.DrawFn, depth: int = 0) -> str:
    """A YAML flow value: scalars in any style, tags, anchors, aliases, nested collections."""
    choice = draw(st.integers(0, 9 if depth < 6 else 3))
    tag = draw(tags)
    if choice <= 1:
        return tag + quoted(draw(scalars))
    if choice == 2:
        text = draw(scalars)
        return tag + (
            str(text) if not isinstance(text, str) else "'" + text.replace("'", "''") + "'"
        )
    if choice == 3:
        return "*" + draw(st.sampled_from(["a", "b", "c"]))
    anchor = draw(st.sampled_from(["", "", "&a ", "&b ", "&c "]))
    if choice <= 6:
        items = draw(st.lists(flow_values(depth + 1), max_size=4))
        return f"{anchor}{tag}[" + ", ".join(items) + "]"
    keys = draw(st.lists(st.one_of(scalars, st.just("<<")), max_size=4))
    values = [draw(flow_values(depth + 1)) for _ in keys]
    pairs = ", ".join(
        f"{quoted(k) if draw(st.booleans()) else k}: {v}"
        for k, v in zip(keys, values, strict=False)
    )
    return f"{anchor}{tag}{{{pairs}}}"


@st.composite
def billion_laughs(draw: st.DrawFn) -> tuple[str, bool]:
    """(a document of nested aliases, whether it expands beyond the node budget or recurses)."""
    depth = draw(st.integers(2, 12))
    width = draw(st.integers(2, 12))
    lines = ["  l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, depth):
        lines.append(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    recursive = draw(st.booleans())
    if recursive:  # an alias to an anchor still being read
        lines.append("  r: &r [a, {b: *r}]")
    under = draw(st.sampled_from(["unknown", "tap", "stacks", "services"]))
    text = f"version: 2\n{under}:\n" + "\n".join(lines) + "\n"
    return text, recursive or width**depth > MAX_NODES


@st.composite
def mutated_snapshots(draw: st.DrawFn) -> tuple[str, str]:
    """(a committed snapshot with a few lines changed, the credential planted in it)."""
    secret = draw(secrets)
    lines = draw(st.sampled_from(sorted(REAL.values()))).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        indent = line[: len(line) - len(line.lstrip())]
        key = line.strip().split(":", 1)[0].lstrip("- ") or "x"
        kind = draw(st.integers(0, 6))
        if kind == 0:
            lines[index] = f"{indent}{key}: {draw(flow_values())}"
        elif kind == 1:
            lines.insert(index, f"{indent}{draw(scalars)}: {draw(flow_values())}")
        elif kind == 2:
            del lines[index]
        elif kind == 3:
            position = draw(st.integers(0, len(line)))
            char = draw(st.characters(codec="utf-8"))
            lines[index] = line[:position] + char + line[position:]
        elif kind == 4:
            lines[index] = f"{indent}{key}: " + draw(
                st.sampled_from(["yes", "on", "'yes'", "Y", "[true]", "{a: b}", "!!binary eWVz"])
            )
        else:
            lines[index] = line.replace(key, draw(st.text(min_size=1, max_size=6)), 1)
    # Plant the credential in one of the positions the contract classifies as secret.
    planted = draw(
        st.sampled_from(
            [
                f"token: {secret}",
                f"token: {{type: text, value: {secret}}}",
                f"token: {{type: {secret}, value: X}}",
                f"token: {{type: env, value: {secret}}}",
                f"token: [{secret}]",
                f"access_key: {secret}",
                f"secret_key: {{type: [text], value: {secret}}}",
                f"headers: {{Authorization: {secret}}}",
                f"headers: {{X-Key: {{type: text, value: {secret}}}}}",
            ]
        )
    )
    text = "\n".join(lines)
    marker = "      token:\n        type: env\n        value: REGISTRATION_TOKEN"
    if marker in text:
        text = text.replace(marker, "      " + planted, 1)
    else:
        text = text.replace("      type: pulse", "      type: pulse\n      " + planted, 1)
    return text, secret


def checked(raw: bytes) -> SnapshotReport:
    started = time.perf_counter()
    report = check_snapshot_bytes(raw, FILE)
    assert time.perf_counter() - started < TIME_BOUND
    assert isinstance(report, SnapshotReport)
    assert (report.snapshot is None) == bool(report.errors)
    for problem in report.problems:
        problem.format()
    return report


def shown(problems: list[Problem]) -> str:
    return "\n".join(p.format() for p in problems)


@given(st.lists(st.tuples(scalars, flow_values()), max_size=6), st.booleans())
def test_any_generated_document_is_decided_without_an_exception(pairs, version):
    head = "version: 2\n" if version else ""
    body = "".join(f"{quoted(key)}: {value}\n" for key, value in pairs)
    checked((head + body).encode())


@given(
    st.text(
        alphabet=st.sampled_from(list(":-[]{}&*!|>'\"#%@`,?~\n \t\r\0\x1b\u2028\ufeffab1")),
        max_size=200,
    )
)
def test_yaml_token_soup_is_decided_without_an_exception(text):
    checked(text.encode())


@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_decided_without_an_exception(raw):
    checked(raw)


@given(billion_laughs())
def test_alias_bombs_and_recursive_aliases_are_refused_in_bounded_time(case):
    text, refused = case
    report = checked(text.encode())
    codes = {p.code for p in report.errors}
    if refused:
        assert codes & {"yaml-too-large", "yaml-alias-recursive"}, codes


@given(mutated_snapshots())
def test_mutated_real_snapshots_never_show_a_planted_credential(case):
    text, secret = case
    report = checked(text.encode())
    assert secret not in shown(report.problems)
    for change in diff_yaml(REAL["dev"], text):
        assert secret not in f"{change.path} {show(change.old)} {show(change.new)}"


stack_values = st.recursive(
    st.one_of(scalars, secrets),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
SETTING_KEYS = [
    "chart",
    "vault",
    "objectStore",
    "namespace",
    "snapshot",
    "secretEnv",
    "registrationToken",
    "strictSnapshot",
    "keyVersion",
    "identity",
    "eks",
    "delivery",
    "secrets",
    "fleet",
    "unknown",
]


@given(
    st.dictionaries(st.sampled_from(SETTING_KEYS), stack_values, max_size=5),
    secrets,
    st.sampled_from(["registrationToken", "secretEnv"]),
)
def test_random_stack_files_never_raise_and_never_show_a_secret(values, secret, where):
    # The credential is planted only where a secret belongs; elsewhere it is not one.
    assume(secret not in json.dumps(values))
    values = dict(values)
    values[where] = secret if where == "registrationToken" else {"AXIOM_TOKEN": secret}
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_project(Path(tmp) / "project")
        config = {f"qtap:{key}": value for key, value in values.items()}
        (project / "Pulumi.dev.yaml").write_text(json.dumps({"config": config}))
        started = time.perf_counter()
        raw, problems = load_stack_config(find_project(project), "dev")
        if raw is not None:
            _, problems = check_settings(raw)
            problems += check_stack_file(raw)
            # Every settings problem says where and how to fix it.
            assert all(p.fix and p.line is not None for p in problems), shown(problems)
            chart = values.get("chart")
            if isinstance(chart, dict) and isinstance(chart.get("values"), dict):
                problems += check_chart_values(chart["values"], raw.source, raw.positions)
        assert time.perf_counter() - started < TIME_BOUND
        assert secret not in shown(problems)

"""Properties of the command line on hostile project files (issue 8), checked with Hypothesis.

Generated YAML documents (random shapes, scalar types, tags, anchors and aliases, unicode and
control characters, non-string keys) and generated stack settings replace a copied project's
snapshot or a stack file; then `check`, `plan` (text, json, markdown) and `import` run in this
process. Whatever the input:

- no exception escapes `main`, and the exit status is 0 or 1 (2 only for the documented usage
  errors, which these inputs never are);
- a credential planted in a credential position never appears in any output;
- nothing is written anywhere but the stack's snapshot path (and only by `import`);
- every run finishes in bounded time.

Profiles: "ci" (default) is deterministic and runs a few hundred examples in all;
HYPOTHESIS_PROFILE=thorough runs thousands.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from tests.conftest import copy_project
from tests.tools.cli import Run, qtapctl_inprocess

# The same profiles as the contract suite registers (tests/hypothesis_profiles.py); registered
# here too when that module is not loaded, so this suite runs on its own.
for _name, _options in (
    ("ci", {"derandomize": True, "max_examples": 150, "database": None}),
    ("thorough", {"max_examples": 3000}),
):
    try:
        settings.get_profile(_name)
    except InvalidArgument:
        settings.register_profile(
            _name,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            **_options,  # type: ignore[arg-type]
        )
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")


def budget(ci: int) -> settings:
    """`ci` examples in CI (the CLI runs whole commands), the profile's count otherwise."""
    profile = settings.get_profile(PROFILE)
    return settings(
        profile,
        max_examples=ci if PROFILE == "ci" else profile.max_examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
            HealthCheck.filter_too_much,
        ],
    )


SECONDS_PER_RUN = 20.0  # a plan runs the whole program under the mock engine

# -- generated YAML ------------------------------------------------------------------------

NASTY_CHARACTERS = "\x00\x07\x08\x1b\r\x0b\x0c\x7f\x85\u2028\u2029\u202e\u2066\ufeff"
YAML_WORDS = [
    "yes", "no", "on", "off", "y", "n", "~", "null", "true", "False", ".inf", "-.nan", "0x1F",
    "0o17", "1_000", "2001-12-14", "²", "٣", "1e400", "-0", "<<", "=", "!", "&", "*", "|", ">",
    "'", '"', "#", "%", "@", "`", "{{DIGEST}}", "$(id)", "${HOME}", "../../etc/passwd",
]  # fmt: skip
TAGS = ["!!str", "!!int", "!!float", "!!bool", "!!null", "!!binary", "!!set", "!!omap",
        "!custom", "!!python/object:os.system", "!<tag:yaml.org,2002:str>"]  # fmt: skip

text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
        st.sampled_from(NASTY_CHARACTERS),
    ),
    max_size=20,
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
    st.sampled_from(YAML_WORDS),
)


def plain(value: Any) -> str:
    """A scalar as YAML: JSON text is a valid YAML flow scalar (control characters escaped),
    or sometimes bare, so the YAML parser reads it its own way."""
    if isinstance(value, float) and value != value:
        return ".nan"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "-.inf" if value < 0 else ".inf"
    return json.dumps(value, ensure_ascii=False)


@st.composite
def nodes(draw: st.DrawFn, depth: int = 0) -> str:
    """One YAML node in flow style, with optional tags, anchors and aliases."""
    kind = draw(st.integers(0, 9 if depth < 4 else 3))
    if kind <= 1:
        node = plain(draw(scalars))
    elif kind == 2:
        node = draw(st.sampled_from(YAML_WORDS))
    elif kind == 3:
        node = "*a"  # an alias to an anchor that may or may not exist yet (even itself)
    elif kind <= 6:
        items = draw(st.lists(nodes(depth + 1), max_size=4))
        node = "[" + ", ".join(items) + "]"
    else:
        keys = draw(st.lists(st.one_of(nodes(depth + 1), st.sampled_from(YAML_WORDS)), max_size=4))
        values = draw(st.lists(nodes(depth + 1), min_size=len(keys), max_size=len(keys)))
        node = "{" + ", ".join(f"? {k} : {v}" for k, v in zip(keys, values, strict=True)) + "}"
    if draw(st.integers(0, 9)) == 0:
        node = f"{draw(st.sampled_from(TAGS))} {node}"
    if draw(st.integers(0, 9)) == 0:
        node = f"&a {node}"
    return node


SECRET_PREFIX = "plantedSecret"
secrets = st.from_regex(r"[A-Za-z0-9]{12,20}", fullmatch=True).map(lambda s: SECRET_PREFIX + s)

BASE = (Path(__file__).resolve().parents[2] / "snapshots/dev/qtap-config.yaml").read_text()
CREDENTIAL_SITES = [
    # (text in the real snapshot, replacement with {secret})
    ("        type: env\n        value: REGISTRATION_TOKEN", "        type: text\n        value: {secret}"),
    ("      token:\n        type: env\n        value: REGISTRATION_TOKEN", "      token: {secret}"),
    ("        value: REGISTRATION_TOKEN", "        value: {secret}"),
    ("      access_key:\n        type: env\n        value: S3_ACCESS_KEY", "      access_key: {secret}"),
    ("        value: S3_SECRET_KEY", "        value: {secret}"),
    ("      secret_key:\n        type: env\n        value: S3_SECRET_KEY", "      secret_key: {{type: text, value: {secret}}}"),
    ("      url: https://api-pulse.qpoint.io\n", "      url: https://api-pulse.qpoint.io\n      headers: {{Authorization: {secret}}}\n"),
]  # fmt: skip


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A snapshot: a whole generated document, or the real one with a generated fragment
    spliced in and maybe a planted credential. Returns (bytes, planted secret or None)."""
    secret: str | None = None
    if draw(st.booleans()):
        document = draw(nodes())
        if draw(st.booleans()):
            document = "version: 2\nextra: " + document + "\n"
    else:
        document = BASE
        lines = document.split("\n")
        at = draw(st.integers(0, len(lines) - 1))
        if draw(st.booleans()):
            # Replace the value of one line, keeping its key and indentation.
            key, sep, _ = lines[at].partition(":")
            if sep:
                lines[at] = f"{key}: {draw(nodes())}"
        else:
            indent = len(lines[at]) - len(lines[at].lstrip())
            key = plain(draw(scalars))
            lines.insert(at, " " * indent + f"{key}: {draw(nodes())}")
        document = "\n".join(lines)
        if draw(st.booleans()):
            secret = draw(secrets)
            old, new = draw(st.sampled_from(CREDENTIAL_SITES))
            if old in document:
                document = document.replace(old, new.format(secret=secret), 1)
            else:
                secret = None
    encoded = document.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 19)) == 0:
        encoded += b"\xff\xfe"  # not UTF-8
    return encoded, secret


SETTINGS = [
    "qtap:snapshot", "qtap:secretEnv", "qtap:namespace", "qtap:registrationToken",
    "qtap:chart", "qtap:vault", "qtap:objectStore", "qtap:strictSnapshot", "qtap:delivery",
    "qtap:secrets", "qtap:eks", "aws:region",
]  # fmt: skip


@st.composite
def stack_files(draw: st.DrawFn) -> tuple[str, str | None]:
    """Pulumi.dev.yaml with one setting replaced by a generated node (maybe a planted plain
    registration token or secretEnv value, which must be refused without being echoed)."""
    text_ = (Path(__file__).resolve().parents[2] / "Pulumi.dev.yaml").read_text()
    key = draw(st.sampled_from(SETTINGS))
    secret: str | None = None
    if key in ("qtap:registrationToken", "qtap:secretEnv") and draw(st.booleans()):
        secret = draw(secrets)
        value = secret if key == "qtap:registrationToken" else f"{{AXIOM_TOKEN: {secret}}}"
    else:
        value = draw(nodes())
    return with_setting(text_, key, value), secret


def with_setting(stack_file: str, key: str, value: str) -> str:
    """`stack_file` with `key` (a top-level config key) set to `value`, replacing its block."""
    lines = stack_file.split("\n")
    out: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith(f"  {key}:"):
            skipping = True
            continue
        if skipping and (line.startswith("   ") or not line.strip()):
            continue
        skipping = False
        out.append(line)
    return "\n".join(out).replace("config:\n", f"config:\n  {key}: {value}\n", 1)


# -- running the commands ------------------------------------------------------------------


def files(root: Path) -> dict[str, tuple[str, bytes | str]]:
    found: dict[str, tuple[str, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        relative = str(path.relative_to(root))
        if stat.S_ISLNK(info.st_mode):
            found[relative] = ("link", os.readlink(path))
        elif stat.S_ISREG(info.st_mode):
            found[relative] = (oct(info.st_mode), path.read_bytes())
        else:
            found[relative] = (oct(info.st_mode), b"")
    return found


@contextmanager
def project() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="qtap-prop-") as scratch:
        yield copy_project(Path(scratch) / "project")


def run(project_dir: Path, *args: str, stdin: bytes = b"", secret: str | None = None) -> Run:
    started = time.monotonic()
    result = qtapctl_inprocess("--project-dir", str(project_dir), *args, stdin=stdin)
    elapsed = time.monotonic() - started
    assert elapsed < SECONDS_PER_RUN, f"{args} took {elapsed:.1f}s"
    assert result.status in (0, 1), (args, result.status, result.output[-2000:])
    assert "Traceback" not in result.output
    if secret is not None:
        assert secret not in result.output, (args, "planted credential echoed")
    return result


def unchanged_outside(before: dict[str, Any], after: dict[str, Any], allowed: str | None) -> None:
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed <= ({allowed} if allowed else set()), sorted(changed)


SNAPSHOT = "snapshots/dev/qtap-config.yaml"


@budget(ci=70)
@given(snapshot=snapshots(), fmt=st.sampled_from(["text", "json", "markdown"]))
def test_check_and_plan_of_any_snapshot_end_cleanly_and_write_nothing(
    snapshot: tuple[bytes, str | None], fmt: str
):
    data, _ = snapshot
    with project() as copy:
        (copy / SNAPSHOT).write_bytes(data)
        before = files(copy.parent)
        checked = run(copy, "check", "dev")
        planned = run(copy, "plan", "dev", "--format", fmt)
        event(f"check exit {checked.status}")  # --hypothesis-show-statistics: how many plan
        # plan refuses exactly what check refuses
        assert planned.status == checked.status, "plan and check disagree"
        unchanged_outside(before, files(copy.parent), None)


@budget(ci=70)
@given(snapshot=snapshots())
def test_import_of_any_export_writes_only_the_snapshot_and_only_when_valid(
    snapshot: tuple[bytes, str | None],
):
    data, _ = snapshot
    with project() as copy:
        before = files(copy.parent)
        imported = run(copy, "import", "dev", stdin=data)
        after = files(copy.parent)
        unchanged_outside(before, after, f"project/{SNAPSHOT}")
        if imported.status == 0:
            assert (copy / SNAPSHOT).read_bytes() == data
            assert after[f"project/{SNAPSHOT}"][0] == before[f"project/{SNAPSHOT}"][0]
            assert run(copy, "check", "dev").status == 0, "import wrote what check refuses"
        else:
            assert after == before


@budget(ci=60)
@given(stack_file=stack_files(), fmt=st.sampled_from(["text", "json", "markdown"]))
def test_any_stack_setting_ends_cleanly_and_writes_nothing(
    stack_file: tuple[str, str | None], fmt: str
):
    content, _ = stack_file
    with project() as copy:
        (copy / "Pulumi.dev.yaml").write_text(content)
        before = files(copy.parent)
        checked = run(copy, "check")
        planned = run(copy, "plan", "dev", "--format", fmt)
        dev_ok = "== stack dev: ok" in checked.stdout and "across stacks" not in checked.stdout
        assert planned.status == (0 if dev_ok else 1), "plan and check disagree"
        run(copy, "import", "dev", stdin=(copy / SNAPSHOT).read_bytes() + b"# again\n")
        after = files(copy.parent)
        unchanged_outside(before, after, f"project/{SNAPSHOT}")


@budget(ci=40)
@given(snapshot=snapshots().filter(lambda s: s[1] is not None))
def test_a_credential_planted_in_a_snapshot_never_appears_in_any_output(
    snapshot: tuple[bytes, str | None],
):
    data, secret = snapshot
    with project() as copy:
        run(copy, "import", "dev", stdin=data, secret=secret)
        (copy / SNAPSHOT).write_bytes(data)
        run(copy, "check", "dev", secret=secret)
        for fmt in ("text", "json", "markdown"):
            run(copy, "plan", "dev", "--format", fmt, secret=secret)


@budget(ci=30)
@given(stack_file=stack_files().filter(lambda s: s[1] is not None))
def test_a_credential_planted_in_a_stack_file_never_appears_in_any_output(
    stack_file: tuple[str, str | None],
):
    content, secret = stack_file
    with project() as copy:
        (copy / "Pulumi.dev.yaml").write_text(content)
        run(copy, "check", "dev", secret=secret)
        for fmt in ("text", "json", "markdown"):
            run(copy, "plan", "dev", "--format", fmt, secret=secret)

"""Properties of check, plan and diff over generated stack files (issue 17), with Hypothesis.

A generated `Pulumi.dev.yaml` has any mix of: an `environment:` block (imports, inline
`values.pulumiConfig` with plain, `fn::secret` and other `fn::` values, junk shapes), `secure:`
values, and a file kind other than a plain file (a symlink to a file outside the project
holding a marker, to /dev/zero, a FIFO, a directory, an oversized file). Whatever it is:

- no exception escapes `main`; the exit status is 0 or 1 (2 only for a broken Pulumi.yaml,
  which these inputs never are);
- nothing outside the project is printed (the marker, a planted `fn::secret` plaintext or a
  ciphertext never appears), and nothing is written anywhere;
- each run ends in bounded time and bounded memory (a /dev/zero stack file is not read);
- `diff --format stacks` lists dev whenever its stack file changed in a way a deployment sees.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import REPO, copy_project
from tests.tools.cli import Run, qtapctl_inprocess
from tests.tools.test_properties import budget, files, nodes, unchanged_outside

OUTSIDE_MARKER = "OUTSIDE-PROPERTY-MARKER-7d0c"
PLANTED = "PLANTEDsecretVALUE"
SECONDS_PER_RUN = 30.0
MEMORY_GROWTH_KIB = 512 * 1024  # ru_maxrss is in KiB on Linux

names = st.from_regex(r"[a-z]{1,6}/[a-z]{1,6}(@[0-9]{1,2})?", fullmatch=True)
pulumi_keys = st.sampled_from(
    [
        "qtap:namespace",
        "qtap:objectStore",
        "qtap:chart",
        "qtap:registrationToken",
        "aws:region",
        "qtap:secretEnv",
        "plainkey",
        "qtap:unknownKey",
    ]
)


@st.composite
def esc_values(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["node", "secret", "function", "secure"]))
    if kind == "secret":
        return f'{{"fn::secret": "{PLANTED}{draw(st.integers(0, 99))}"}}'
    if kind == "function":
        return '{"fn::open::aws-login": {"oidc": {"roleArn": "x"}}}'
    if kind == "secure":
        return f'{{"secure": "v1:{PLANTED}"}}'
    return str(draw(nodes()))


@st.composite
def environments(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(["list", "inline", "junk", "none"]))
    if shape == "none":
        return ""
    imports = draw(st.lists(names, max_size=3))
    if shape == "list":
        return f"environment: {json.dumps(imports)}\n"
    if shape == "junk":
        return f"environment: {draw(nodes())}\n"
    config = draw(st.dictionaries(pulumi_keys, esc_values(), max_size=3))
    body = ", ".join(f"{json.dumps(k)}: {v}" for k, v in config.items())
    return (
        f"environment: {{imports: {json.dumps(imports)}, values: {{pulumiConfig: {{{body}}}}}}}\n"
    )


@st.composite
def stack_file_texts(draw: st.DrawFn) -> str:
    text = (REPO / "Pulumi.dev.yaml").read_text()
    if draw(st.booleans()):
        text += f"  qtap:registrationToken:\n    secure: v1:{PLANTED}{draw(st.integers(0, 9))}\n"
    return text + draw(environments())


KINDS = ["plain", "plain", "plain", "outside", "dev-zero", "fifo", "directory", "huge"]


@contextmanager
def repository() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="qtap-stackprop-") as scratch:
        project = copy_project(Path(scratch) / "project")
        outside = Path(scratch) / "outside.yaml"
        outside.write_text(f"config:\n  qtap:namespace: {OUTSIDE_MARKER}\n")
        git = ["git", "-C", str(project)]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run(
            [*git, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "b"],
            check=True,
        )
        yield project


def place(project: Path, kind: str, text: str) -> None:
    path = project / "Pulumi.dev.yaml"
    path.unlink()
    if kind == "plain":
        path.write_text(text)
    elif kind == "outside":
        path.symlink_to(project.parent / "outside.yaml")
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path.write_text(text + "#" * (2 * 1024 * 1024) + "\n")


def run(project: Path, *args: str) -> Run:
    started = time.monotonic()
    result = qtapctl_inprocess("--project-dir", str(project), *args)
    assert time.monotonic() - started < SECONDS_PER_RUN, args
    assert result.status in (0, 1), (args, result.status, result.output[-2000:])
    assert "Traceback" not in result.output
    assert OUTSIDE_MARKER not in result.output, (args, "content outside the project printed")
    assert PLANTED not in result.output, (args, "a secret or ciphertext printed")
    return result


@budget(ci=8)
@given(text=stack_file_texts(), kind=st.sampled_from(KINDS))
def test_check_plan_and_diff_of_any_stack_file_end_cleanly(text: str, kind: str):
    memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with repository() as project:
        place(project, kind, text)
        before = files(project.parent)
        run(project, "check", "dev")
        run(project, "plan", "dev", "--format", "markdown")
        listed = run(project, "diff", "--base", "HEAD", "--format", "stacks")
        run(project, "diff", "--base", "HEAD", "--format", "markdown")
        unchanged_outside(before, files(project.parent), None)
        if kind != "plain" or text != (REPO / "Pulumi.dev.yaml").read_text():
            # A changed stack file is either seen by the deployment or fails in head: listed.
            assert "dev" in json.loads(listed.stdout), (kind, text[-400:])
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory < MEMORY_GROWTH_KIB

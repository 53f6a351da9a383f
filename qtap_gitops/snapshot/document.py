"""The snapshot as a file: size, encoding, what the chart can embed, and the root mapping.

The chart puts the snapshot into its ConfigMap as `tap-config.yaml: |` followed by
`{{ .Values.config | nindent 4 }}` (qtap chart templates/configmap.yaml). A YAML literal block
takes its indentation from its first non-empty line, and `nindent` indents only after "\\n".
So the file must start with a non-blank, unindented line, and must not use line breaks other
than "\\n" or "\\r\\n" (YAML also breaks lines at a lone "\\r", U+0085, U+2028 and U+2029, which
`nindent` would leave unindented, ending the block early). A byte order mark would land inside
the rendered block, where YAML does not allow one.
"""

from __future__ import annotations

import re
from pathlib import Path

from .. import qtap_conformance as qc
from .. import qtap_schema as qs
from ..problems import ContractError, Problem, cap_problems, problem
from ..yamlsource import View, parse_yaml
from .model import MAX_SNAPSHOT_BYTES, Context, Snapshot, SnapshotReport, unknown_keys
from .rules import check_control, check_rulekit, check_tags
from .services import check_services, check_store_links
from .shapes import CONFIG, decode
from .stacks import check_stacks
from .tap import check_tap

_EXPORT_AGAIN = "export the snapshot again from Qplane (Settings -> Snapshot)"
_ODD_BREAK = re.compile("\r(?!\n)|[\x85\u2028\u2029]")


def check_snapshot(
    path: Path, display: str | None = None, *, strict: bool = False
) -> SnapshotReport:
    """Read and check the snapshot at `path`; `display` is the name used in messages."""
    file = display or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return _file_error(
            file,
            "snapshot-missing",
            "the snapshot file does not exist",
            f"export the snapshot from Qplane (Settings -> Snapshot) and commit it as {file}, "
            "or point qtap:snapshot at the committed file",
        )
    except IsADirectoryError:
        return _file_error(
            file,
            "snapshot-missing",
            "the snapshot path is a directory",
            "name the YAML file itself",
        )
    except OSError as exc:
        return _file_error(file, "snapshot-unreadable", f"cannot read the file: {exc.strerror}", "")
    return check_snapshot_bytes(raw, file, strict=strict)


def check_snapshot_bytes(raw: bytes, file: str, *, strict: bool = False) -> SnapshotReport:
    if len(raw) > MAX_SNAPSHOT_BYTES:
        return _file_error(
            file,
            "snapshot-too-large",
            f"the snapshot is {len(raw)} bytes; a ConfigMap holds at most {MAX_SNAPSHOT_BYTES}",
            "export a smaller configuration; a snapshot this large is almost certainly not a "
            "Qplane export",
        )
    if not raw.strip():
        return _file_error(
            file,
            "snapshot-empty",
            "the snapshot file is empty",
            "paste the YAML from Qplane (Settings -> Snapshot) into the file",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return SnapshotReport(
            file,
            [
                problem(
                    "snapshot-not-utf8",
                    file,
                    (line, column),
                    "",
                    f"byte 0x{raw[exc.start]:02x} at line {line}, column {column} is not UTF-8",
                    "save the file as UTF-8 (a Qplane export always is)",
                )
            ],
            None,
        )

    problems = embedding_problems(text, file)
    parsed = parse_yaml(text, file, what="snapshot")
    problems.extend(parsed.problems)
    ctx = Context(file, problems, text=text)
    root = parsed.view(file, problems)
    if root is not None:
        if root.is_mapping:
            ctx.macros = qc.declared_macros(root.plain_value())
        check_root(ctx, root)
    problems = cap_problems(_unique(problems), file)
    if strict:
        problems = [p.as_error() for p in problems]
    if root is None or any(p.is_error for p in problems):
        return SnapshotReport(file, problems, None)
    snapshot = Snapshot(
        file=file,
        raw=raw,
        env_references=tuple(ctx.references),
        s3_stores=tuple(ctx.s3_stores),
        has_pulse_store=ctx.has_pulse_store,
        warnings=tuple(problems),
    )
    return SnapshotReport(file, problems, snapshot)


def load_snapshot(path: Path, display: str | None = None, *, strict: bool = False) -> Snapshot:
    """The checked snapshot at `path`, or a `ContractError` with every problem found."""
    report = check_snapshot(path, display, strict=strict)
    if report.snapshot is None:
        raise ContractError(report.problems)
    return report.snapshot


def embedding_problems(text: str, file: str) -> list[Problem]:
    """What would break the chart's `tap-config.yaml: |` + `nindent 4` embedding."""
    problems: list[Problem] = []
    fix = f"{_EXPORT_AGAIN}, or remove what comes before its first line 'version: 2'"
    if text.startswith("\ufeff"):
        problems.append(
            problem(
                "chart-embedding",
                file,
                (1, 1),
                "",
                "the snapshot starts with a byte order mark; the chart would copy it into the "
                "middle of its ConfigMap, where YAML does not allow one",
                "save the file as UTF-8 without a byte order mark",
            )
        )
        text = text[1:]
    lines = text.split("\n")
    first = lines[0].rstrip("\r")
    if first.strip() == "":
        problems.append(
            problem(
                "chart-embedding",
                file,
                (1, 1),
                "",
                "the snapshot's first line is "
                + ("empty" if first == "" else "whitespace only")
                + "; the chart embeds the file as a YAML block ('|'), which takes its "
                "indentation from the first line, so the release would render invalid YAML",
                fix,
            )
        )
    else:
        for number, line in enumerate(lines, start=1):
            content = line.rstrip("\r")
            if content.strip() == "":
                continue
            if content[0] in " \t":
                problems.append(
                    problem(
                        "chart-embedding",
                        file,
                        (number, 1),
                        "",
                        "the snapshot's first non-empty line is indented; the chart embeds the "
                        "file as a YAML block ('|') whose indentation this line would set, so "
                        "the lines after it would fall outside the block",
                        "remove the indentation of this line (comments included)",
                    )
                )
            elif content.startswith("%"):
                problems.append(
                    problem(
                        "yaml-directive",
                        file,
                        (number, 1),
                        "",
                        "the snapshot starts with a YAML directive; Qplane never writes one, and "
                        "Qtap's yaml.v3 refuses any but %YAML 1.1",
                        "remove the directive line",
                    )
                )
            break
    match = _ODD_BREAK.search(text)
    if match is not None:
        offset = match.start()
        problems.append(
            problem(
                "chart-embedding",
                file,
                (text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1),
                "",
                f"the snapshot holds the line break U+{ord(match.group()):04X}; YAML reads it as "
                "a new line but the chart's nindent does not indent after it, so the release "
                "would render invalid YAML",
                "use plain newlines (\\n or \\r\\n) only",
            )
        )
    return problems


def check_root(ctx: Context, root: View) -> None:
    if not root.is_mapping:
        root.error(
            "root-not-mapping",
            "the snapshot must be a YAML mapping (version, services, stacks, tap), "
            f"found {root.describe()}",
            _EXPORT_AGAIN,
        )
        return
    check_version(root)
    ctx.macros = qc.declared_macros(root.plain_value())
    # The Go-struct walk reports into its own list: a part checker's more precise problem at
    # the same path (a literal credential, a bad version) wins over "cannot decode".
    shapes: list[Problem] = []
    decode(View(root.node, (), root.line, root.column, root.file, shapes), CONFIG)
    unknown_keys(root, qs.ROOT_KEYS, "the snapshot root")
    services = root.get("services")
    if services is not None and services.optional_mapping("services"):
        check_services(ctx, root.child("services"))
    stack_names: set[str] = set()
    if root.has("stacks"):
        stack_names = check_stacks(ctx, root.child("stacks"))
    if root.has("tap"):
        check_tap(root.child("tap"), stack_names)
    if root.has("tags"):
        check_tags(root.child("tags"))
    if root.has("control"):
        check_control(ctx, root.child("control"))
    if root.has("rulekit"):
        check_rulekit(ctx, root.child("rulekit"))
    if services is not None and services.is_mapping:
        check_store_links(ctx, root.child("services"))
    covered = {p.yaml_path for p in ctx.problems if p.is_error}
    ctx.problems.extend(p for p in shapes if p.yaml_path not in covered)


def check_version(root: View) -> None:
    at = root.get("version")
    if at is None:
        root.error(
            "version",
            "the snapshot has no 'version'; this program reads version 2 snapshots only",
            "export the snapshot from Qplane again; it starts with 'version: 2'",
        )
        return
    fix = (
        "export the snapshot from Qplane again (it writes 'version: 2'); an older format must "
        "be recreated in Qplane"
    )
    if at.node.kind != "scalar" or at.node.resolve() != ("tag:yaml.org,2002:int", 2):
        at.error(
            "version",
            f"version is {at.describe()}; this program reads version 2 snapshots only",
            fix,
        )


def _unique(problems: list[Problem]) -> list[Problem]:
    """Problems once each: the Go-struct walk and a part checker may find the same wrong type."""
    seen: set[tuple[object, ...]] = set()
    out = []
    for p in problems:
        key = (p.code, p.line, p.column, p.yaml_path) if p.code == "wrong-type" else (p,)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _file_error(file: str, code: str, message: str, fix: str) -> SnapshotReport:
    return SnapshotReport(file, [problem(code, file, (None, None), "", message, fix)], None)

"""Pulumi ESC environments imported by a stack settings file (`environment:` in
`Pulumi.<stack>.yaml`).

When a stack file imports environments, the Pulumi CLI opens them at deploy time and merges
their `values.pulumiConfig` into the stack's configuration, secrets included (pulumi/pulumi
`sdk/go/common/workspace/project.go`, `ProjectStack.Environment`: a list of imported
environment names, or an inline environment definition with `imports` and `values`). That is
where this project keeps each stack's registration token and `qtap:secretEnv` values, so no CI
job and no stack file holds them.

The offline tools cannot open an environment (that needs Pulumi Cloud and the right to read its
secrets), so they cannot know which keys it defines. A secret the snapshot needs and the stack
file does not hold is therefore reported as "provided at deploy time" by the imported
environment(s), not as missing. If the environment lacks it after all, `pulumi preview`/`up`
stops before registering anything, with the program's own secret-missing message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .problems import Problem, Severity, problem
from .stackfile import MAX_STACK_FILE_BYTES, FileRefusal, read_settings_file
from .yamlsource import STR, Node, Position, View, parse_yaml

ENVIRONMENT_KEY = "environment"
PROVIDED_CODE = "secret-from-environment"
MISSING_CODE = "secret-missing"
INLINE = "(inline definition)"

# `project/name`, or a bare `name` (the default project), optionally `@version` or `@tag`.
_NAME = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?(@[A-Za-z0-9_.-]+)?", re.ASCII)
# The config key a secret-missing message names (bindings.unresolved_sources).
_CONFIG_KEY = re.compile(r"qtap:(registrationToken|secretEnv\.[A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class StackEnvironments:
    """The ESC environments a stack file imports (empty when it imports none)."""

    source: str
    imports: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.imports)

    def describe(self) -> str:
        names = ", ".join(self.imports)
        if len(self.imports) == 1:
            return f"Pulumi ESC environment {names}"
        return f"one of the Pulumi ESC environments {names}"


def _shape_problem(source: str, position: Position, message: str) -> Problem:
    return problem(
        "stack-environment",
        source,
        (position[0], position[1]),
        ENVIRONMENT_KEY,
        message,
        "list the imported environments by name, e.g. `environment: [qtap/dev]` "
        "(pulumi config env add qtap/dev --stack dev writes it)",
    )


def _names(items: View | None, source: str, position: Position) -> tuple[list[str], list[Problem]]:
    names: list[str] = []
    problems: list[Problem] = []
    if items is None or items.is_null:
        return [], []
    if not items.is_sequence:
        return [], [_shape_problem(source, position, "must be a list of names")]
    for index, item in enumerate(items.elements()):
        # An import may carry options (`- qtap/dev: {merge: false}`): its name is the key.
        keys = item.keys()
        if item.is_mapping and len(keys) == 1:
            name: str | None = keys[0]
        elif item.node.kind == "scalar" and item.node.resolve()[0] == STR:
            name = item.node.text
        else:
            name = None
        if name is None or not _NAME.fullmatch(name):
            shown = item.describe() if name is None else repr(name[:60])
            problems.append(
                _shape_problem(
                    source,
                    (item.line, item.column),
                    f"item {index} is not an environment name ({shown}); expected "
                    "`project/name`, optionally with `@version`",
                )
            )
            continue
        names.append(name)
    return names, problems


def stack_environments(root: Node | None, source: str) -> tuple[StackEnvironments, list[Problem]]:
    """The environments the parsed stack file `root` imports, or the problems of its
    `environment:` key."""
    view = View(root, (), root.line, root.column, source, []) if root is not None else None
    value = view.get(ENVIRONMENT_KEY) if view is not None else None
    if value is None or value.is_null:
        return StackEnvironments(source), []
    position = (value.line, value.column)
    if value.is_mapping:
        unknown = sorted(k for k, _ in value.items() if k not in ("imports", "values"))
        if unknown:
            return StackEnvironments(source), [
                _shape_problem(
                    source,
                    position,
                    f"an inline environment has only `imports` and `values`, not {', '.join(unknown)}",
                )
            ]
        imports = value.get("imports")
        imports_position = (imports.line, imports.column) if imports is not None else position
        names, problems = _names(imports, source, imports_position)
        values = value.get("values")
        if values is not None and not values.is_null:
            names.append(INLINE)
    else:
        names, problems = _names(value, source, position)
    if problems:
        return StackEnvironments(source), problems
    if not names:
        return StackEnvironments(source), [
            _shape_problem(source, position, "imports no environment; remove the key or name one")
        ]
    return StackEnvironments(source, tuple(names)), []


def load_stack_environments(path: Path, display: str) -> tuple[StackEnvironments, list[Problem]]:
    """`stack_environments` of the stack file at `path` (shown as `display` in messages).

    A file that cannot be read or parsed yields no environments and no problems here: the
    stack file loader reports those itself, once."""
    try:
        data = read_settings_file(path, MAX_STACK_FILE_BYTES)
        if isinstance(data, FileRefusal):
            return StackEnvironments(display), []
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return StackEnvironments(display), []
    parsed = parse_yaml(text, display, what="stack settings file")
    if parsed.problems:
        return StackEnvironments(display), []
    return stack_environments(parsed.root, display)


def provided_at_deploy_time(problem: Problem, environments: StackEnvironments) -> Problem:
    """A secret-missing finding restated: the imported environment(s) provide the value."""
    match = _CONFIG_KEY.search(problem.message)
    key = f"qtap:{match[1]}" if match else "the value"
    env_name = problem.message.split(" ", 1)[0]
    where = environments.describe()
    target = environments.imports[0] if len(environments.imports) == 1 else "that environment"
    return replace(
        problem,
        severity=Severity.WARNING,
        code=PROVIDED_CODE,
        message=(
            f"{env_name} <- {key}: not in {environments.source}; provided at deploy time by "
            f"{where} (not checked offline)"
        ),
        fix=(
            f"make sure {target} defines it as a secret under values.pulumiConfig "
            f"(`esc env edit {target}`); `pulumi preview` stops if it does not"
        ),
    )


def split_pending(
    pending: Iterable[Problem], environments: StackEnvironments
) -> tuple[list[Problem], list[Problem]]:
    """(still missing, provided at deploy time): with imported environments, every secret the
    stack file lacks may come from them."""
    missing: list[Problem] = []
    provided: list[Problem] = []
    for finding in pending:
        if environments and finding.code == MISSING_CODE:
            provided.append(provided_at_deploy_time(finding, environments))
        else:
            missing.append(finding)
    return missing, provided


def required_but_unset(pending: Sequence[Problem]) -> list[Problem]:
    """Pending findings that `--require-secrets` turns into errors (the ESC ones are accepted)."""
    return [p.as_error() for p in pending if p.code != PROVIDED_CODE]

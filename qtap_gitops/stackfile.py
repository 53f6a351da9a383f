"""Read a project's stack settings files (`Pulumi.<stack>.yaml`) without the Pulumi CLI.

The offline tools see what the engine would see, in the engine's form: every value a string,
objects as JSON text. Encrypted values (`secure: v1:...`) cannot be decrypted here; they are
replaced by `SECRET_PLACEHOLDER` and their keys are marked secret, which is all the contract
needs to know about them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .problems import Problem, Severity
from .settings import RawStackConfig
from .yamlsource import Located, parse_yaml

SECRET_PLACEHOLDER = "[secret]"
PROJECT_FILE = "Pulumi.yaml"
PROMOTION_ORDER = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Project:
    directory: Path
    name: str
    stack_config_dir: Path

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"

    def display(self, path: Path) -> str:
        """`path` relative to the project directory, as messages show it."""
        try:
            return str(path.relative_to(self.directory))
        except ValueError:
            return str(path)

    def stacks(self) -> list[str]:
        """The project's stacks, in promotion order (dev, staging, prod, then the rest)."""
        names = [
            path.name[len("Pulumi.") : -len(".yaml")]
            for path in self.stack_config_dir.glob("Pulumi.*.yaml")
        ]

        def order(name: str) -> tuple[int, str]:
            rank = PROMOTION_ORDER.index(name) if name in PROMOTION_ORDER else len(PROMOTION_ORDER)
            return rank, name

        return sorted(names, key=order)


class ProjectError(Exception):
    pass


def find_project(start: Path) -> Project:
    """The Pulumi project containing `start` (the nearest directory with a Pulumi.yaml)."""
    for directory in (start.resolve(), *start.resolve().parents):
        project_file = directory / PROJECT_FILE
        if project_file.is_file():
            parsed = parse_yaml(
                project_file.read_text(encoding="utf-8"), PROJECT_FILE, what="project file"
            )
            root = parsed.root if isinstance(parsed.root, dict) else {}
            name = str(root.get("name", ""))
            config_dir = root.get("stackConfigDir") or "."
            return Project(directory, name, directory / str(config_dir))
    raise ProjectError(f"no {PROJECT_FILE} found in {start} or any parent directory")


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _plain(value: Any) -> tuple[Any, bool]:
    """`value` with secure leaves replaced by the placeholder, and whether it had any."""
    if _is_secure(value):
        return SECRET_PLACEHOLDER, True
    if isinstance(value, dict):
        found = False
        out = {}
        for key, item in value.items():
            out[str(key)], secret = _plain(item)
            found = found or secret
        return out, found
    if isinstance(value, list):
        items = [_plain(item) for item in value]
        return [item for item, _ in items], any(secret for _, secret in items)
    return value, False


def _engine_string(value: Any) -> str:
    """A config value as the engine passes it to the program."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=False, default=str)
    return str(value)


def _positions(located: Located, prefix: str) -> Iterator[tuple[str, tuple[int, int]]]:
    if located.line is not None and located.column is not None:
        yield prefix, (located.line, located.column)
    if isinstance(located.value, dict) and not _is_secure(located.value):
        for key, child in located.items():
            yield from _positions(child, f"{prefix}.{key}")


def load_stack_config(project: Project, stack: str) -> tuple[RawStackConfig | None, list[Problem]]:
    path = project.stack_file(stack)
    display = project.display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [
            Problem(
                Severity.ERROR,
                "stack-file-missing",
                display,
                None,
                None,
                "",
                f"stack {stack!r} has no settings file",
                f"create it with 'pulumi stack init {stack}' and set its configuration",
            )
        ]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [
            Problem(Severity.ERROR, "stack-file-unreadable", display, None, None, "", str(exc), "")
        ]

    parsed = parse_yaml(text, display, what="stack settings file")
    problems = list(parsed.problems)
    if parsed.root is None or problems:
        return None, problems
    if not isinstance(parsed.root, dict):
        return None, [
            Problem(
                Severity.ERROR,
                "stack-file-shape",
                display,
                1,
                1,
                "",
                "the stack settings file must be a YAML mapping",
                "see the Pulumi stack settings file reference",
            )
        ]
    config = parsed.root.get("config") or {}
    if not isinstance(config, dict):
        return None, [
            Problem(
                Severity.ERROR,
                "stack-file-shape",
                display,
                None,
                None,
                "config",
                "'config' must be a mapping of keys to values",
                "",
            )
        ]
    located = Located(parsed.root, (), 1, 1).child("config")
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    positions: dict[str, tuple[int, int]] = {}
    for key, child in located.items():
        plain, secret = _plain(child.value)
        values[key] = _engine_string(plain)
        if secret:
            secret_keys.add(key)
        positions.update(_positions(child, key))
    raw = RawStackConfig(stack, display, values, frozenset(secret_keys), positions)
    return raw, []

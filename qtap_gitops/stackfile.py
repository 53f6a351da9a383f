"""Read a project's stack settings files (`Pulumi.<stack>.yaml`) without the Pulumi CLI.

The offline tools see what the engine would see, in the engine's form: every value a string,
objects as JSON text. Encrypted values (`secure: v1:...`) cannot be decrypted here; they are
replaced by `SECRET_PLACEHOLDER` and their keys are marked secret, which is all the contract
needs to know about them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .problems import Problem, Severity, cap_problems
from .settings import CONFIG_BLOCK, RawStackConfig
from .yamlsource import View, parse_yaml

SECRET_PLACEHOLDER = "[secret]"
MAX_STACK_FILE_BYTES = 1024 * 1024
PROJECT_FILE = "Pulumi.yaml"
PROMOTION_ORDER = ("dev", "staging", "prod")
# Pulumi stack names: letters, digits, '-', '_' and '.'; here also starting with a letter or
# digit, so `Pulumi..yaml` or `Pulumi.-x.yaml` name no stack.
STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}", re.ASCII)


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
            name
            for path in self.stack_config_dir.glob("Pulumi.*.yaml")
            if STACK_NAME.fullmatch(name := path.name[len("Pulumi.") : -len(".yaml")])
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
            try:
                text = project_file.read_bytes().decode("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ProjectError(f"{project_file} cannot be read as UTF-8 text: {exc}") from None
            parsed = parse_yaml(text, PROJECT_FILE, what="project file")
            errors = cap_problems([p for p in parsed.problems if p.is_error], PROJECT_FILE)
            if errors:
                raise ProjectError("\n".join(p.format() for p in errors))
            root = parsed.root.value() if parsed.root is not None else None
            root = root if isinstance(root, dict) else {}
            name = root.get("name")
            config_dir = root.get("stackConfigDir")
            return Project(
                directory,
                name if isinstance(name, str) else "",
                directory / (config_dir if isinstance(config_dir, str) and config_dir else "."),
            )
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


def _positions(located: View, prefix: str) -> Iterator[tuple[str, tuple[int, int]]]:
    if located.line is not None and located.column is not None:
        yield prefix, (located.line, located.column)
    if located.is_mapping and not _is_secure(located.plain_value()):
        for key, child in located.items():
            yield from _positions(child, f"{prefix}.{key}")


def load_stack_config(project: Project, stack: str) -> tuple[RawStackConfig | None, list[Problem]]:
    path = project.stack_file(stack)
    display = project.display(path)

    def problem(code: str, line: int | None, yaml_path: str, message: str, fix: str) -> Problem:
        return Problem(
            severity=Severity.ERROR,
            code=code,
            file=display,
            line=line,
            column=1 if line is not None else None,
            yaml_path=yaml_path,
            message=message,
            fix=fix,
        )

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, [
            problem(
                "stack-file-missing",
                None,
                "",
                f"stack {stack!r} has no settings file",
                f"create it with 'pulumi stack init {stack}' and set its configuration",
            )
        ]
    except OSError as exc:
        return None, [
            problem("stack-file-unreadable", None, "", f"cannot read the file: {exc.strerror}", "")
        ]
    if len(data) > MAX_STACK_FILE_BYTES:
        return None, [
            problem(
                "stack-file-too-large",
                None,
                "",
                f"the stack settings file is {len(data)} bytes; at most "
                f"{MAX_STACK_FILE_BYTES} are read",
                "keep only this stack's configuration in the file",
            )
        ]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [
            problem(
                "stack-file-not-utf8",
                line,
                "",
                f"byte 0x{data[exc.start]:02x} on line {line} is not UTF-8",
                "save the file as UTF-8",
            )
        ]

    parsed = parse_yaml(text, display, what="stack settings file")
    problems = list(parsed.problems)
    root = parsed.view(display, problems)
    if root is None or problems:
        return None, cap_problems(problems, display)
    if not root.is_mapping:
        return None, [
            problem(
                "stack-file-shape",
                1,
                "",
                "the stack settings file must be a YAML mapping",
                "see the Pulumi stack settings file reference",
            )
        ]
    config = root.get("config")
    if config is None or config.is_null:
        config = None
    elif not config.is_mapping:
        return None, [
            problem(
                "stack-file-shape",
                config.line,
                "config",
                "'config' must be a mapping of keys to values",
                "",
            )
        ]
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    positions: dict[str, tuple[int, int]] = {}
    if config is not None:
        if config.line is not None and config.column is not None:
            # Where a missing key belongs: problems about it point at the `config:` block.
            positions[CONFIG_BLOCK] = (config.line, config.column)
        for key, child in root.child("config").items():
            plain, secret = _plain(child.plain_value())
            values[key] = _engine_string(plain)
            if secret:
                secret_keys.add(key)
            positions.update(_positions(child, key))
    raw = RawStackConfig(stack, display, values, frozenset(secret_keys), positions)
    return raw, []

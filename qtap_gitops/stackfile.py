"""Read a project's stack settings files (`Pulumi.<stack>.yaml`) without the Pulumi CLI.

The offline tools see what the engine would see, in the engine's form: every value a string,
objects as JSON text. Encrypted values (`secure: v1:...`) cannot be decrypted here; they are
replaced by `SECRET_PLACEHOLDER` and their keys are marked secret, which is all the contract
needs to know about them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .problems import Problem, cap_problems, problem
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


@dataclass(frozen=True)
class FileRefusal:
    """Why a Pulumi settings file is not read: what is wrong and how to fix it, never its content."""

    code: str
    message: str
    fix: str


def read_settings_file(path: Path, limit: int) -> bytes | FileRefusal:
    """The bytes of a Pulumi settings file (`Pulumi.yaml`, `Pulumi.<stack>.yaml`), read as hostile.

    A symlink is never followed (it may lead out of the project, or to /dev/zero), a FIFO,
    device or directory is refused from its `lstat` without being opened, and the size is
    bounded before reading. The file is then opened with O_NOFOLLOW|O_NONBLOCK and checked again
    with `fstat`, so a file swapped in after the check is refused too; at most `limit` + 1 bytes
    are read whatever the file claims. Raises FileNotFoundError when there is no file.
    """
    mode = os.lstat(path)
    if stat.S_ISLNK(mode.st_mode):
        return FileRefusal(
            "settings-file-symlink",
            "is a symlink; Pulumi settings files are read only as plain files",
            "commit the file itself instead of a symlink",
        )
    if not stat.S_ISREG(mode.st_mode):
        return _not_regular()
    if mode.st_size > limit:
        return _too_large(mode.st_size, limit)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if isinstance(error, FileNotFoundError):
            raise
        return FileRefusal(
            "settings-file-unreadable", f"cannot be read: {error.strerror}", "make it readable"
        )
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if not stat.S_ISREG(opened.st_mode):
            return _not_regular()
        data = handle.read(limit + 1)
    if len(data) > limit:
        return _too_large(len(data), limit)
    return data


def _not_regular() -> FileRefusal:
    return FileRefusal(
        "settings-file-not-regular",
        "is not a regular file (a directory, FIFO or device)",
        "commit the settings file as a plain YAML file",
    )


def _too_large(size: int, limit: int) -> FileRefusal:
    return FileRefusal(
        "stack-file-too-large",
        f"is {size} bytes or more; at most {limit} are read",
        "keep only this stack's configuration in the file",
    )


def find_project(start: Path) -> Project:
    """The Pulumi project containing `start` (the nearest directory with a Pulumi.yaml)."""
    for directory in (start.resolve(), *start.resolve().parents):
        project_file = directory / PROJECT_FILE
        try:
            data = read_settings_file(project_file, MAX_STACK_FILE_BYTES)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ProjectError(f"{project_file} cannot be read: {exc.strerror}") from None
        if isinstance(data, FileRefusal):
            raise ProjectError(f"{project_file} {data.message}; fix: {data.fix}")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
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
    return _with_placeholders(value, _is_secure)


def _with_placeholders(value: Any, secret: Callable[[Any], bool]) -> tuple[Any, bool]:
    """`value` with every part `secret` selects replaced by the placeholder, and whether any
    was."""
    if secret(value):
        return SECRET_PLACEHOLDER, True
    if isinstance(value, dict):
        found = False
        out = {}
        for key, item in value.items():
            out[str(key)], hidden = _with_placeholders(item, secret)
            found = found or hidden
        return out, found
    if isinstance(value, list):
        items = [_with_placeholders(item, secret) for item in value]
        return [item for item, _ in items], any(hidden for _, hidden in items)
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


@dataclass(frozen=True)
class StackFile:
    """One stack settings file as the tools see it.

    `raw` is the configuration the engine would pass to the program (None when the file is
    refused, see `problems`). `environment` is the file's `environment:` block as plain data
    (None without one) and `secure` maps each config path holding an encrypted value to the
    SHA-256 of its ciphertext: a rotated secret is a change even though no one here can read it.
    """

    raw: RawStackConfig | None
    problems: list[Problem]
    environment: Any = None
    secure: Mapping[str, str] = field(default_factory=dict)


def load_stack_config(project: Project, stack: str) -> tuple[RawStackConfig | None, list[Problem]]:
    stack_file = read_stack_file(project, stack)
    return stack_file.raw, stack_file.problems


def _problem(
    display: str, code: str, line: int | None, yaml_path: str, message: str, fix: str
) -> Problem:
    return problem(
        code,
        display,
        (line, 1 if line is not None else None),
        yaml_path,
        message,
        fix,
    )


def _read_text(path: Path, display: str, stack: str) -> str | Problem:
    try:
        data = read_settings_file(path, MAX_STACK_FILE_BYTES)
    except FileNotFoundError:
        return _problem(
            display,
            "stack-file-missing",
            None,
            "",
            f"stack {stack!r} has no settings file",
            f"create it with 'pulumi stack init {stack}' and set its configuration",
        )
    except OSError as exc:
        return _problem(
            display, "stack-file-unreadable", None, "", f"cannot read the file: {exc.strerror}", ""
        )
    if isinstance(data, FileRefusal):
        return _problem(
            display, data.code, None, "", f"the stack settings file {data.message}", data.fix
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return _problem(
            display,
            "stack-file-not-utf8",
            line,
            "",
            f"byte 0x{data[exc.start]:02x} on line {line} is not UTF-8",
            "save the file as UTF-8",
        )


def read_stack_file(project: Project, stack: str) -> StackFile:
    path = project.stack_file(stack)
    display = project.display(path)
    text = _read_text(path, display, stack)
    if isinstance(text, Problem):
        return StackFile(None, [text])
    parsed = parse_yaml(text, display, what="stack settings file")
    problems = list(parsed.problems)
    root = parsed.view(display, problems)
    if root is None or problems:
        return StackFile(None, cap_problems(problems, display))
    if not root.is_mapping:
        return StackFile(
            None,
            [
                _problem(
                    display,
                    "stack-file-shape",
                    1,
                    "",
                    "the stack settings file must be a YAML mapping",
                    "see the Pulumi stack settings file reference",
                )
            ],
        )
    config = root.get("config")
    if config is not None and not config.is_null and not config.is_mapping:
        return StackFile(
            None,
            [
                _problem(
                    display,
                    "stack-file-shape",
                    config.line,
                    "config",
                    "'config' must be a mapping of keys to values",
                    "",
                )
            ],
        )
    return _stack_file(project, stack, display, root)


def _stack_file(project: Project, stack: str, display: str, root: View) -> StackFile:
    merged: dict[str, tuple[Any, bool]] = {}
    positions: dict[str, tuple[int, int]] = {}
    secure: dict[str, str] = {}
    config = root.get("config")
    if config is not None and config.is_mapping:
        if config.line is not None and config.column is not None:
            # Where a missing key belongs: problems about it point at the `config:` block.
            positions[CONFIG_BLOCK] = (config.line, config.column)
        for key, child in root.child("config").items():
            plain = child.plain_value()
            merged[key] = _plain(plain)
            positions.update(_positions(child, key))
            secure.update(_ciphertexts(plain, key))
    environment = root.get("environment")
    for key, child in inline_pulumi_config(environment, project.name):
        # Pulumi applies an environment's `pulumiConfig` under the stack's own `config`: a key
        # the stack file sets wins, and objects are merged key by key (JSON merge patch, the
        # stack's keys winning). pulumi/pulumi#14499 (how config is merged) and pulumi/docs#19695
        # (ESC value precedence).
        value = esc_plain(child.plain_value())
        if key in merged:
            merged[key] = _merge_patch(value, merged[key])
        else:
            merged[key] = value
            positions.update(_positions(child, key))
    values = {key: _engine_string(value) for key, (value, _) in merged.items()}
    secret_keys = frozenset(key for key, (_, secret) in merged.items() if secret)
    raw = RawStackConfig(stack, display, values, secret_keys, positions)
    plain_environment = environment.plain_value() if environment is not None else None
    return StackFile(raw, [], plain_environment, secure)


def _ciphertexts(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if _is_secure(value):
        digest = hashlib.sha256(str(value["secure"]).encode()).hexdigest()
        yield path, digest
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _ciphertexts(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _ciphertexts(item, f"{path}[{index}]")


# -- inline Pulumi ESC environments (`environment: {imports: [...], values: {pulumiConfig: ...}}`)

ESC_SECRET = "fn::secret"


def inline_pulumi_config(environment: View | None, project: str) -> Iterator[tuple[str, View]]:
    """(full config key, value) of an inline environment's `values.pulumiConfig`.

    A key without a namespace belongs to the project, as in the stack's `config`. Anything else
    (a list of imports, no `values`) yields nothing; its shape is checked in `esc.py`.
    """
    if environment is None or not environment.is_mapping:
        return
    values = environment.get("values")
    if values is None or not values.is_mapping:
        return
    config = values.get("pulumiConfig")
    if config is None or not config.is_mapping:
        return
    for key, child in config.items():
        yield (key if ":" in key else f"{project}:{key}"), child


def esc_plain(value: Any) -> tuple[Any, bool]:
    """An ESC value as the engine would see it offline, and whether it is secret.

    `fn::secret` (plaintext or `{ciphertext: ...}`) is a secret; any other ESC function
    (`fn::open`, `fn::join`, ...) is computed when Pulumi opens the environment, which cannot
    happen offline, so it stands as the secret placeholder too.
    """
    return _with_placeholders(value, _is_esc_function)


def _is_esc_function(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and str(next(iter(value))).startswith("fn::")


def _merge_patch(base: tuple[Any, bool], patch: tuple[Any, bool]) -> tuple[Any, bool]:
    """`patch` over `base` as RFC 7386 merges objects (the stack's value is the patch)."""
    (old, old_secret), (new, new_secret) = base, patch
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new, new_secret
    merged = dict(old)
    for key, value in new.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_patch((merged[key], False), (value, False))[0]
        else:
            merged[key] = value
    return merged, old_secret or new_secret

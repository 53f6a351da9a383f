"""Diagnostics: what is wrong with a user's file, where, and how to fix it.

Every check in this package reports `Problem`s instead of raising on the first one, so a user
sees all the mistakes of a file in one run. A `ContractError` carries the errors (and the
warnings that came with them) to the edge, which prints them without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One finding in one file.

    `line` and `column` are 1-based; either may be None when the finding is about a file as a
    whole (a missing file, a file too large). `yaml_path` is the dotted path inside the file
    (`services.object_stores[0].bucket`), empty for the whole document.
    """

    severity: Severity
    code: str
    file: str
    line: int | None
    column: int | None
    yaml_path: str
    message: str
    fix: str

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def location(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def format(self) -> str:
        where = f" {self.yaml_path}:" if self.yaml_path else ""
        text = f"{self.location()}: {self.severity.value} [{self.code}]:{where} {self.message}"
        if self.fix:
            text += f"\n    fix: {self.fix}"
        return text

    def as_error(self) -> Problem:
        return replace(self, severity=Severity.ERROR)


Where = tuple[int | None, int | None]
"""A 1-based (line, column) in a file; (None, None) for the file as a whole."""


def problem(
    code: str,
    file: str,
    where: Where,
    yaml_path: str,
    message: str,
    fix: str,
    severity: Severity = Severity.ERROR,
) -> Problem:
    """One finding: the one way to make a `Problem` (an error unless `severity` says otherwise)."""
    line, column = where
    return Problem(
        severity=severity,
        code=code,
        file=file,
        line=line,
        column=column,
        yaml_path=yaml_path,
        message=message,
        fix=fix,
    )


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Order problems as a reader scans a file: by file, then line, then column."""
    return sorted(
        problems,
        key=lambda p: (p.file, p.line or 0, p.column or 0, p.severity.value, p.code, p.message),
    )


MAX_PROBLEMS_PER_FILE = 100


def _is_project_file(file: str) -> bool:
    """`Pulumi.yaml` or a stack file `Pulumi.<stack>.yaml`: written by hand, not exported."""
    name = file.replace("\\", "/").rsplit("/", 1)[-1]
    return name.startswith("Pulumi.") and name.endswith((".yaml", ".yml"))


def cap_problems(problems: Sequence[Problem], file: str) -> list[Problem]:
    """At most `MAX_PROBLEMS_PER_FILE` problems (errors first), then one line saying how many
    more there are: a hostile file must not flood the terminal or a pull-request comment.
    The fix suits the file's kind: a snapshot is exported again from Qplane, a project or stack
    file is edited by hand."""
    if len(problems) <= MAX_PROBLEMS_PER_FILE:
        return list(problems)
    ordered = sorted(problems, key=lambda p: not p.is_error)
    kept = ordered[:MAX_PROBLEMS_PER_FILE]
    rest = ordered[MAX_PROBLEMS_PER_FILE:]
    more = problem(
        "too-many-problems",
        file,
        (None, None),
        "",
        f"{len(rest)} more problems are not shown",
        "correct the ones shown first and run the check again"
        if _is_project_file(file)
        else "correct the ones shown first, or export the file again",
        Severity.ERROR if any(p.is_error for p in rest) else Severity.WARNING,
    )
    return [*kept, more]


def format_problems(problems: Iterable[Problem]) -> str:
    return "\n".join(p.format() for p in sort_problems(problems))


class ContractError(Exception):
    """A user's file breaks the contract. `problems` holds every error (and warning) found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(sort_problems(problems))
        super().__init__(self.render())

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    def render(self) -> str:
        errors = sum(1 for p in self.problems if p.is_error)
        warnings = len(self.problems) - errors
        summary = f"{errors} error{'s' if errors != 1 else ''}"
        if warnings:
            summary += f", {warnings} warning{'s' if warnings != 1 else ''}"
        return f"{format_problems(self.problems)}\n{summary}; nothing was deployed."


def raise_if_errors(problems: Sequence[Problem]) -> None:
    if any(p.is_error for p in problems):
        raise ContractError(problems)

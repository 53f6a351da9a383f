"""What GitHub Actions would run for deploy.yml and drift.yml, modelled from the workflows.

The stack lists come from the workflows' own `run:` scripts, executed under bash with the real
`jq` against the real `qtapctl stacks --format json` (a `scripts/qtap` shim runs this checkout's
qtapctl as `python -m qtapctl`). Which stage jobs run is decided from each
job's `needs` and `if:`, read from the YAML; the `if:` is evaluated by a small interpreter that
knows only the terms the workflow uses, so a new term fails the tests instead of being guessed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import REPO

STACKS_JOB = "stacks"


def qtap_shim(directory: Path) -> Path:
    """`scripts/qtap` as the workflows call it, running this checkout's qtapctl (no venv set-up)."""
    scripts = directory / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    shim = scripts / "qtap"
    shim.write_text(
        "#!/usr/bin/env bash\n"
        f'PYTHONPATH={json.dumps(str(REPO))} exec {json.dumps(sys.executable)} -m qtapctl "$@"\n'
    )
    shim.chmod(0o755)
    return shim


def run_step(script: str, cwd: Path, *, stacks_json: str | None = None) -> dict[str, str]:
    """Run a `run:` script as the runner does (bash -e) in `cwd`; the `name=value` lines it
    writes to $GITHUB_OUTPUT. With `stacks_json`, `./scripts/qtap` prints that instead."""
    output = cwd / "github_output"
    output.write_text("")
    if stacks_json is not None:
        (cwd / "scripts").mkdir(exist_ok=True)
        (cwd / "stacks.fixed.json").write_text(stacks_json)
        fake = cwd / "scripts" / "qtap"
        fake.write_text('#!/usr/bin/env bash\ncat "$(dirname "$0")/../stacks.fixed.json"\n')
        fake.chmod(0o755)
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"step failed: {result.stderr}"
    values = {}
    for line in output.read_text().splitlines():
        name, _, value = line.partition("=")
        values[name] = value
    return values


def stacks_step(workflow: Mapping[str, Any], step_id: str) -> str:
    job = workflow["jobs"][STACKS_JOB]
    (step,) = [s for s in job["steps"] if s.get("id") == step_id]
    assert "./scripts/qtap stacks --format json" in step["run"]
    return str(step["run"])


# -- the `if:` of a stage job -------------------------------------------------------------------

_TERM = re.compile(
    r"\s*(?:(?P<not_cancelled>!cancelled\(\))|(?P<not_failure>!failure\(\))"
    r"|needs\.(?P<job>[\w-]+)\.result == '(?P<result>\w+)'"
    r"|needs\.(?P<out_job>[\w-]+)\.outputs\.(?P<output>[\w-]+) != '(?P<value>[^']*)')\s*"
)


def evaluate_if(condition: str, *, ancestor_failed: bool, needs: Mapping[str, JobRun]) -> bool:
    """A conjunction (`&&`) of the terms above; anything else is an error of the model."""
    value = True
    for part in condition.replace("${{", "").replace("}}", "").split("&&"):
        match = _TERM.fullmatch(part)
        assert match, f"the rollout model does not know the term {part.strip()!r}"
        if match["not_failure"]:
            value &= not ancestor_failed
        elif match["job"]:
            value &= needs[match["job"]].result == match["result"]
        elif match["out_job"]:
            value &= needs[match["out_job"]].outputs.get(match["output"]) != match["value"]
        # !cancelled(): nothing is cancelled in the model
    return value


@dataclass
class JobRun:
    name: str
    result: str  # success | failure | skipped
    outputs: dict[str, str] = field(default_factory=dict)
    stacks: list[str] = field(default_factory=list)


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def topological(workflow: Mapping[str, Any]) -> list[str]:
    jobs = workflow["jobs"]
    order: list[str] = []
    while len(order) < len(jobs):
        ready = [n for n in jobs if n not in order and set(_needs(jobs[n])) <= set(order)]
        assert ready, "the needs graph has a cycle"
        order.append(ready[0])
    return order


def stacks_job_outputs(job: Mapping[str, Any], step_outputs: Mapping[str, str]) -> dict[str, str]:
    """The job's outputs, each taken from the step output its expression names."""
    outputs = {}
    for key, expression in job["outputs"].items():
        match = re.fullmatch(r"\$\{\{ steps\.[\w-]+\.outputs\.([\w-]+) \}\}", expression)
        assert match, expression
        outputs[key] = step_outputs[match[1]]
    return outputs


def stage_name(entry: Mapping[str, Any]) -> str:
    """The stage of one `stacks --format json` entry, as the deploy step's jq filter computes
    it (a test compares the two on fleets that fill every stage)."""
    part = "owners" if entry["owner"] == entry["stack"] else "members"
    return f"ring{entry['ring']}-{part}"


def stage_outputs_of(entries: Sequence[Mapping[str, Any]], stages: Sequence[str]) -> dict[str, str]:
    """What the deploy step writes for `entries`: one compact JSON list per stage."""
    return {
        stage: json.dumps(
            [e["stack"] for e in entries if stage_name(e) == stage], separators=(",", ":")
        )
        for stage in stages
    }


def simulate_deploy(
    workflow: Mapping[str, Any], stage_outputs: Mapping[str, str], failing: Set[str] = frozenset()
) -> list[JobRun]:
    """Every job of deploy.yml in the order GitHub may start them, with the stacks each ran.

    `stage_outputs` are the `stacks` job's outputs (from its real step); a stack in `failing`
    fails its `pulumi up` (the others of its stage still run: fail-fast is off)."""
    jobs = workflow["jobs"]
    runs: dict[str, JobRun] = {}
    ancestors: dict[str, set[str]] = {}
    for name in topological(workflow):
        job = jobs[name]
        needs = _needs(job)
        ancestors[name] = set(needs).union(*(ancestors[n] for n in needs))
        if name == STACKS_JOB:
            runs[name] = JobRun(name, "success", stacks_job_outputs(job, stage_outputs))
            continue
        failed = any(runs[a].result == "failure" for a in ancestors[name])
        if not evaluate_if(
            str(job["if"]), ancestor_failed=failed, needs={n: runs[n] for n in needs}
        ):
            runs[name] = JobRun(name, "skipped")
            continue
        matrix = job["strategy"]["matrix"]["stack"]
        source = re.fullmatch(r"\$\{\{ fromJSON\(needs\.stacks\.outputs\.([\w-]+)\) \}\}", matrix)
        assert source, matrix
        stacks = json.loads(runs[STACKS_JOB].outputs[source[1]])
        assert job["with"]["stack"] == "${{ matrix.stack }}"
        result = "failure" if set(stacks) & failing else "success"
        runs[name] = JobRun(name, result, stacks=stacks)
    return list(runs.values())


def deployed(runs: Sequence[JobRun]) -> list[str]:
    return [stack for run in runs if run.result != "skipped" for stack in run.stacks]

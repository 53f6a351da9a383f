"""`qtapctl plan --all` and `diff` on a fleet of N stacks, as a user runs them (a new process
each time): wall time with its spread over several runs, and peak memory.

    .venv/bin/python benchmarks/fleet.py [--stacks 100 300] [--rounds 3] [--keep DIR]

The fleet is generated from the committed stacks: stack `dev-007` is a copy of `dev` (its stack
file and its snapshot) with its own bucket and its own Vault path, so the cross-stack checks
pass and every stack is planned in full. The project is a git repository with one commit; the
`diff` figure is for a change to one stack's snapshot in the working tree against that commit
(the common pull request), and for a change to Pulumi.yaml (every stack's plan depends on it).

Peak memory is the largest resident set of any one process of the run (ru_maxrss of the waited
children, in MiB); a parallel plan has one such process per core.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ("dev", "staging", "prod")
SNAPSHOT = "qtap-config.yaml"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
            *args,
        ],
        check=True,
        capture_output=True,
    )


def generate_fleet(destination: Path, count: int) -> list[str]:
    """A project of `count` stacks (copies of the committed ones with distinct names, buckets
    and Vault paths), committed on branch main; returns the stack names."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "Pulumi.yaml", destination / "Pulumi.yaml")
    yaml = YAML(typ="rt")
    yaml.width = 4096
    names = []
    for index in range(count):
        template = TEMPLATES[index % len(TEMPLATES)]
        name = f"{template}-{index:03d}"
        names.append(name)
        with (ROOT / f"Pulumi.{template}.yaml").open() as handle:
            stack_file = yaml.load(handle)
        vault = stack_file["config"].setdefault("qtap:vault", {})
        vault["path"] = f"qpoint/qtap-{name}"
        vault["role"] = f"qtap-{name}"
        with (destination / f"Pulumi.{name}.yaml").open("w") as handle:
            yaml.dump(stack_file, handle)
        snapshot = (ROOT / "snapshots" / template / SNAPSHOT).read_text()
        bucket = f"acme-qtap-{template}-payloads"
        assert bucket in snapshot, f"{template}'s snapshot no longer names {bucket}"
        (destination / "snapshots" / name).mkdir(parents=True)
        (destination / "snapshots" / name / SNAPSHOT).write_text(
            snapshot.replace(bucket, f"acme-qtap-{name}-payloads")
        )
    _git(destination, "init", "-q", "-b", "main")
    _git(destination, "add", "-A")
    _git(destination, "commit", "-qm", "fleet")
    return names


def _timed_run(command: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB of the process and its waited children, stdout)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        # wait4, not Popen.wait: it returns this child's own resource usage.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-2000:]}")
    return wall, usage.ru_maxrss / 1024, stdout


def _figure(label: str, samples: list[tuple[float, float, str]]) -> str:
    walls = [s[0] for s in samples]
    spread = f"min {min(walls):.2f} s, max {max(walls):.2f} s"
    if len(walls) > 1:
        spread += f", stdev {statistics.stdev(walls):.2f} s"
    peak = max(s[1] for s in samples)
    return f"{label}: median {statistics.median(walls):.2f} s ({spread}; {len(walls)} runs), peak RSS {peak:.0f} MiB"


def bench(count: int, rounds: int, keep: Path | None) -> None:
    scratch = Path(tempfile.mkdtemp(prefix=f"qtap-fleet-{count}-"))
    project = keep / f"fleet-{count}" if keep else scratch / "project"
    try:
        names = generate_fleet(project, count)
        qtapctl = [sys.executable, "-m", "qtapctl", "--project-dir", str(project)]
        plan = [_timed_run([*qtapctl, "plan", "--all"]) for _ in range(rounds)]
        assert len({s[2] for s in plan}) == 1, "plan --all is not byte-identical across runs"
        assert all(f"=== plan for stack {n}\n" in plan[0][2] for n in names)
        print(_figure(f"{count:>4} stacks  plan --all        ", plan), flush=True)

        snapshot = project / "snapshots" / names[0] / SNAPSHOT
        snapshot.write_text(snapshot.read_text() + "# reviewed\n")
        diff = [_timed_run([*qtapctl, "diff", "--base", "HEAD"]) for _ in range(rounds)]
        print(_figure(f"{count:>4} stacks  diff (1 snapshot) ", diff), flush=True)

        pulumi_yaml = project / "Pulumi.yaml"
        pulumi_yaml.write_text(pulumi_yaml.read_text() + "# reviewed\n")
        every = [_timed_run([*qtapctl, "diff", "--base", "HEAD"]) for _ in range(rounds)]
        print(_figure(f"{count:>4} stacks  diff (Pulumi.yaml)", every), flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stacks", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate the fleets here and keep them")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; Python {sys.version.split()[0]}")
    for count in args.stacks:
        bench(count, args.rounds, args.keep)


if __name__ == "__main__":
    main()

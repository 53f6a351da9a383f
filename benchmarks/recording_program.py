"""The project's program, run with one stack transformation that notes the SDK class of every
resource it creates into the JSON file named by QTAP_BENCH_CLASSES.

benchmarks/program_vs_baseline.py runs it once per stack, so the baseline can replay each
registration through the very class the program used (`pulumi_aws.s3.Bucket`, the Kubernetes
`CustomResource`, ...): the SDK floor of the same deployment."""

from __future__ import annotations

import json
import os
import runpy
from pathlib import Path

import pulumi

classes: list[dict[str, str]] = []


def _note_class(args: pulumi.ResourceTransformationArgs) -> None:
    kind = type(args.resource)
    classes.append(
        {
            "type": args.type_,
            "name": args.name,
            "module": kind.__module__,
            "class": kind.__qualname__,
        }
    )


pulumi.runtime.register_stack_transformation(_note_class)
runpy.run_path(str(Path.cwd() / "__main__.py"), run_name="__main__")
with open(os.environ["QTAP_BENCH_CLASSES"], "w", encoding="utf-8") as handle:
    json.dump(classes, handle)

"""The mock engine answers `pulumi.StackReference` from the outputs it is given, as the
engine's built-in provider would, and a run that fails mid-registration leaves nothing behind
that could fail the next run in the same process."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_random as random

from qtapctl.mock_engine import ORGANIZATION, PROJECT, FakeCloud, Secret, run_pulumi

OWNER = f"{ORGANIZATION}/{PROJECT}/prod"


def reference_body() -> dict[str, Any]:
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/prod"
    reference = pulumi.StackReference("owner", stack_name=name)
    return {
        "plain": reference.get_output("plain"),
        "token": reference.get_output("token"),
        "nested": reference.require_output("nested"),
        "absent": reference.get_output("absent"),
        "name": reference.name,
        "secretNames": reference.secret_output_names,
    }


def test_a_stack_reference_reads_the_given_outputs_and_keeps_secrets_secret():
    outputs = {"plain": "p", "token": Secret("t0k3n"), "nested": {"a": [1, 2]}}
    run = run_pulumi("member", reference_body, cloud=FakeCloud(stack_outputs={OWNER: outputs}))
    assert run.error is None, run.error
    assert run.outputs["plain"] == "p"
    assert run.outputs["token"] == Secret("t0k3n")
    assert run.outputs["nested"] == {"a": [1, 2]}
    assert run.outputs["absent"] is None
    assert run.outputs["name"] == OWNER
    assert run.outputs["secretNames"] == ["token"]


def test_a_reference_to_a_stack_without_outputs_fails_and_names_it():
    cloud = FakeCloud(stack_outputs={"acme/qtap/prod": {}})
    run = run_pulumi("member", reference_body, cloud=cloud)
    assert f"unknown stack '{OWNER}' (stack outputs given for: acme/qtap/prod)" in str(run.error)


def test_a_run_that_fails_mid_registration_does_not_fail_the_next_one():
    def failing() -> dict[str, Any]:
        def boom(_: int) -> int:
            raise ValueError("boom in the first run")

        first = random.RandomBytes("a", length=pulumi.Output.from_input(1).apply(boom))
        random.RandomBytes("b", length=4, opts=pulumi.ResourceOptions(depends_on=[first]))
        return {}

    def fine() -> dict[str, Any]:
        return {"length": random.RandomBytes("c", length=4).length}

    assert "boom in the first run" in str(run_pulumi("one", failing).error)
    second = run_pulumi("two", fine)
    assert second.error is None, second.error
    assert second.outputs["length"] == 4

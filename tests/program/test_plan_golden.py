"""The plans of every stack under every delivery mode and secrets backend are exactly the
recorded ones (tests/program/golden/plans.json, see tests/program/plan_matrix.py): a refactor
of the components changes no name, type, URN, input, dependency, option or output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.program.plan_matrix import VARIANTS, Variant, fingerprint, load_golden, run_variant

GOLDEN = load_golden()


def test_the_golden_file_covers_exactly_the_variants():
    assert sorted(GOLDEN) == sorted(v.id for v in VARIANTS)
    # Every stack under every delivery mode and every secrets backend.
    assert len({(v.stack, v.mode, v.backend) for v in VARIANTS}) == 27


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.id)
def test_plan_is_the_recorded_one(variant: Variant, tmp_path: Path):
    found = fingerprint(run_variant(variant, tmp_path / "project"))
    expected = GOLDEN[variant.id]
    changed = sorted(
        urn
        for urn in set(found["resources"]) | set(expected["resources"])
        if found["resources"].get(urn) != expected["resources"].get(urn)
    )
    assert changed == [], "resources added, removed or changed (regenerate only if intended)"
    assert found["outputs"] == expected["outputs"], "the stack outputs changed"

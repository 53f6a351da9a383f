"""qtapctl diff on day 2: a bucket leaving the stack and a moved release are called out."""

from __future__ import annotations

from pathlib import Path

from qtap_gitops.stackfile import find_project
from qtapctl.diff import diff_stack, render_json, render_markdown, render_text
from qtapctl.plan import plan_stack
from tests.conftest import copy_project


def diff(tmp_path: Path, stack: str, edit):
    old = find_project(copy_project(tmp_path / "old"))
    new_dir = copy_project(tmp_path / "new")
    edit(new_dir)
    new = find_project(new_dir)
    return diff_stack(stack, plan_stack(old, stack), plan_stack(new, stack), old, new)


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_bucket_leaving_the_stack_is_kept_and_the_diff_says_how_to_delete_it(tmp_path: Path):
    result = diff(
        tmp_path,
        "dev",
        lambda p: replace_in(
            p / "snapshots/dev/qtap-config.yaml", "acme-qtap-dev-payloads", "acme-qtap-dev-capture"
        ),
    )
    removed = [r for r in result.resources if r.kind == "removed"]
    assert any(r.type == "aws:s3/bucket:Bucket" for r in removed)
    (warning,) = [w for w in result.warnings if "acme-qtap-dev-payloads" in w]
    assert "is NOT deleted" in warning
    assert "To delete it on purpose" in warning
    assert "protected" not in warning
    markdown = render_markdown("base", "head", [result])
    assert "> **Warning:** bucket acme-qtap-dev-payloads leaves the stack" in markdown
    assert "  warning: bucket acme-qtap-dev-payloads leaves the stack" in render_text(
        "base", "head", [result]
    )
    assert '"warnings": [' in render_json("base", "head", [result])


def test_a_protected_bucket_leaving_the_stack_says_the_update_stops(tmp_path: Path):
    result = diff(
        tmp_path,
        "prod",
        lambda p: replace_in(
            p / "snapshots/prod/qtap-config.yaml",
            "acme-qtap-prod-payloads",
            "acme-qtap-prod-capture",
        ),
    )
    (warning,) = [w for w in result.warnings if "acme-qtap-prod-payloads" in w]
    assert "pulumi state unprotect" in warning


def test_moving_the_namespace_shows_the_release_replaced_deleted_first(tmp_path: Path):
    result = diff(
        tmp_path,
        "staging",
        lambda p: replace_in(
            p / "Pulumi.staging.yaml",
            "  qtap:chart:\n",
            "  qtap:namespace: agents\n  qtap:chart:\n",
        ),
    )
    (warning,) = [w for w in result.warnings if "Helm release" in w]
    assert "REPLACED (namespace: qpoint -> agents)" in warning
    assert "deleted first" in warning


def test_an_unrelated_change_has_no_day2_warning(tmp_path: Path):
    result = diff(
        tmp_path,
        "staging",
        lambda p: replace_in(
            p / "snapshots/staging/qtap-config.yaml", "level: headers", "level: full"
        ),
    )
    assert result.resources
    assert result.warnings == []


def test_a_key_version_bump_shows_the_key_replaced(tmp_path: Path):
    result = diff(
        tmp_path,
        "dev",
        lambda p: replace_in(
            p / "Pulumi.dev.yaml",
            "    retentionDays: 7\n",
            "    retentionDays: 7\n    keyVersion: 2\n",
        ),
    )
    changes = {(r.type, c.path): (c.old, c.new) for r in result.resources for c in r.changes}
    assert changes == {("aws:iam/accessKey:AccessKey", "replacementTrigger"): (1, 2)}

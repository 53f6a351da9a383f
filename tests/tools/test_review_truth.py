"""`qtapctl diff` tells the whole truth: nothing that changes a deployment looks unchanged
(issue 17, items 1, 2, 4, 5 and 6), each with the file that used to slip through."""

from __future__ import annotations

from pathlib import Path

from qtap_gitops.stackfile import find_project, load_stack_config
from qtapctl.diff import StackDiff, diff_stack, render_markdown, render_stacks, render_text
from qtapctl.plan import plan_stack
from qtapctl.plan import render_text as render_plan_text
from tests.backends import VSO, backend_project
from tests.conftest import copy_project


def diff_of(old_dir: Path, new_dir: Path, stack: str = "dev") -> StackDiff:
    old, new = find_project(old_dir), find_project(new_dir)
    return diff_stack(stack, plan_stack(old, stack), plan_stack(new, stack), old, new)


def edited(tmp_path: Path, stack: str, addition: str) -> tuple[Path, Path]:
    old = copy_project(tmp_path / "old")
    new = copy_project(tmp_path / "new")
    path = new / f"Pulumi.{stack}.yaml"
    path.write_text(path.read_text() + addition)
    return old, new


def rendered(result: StackDiff) -> tuple[str, str, str]:
    diffs = [result]
    return (
        render_markdown("b", "h", diffs),
        render_text("b", "h", diffs),
        render_stacks("b", "h", diffs),
    )


# -- 1. inline Pulumi ESC environment --------------------------------------------------------

INLINE_NAMESPACE = "environment:\n  values:\n    pulumiConfig:\n      qtap:namespace: qtap-esc\n"


def test_inline_pulumi_config_is_applied_and_shown(tmp_path: Path):
    old, new = edited(tmp_path, "dev", INLINE_NAMESPACE)
    raw, problems = load_stack_config(find_project(new), "dev")
    assert problems == []
    assert raw is not None
    assert raw.values["qtap:namespace"] == "qtap-esc"
    result = diff_of(old, new)
    assert result.changed
    assert result.environment == ["values.pulumiConfig[\"qtap:namespace\"]: (absent) -> 'qtap-esc'"]
    namespaces = [r for r in result.resources if r.type == "kubernetes:core/v1:Namespace"]
    assert [r.kind for r in namespaces] == ["replaced"]
    markdown, text, stacks = rendered(result)
    assert stacks == '["dev"]\n'
    assert "No stack's inputs changed" not in markdown
    assert "Pulumi ESC environment: values.pulumiConfig&#91;" in markdown
    assert 'pulumi esc environment: values.pulumiConfig["qtap:namespace"]' in text


def test_the_stack_files_own_config_wins_over_pulumi_config_and_objects_merge(tmp_path: Path):
    project = copy_project(tmp_path / "p")
    path = project / "Pulumi.dev.yaml"
    path.write_text(
        path.read_text()
        + "environment:\n  values:\n    pulumiConfig:\n      aws:region: eu-west-1\n"
        + "      qtap:objectStore:\n        retentionDays: 30\n        forceDestroy: true\n"
    )
    raw, _ = load_stack_config(find_project(project), "dev")
    assert raw is not None
    # Pulumi applies pulumiConfig under the stack's config (pulumi/pulumi#14499).
    assert raw.values["aws:region"] == "us-east-1"
    assert raw.values["qtap:objectStore"] == (
        '{"retentionDays": 7, "forceDestroy": true, "protect": false, "versioning": false}'
    )


def test_an_fn_secret_in_pulumi_config_is_a_secret(tmp_path: Path):
    project = copy_project(tmp_path / "p")
    path = project / "Pulumi.dev.yaml"
    path.write_text(
        path.read_text() + "environment:\n  values:\n    pulumiConfig:\n"
        "      qtap:registrationToken:\n        fn::secret: plain-token-value\n"
    )
    raw, _ = load_stack_config(find_project(project), "dev")
    assert raw is not None
    assert "qtap:registrationToken" in raw.secret_keys
    assert "plain-token-value" not in raw.values["qtap:registrationToken"]


def test_a_new_import_lists_the_stack_and_says_the_preview_decides(tmp_path: Path):
    old, new = edited(tmp_path, "dev", "environment:\n  - qtap/dev\n")
    result = diff_of(old, new)
    assert result.environment == ["imports changed: qtap/dev added; the real preview decides"]
    assert result.resources == []
    markdown, _, stacks = rendered(result)
    assert stacks == '["dev"]\n'
    assert "imports changed: qtap/dev added; the real preview decides" in markdown


def test_reordered_imports_are_a_change(tmp_path: Path):
    old = copy_project(tmp_path / "old")
    new = copy_project(tmp_path / "new")
    for project, names in ((old, "[qtap/a, qtap/b]"), (new, "[qtap/b, qtap/a]")):
        path = project / "Pulumi.dev.yaml"
        path.write_text(path.read_text() + f"environment: {names}\n")
    result = diff_of(old, new)
    (line,) = result.environment
    assert "order changed" in line
    assert line.endswith("the real preview decides")


# -- 2. encrypted values ---------------------------------------------------------------------


def test_a_rotated_secure_value_is_a_change_without_its_value(tmp_path: Path):
    old = copy_project(tmp_path / "old")
    new = copy_project(tmp_path / "new")
    for project, ciphertext in ((old, "v1:AAAAold"), (new, "v1:BBBBnew")):
        path = project / "Pulumi.dev.yaml"
        path.write_text(path.read_text() + f"  qtap:registrationToken:\n    secure: {ciphertext}\n")
    result = diff_of(old, new)
    assert result.secrets == ["qtap:registrationToken: secret changed (value hidden)"]
    markdown, text, stacks = rendered(result)
    assert stacks == '["dev"]\n'
    assert "secret changed (value hidden)" in markdown
    assert "secret changed (value hidden)" in text
    for output in (markdown, text):
        assert "AAAAold" not in output
        assert "BBBBnew" not in output


# -- 4. warnings and secrets reach the comment -----------------------------------------------


def test_head_warnings_and_new_secrets_appear_per_stack(tmp_path: Path):
    old, new = edited(tmp_path, "dev", "  qtap:secretEnv:\n    UNUSED_NAME:\n      secure: v1:x\n")
    result = diff_of(old, new)
    markdown, text, _ = rendered(result)
    assert any("UNUSED_NAME" in w for w in result.head_warnings)
    assert "Contract warning:" in markdown
    assert "UNUSED&#95;NAME" in markdown
    assert "contract warning:" in text


def test_a_newly_needed_secret_is_listed(tmp_path: Path):
    old = copy_project(tmp_path / "old")
    new = copy_project(tmp_path / "new")
    snapshot = new / "snapshots/dev/qtap-config.yaml"
    text = snapshot.read_text()
    assert "REGISTRATION_TOKEN" in text
    before = plan_stack(find_project(old), "dev")
    result = diff_of(old, new)
    assert result.new_secrets == []  # same secrets on both sides
    assert before.pending  # the committed dev stack has secrets still to set
    old_plan = plan_stack(find_project(old), "dev")
    old_plan.pending = []
    fresh = diff_stack(
        "dev", old_plan, plan_stack(find_project(new), "dev"), find_project(old), find_project(new)
    )
    assert fresh.new_secrets == before.pending
    assert "New secret to set before deploy" in render_markdown("b", "h", [fresh])


# -- 5. what Pulumi will do ------------------------------------------------------------------


def test_a_namespace_move_is_a_replacement_counted_apart(tmp_path: Path):
    old, new = edited(tmp_path, "dev", "  qtap:namespace: qtap-moved\n")
    result = diff_of(old, new)
    release = next(r for r in result.resources if r.type == "kubernetes:helm.sh/v3:Release")
    assert release.kind == "replaced"
    assert "namespace changed" in release.reasons
    assert any("deleteBeforeReplace" in reason for reason in release.reasons)
    markdown, text, _ = rendered(result)
    replaced = sum(r.kind == "replaced" for r in result.resources)
    assert f"{replaced} to replace (+-)." in markdown
    assert f"{replaced} to replace (+-)." in text
    assert "  +- kubernetes:helm.sh/v3:Release" in text


def test_a_backend_switch_keeps_the_namespace_through_its_alias(tmp_path: Path):
    old = copy_project(tmp_path / "old")
    new = backend_project(tmp_path / "new", "dev", VSO)
    result = diff_of(old, new)
    namespaces = [r for r in result.resources if r.type == "kubernetes:core/v1:Namespace"]
    assert all(r.kind != "removed" for r in namespaces)
    assert all(r.kind != "added" for r in namespaces)
    (warning,) = [w for w in result.warnings if "secrets backend switches" in w]
    assert "external-secrets -> vault-secrets-operator" in warning
    assert "README, Secrets backends" in warning


def test_added_resources_show_their_inputs_as_yaml(tmp_path: Path):
    old = copy_project(tmp_path / "old")
    new = backend_project(tmp_path / "new", "dev", VSO)
    result = diff_of(old, new)
    added = [r for r in result.resources if r.kind == "added" and not r.type.startswith("qtap:")]
    assert added
    assert all(r.changes for r in added)
    _, text, _ = rendered(result)
    assert "True" not in text
    assert "None" not in text
    assert "-> true" in text


def test_lists_are_keyed_by_identity_not_position(tmp_path: Path):
    from qtap_gitops.yamldiff import diff_values

    old = {"data": [{"secretKey": "A", "remoteRef": {"property": "a"}}]}
    new = {"data": [{"secretKey": "B", "remoteRef": {"property": "b"}}, old["data"][0]]}
    changes = diff_values(old, new)
    assert {c.path for c in changes} == {
        "data[secretKey=B].secretKey",
        "data[secretKey=B].remoteRef.property",
    }
    assert all(c.kind == "added" for c in changes)


# -- 6. switches get warnings ----------------------------------------------------------------


def test_a_delivery_mode_switch_quotes_the_procedure(tmp_path: Path):
    old, new = edited(tmp_path, "staging", "  qtap:delivery:\n    mode: argocd\n")
    result = diff_of(old, new, "staging")
    (warning,) = [w for w in result.warnings if "delivery mode switches" in w]
    assert "helm -> argocd" in warning
    assert "Remove the old delivery first" in warning
    assert "> **Warning:** delivery mode switches helm -&#62; argocd" in render_markdown(
        "b", "h", [result]
    )


# -- 3. the sealing certificate -----------------------------------------------------------------


def test_plan_shows_the_sealing_certificate_and_diff_its_swap_with_a_warning(tmp_path: Path):
    from tests.backends import SEALED
    from tests.sealing_keys import controller_key

    first, second = controller_key(0), controller_key(1)
    old = backend_project(tmp_path / "old", "dev", SEALED, certificate=first.certificate_pem)
    new = backend_project(tmp_path / "new", "dev", SEALED, certificate=second.certificate_pem)
    before = plan_stack(find_project(old), "dev")
    after = plan_stack(find_project(new), "dev")
    assert before.error is None
    assert before.sealing_certificate is not None
    fingerprint = before.sealing_certificate["sha256"]
    assert len(fingerprint) == 95  # 32 bytes as AA:BB:..., as openssl prints it
    assert before.sealing_certificate["subject"]
    assert before.sealing_certificate["notBefore"] < before.sealing_certificate["notAfter"]
    text = render_plan_text([before])
    assert f"sealing certificate: sha256 {fingerprint}, subject " in text
    result = diff_stack("dev", before, after, find_project(old), find_project(new))
    assert result.changed
    assert after.sealing_certificate is not None
    (change,) = result.certificate
    was, now = change.split(" -> ")
    assert was.startswith(f"sha256 {fingerprint} (")
    assert now.startswith(f"sha256 {after.sealing_certificate['sha256']} (")
    markdown, diff_text, stacks = rendered(result)
    assert stacks == '["dev"]\n'
    assert "- Sealing certificate: sha256 " in markdown
    assert "readable only by the holder of the new certificate" in markdown
    assert "sealing certificate: sha256 " in diff_text


def test_a_stack_without_sealed_secrets_has_no_sealing_certificate():
    from tests.conftest import REPO

    assert plan_stack(find_project(REPO), "dev").sealing_certificate is None

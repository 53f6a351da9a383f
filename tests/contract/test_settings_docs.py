"""`Pulumi.yaml`'s config block and the README's settings table come from the settings model."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from qtap_gitops.settings import TOP_LEVEL_KEYS, StackSettings
from qtapctl import settings_docs as docs
from tests.conftest import REPO


def test_committed_pulumi_yaml_and_readme_are_what_the_model_generates():
    for path, text in docs.rendered(REPO).items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} differs from the settings model; run {docs.REGENERATE}"
        )


def test_a_hand_edit_is_caught_and_regenerating_undoes_it(tmp_path: Path):
    for name in ("Pulumi.yaml", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    edited = (tmp_path / "Pulumi.yaml").read_text().replace("default: qpoint", "default: agents")
    (tmp_path / "Pulumi.yaml").write_text(edited)
    rendered = docs.rendered(tmp_path)
    assert rendered[tmp_path / "Pulumi.yaml"] != edited
    assert "default: qpoint" in rendered[tmp_path / "Pulumi.yaml"]
    assert rendered[tmp_path / "README.md"] == (REPO / "README.md").read_text()


def test_every_key_and_every_nested_setting_is_documented_with_its_default():
    config = yaml.safe_load(docs.pulumi_config())["config"]
    assert list(config) == list(TOP_LEVEL_KEYS)
    table = docs.readme_table()
    for key in TOP_LEVEL_KEYS:
        assert f"| `qtap:{key}` |" in table
    for name, field in StackSettings.model_fields.items():
        assert field.description or name in ("stack", "source"), name
    # Nested settings appear with their defaults, including the derived ones.
    for text in (
        "`retentionDays` (30)",
        "`protect` (true)",
        "`path` (qpoint/qtap/<environment>)",
        "`role` (qtap-<stack>)",
        "`flux.interval` (5m)",
        "`ring` (0)",
    ):
        assert text in table, text
        assert text in " ".join(d["description"] for d in config.values()), text

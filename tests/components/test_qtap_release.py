"""QtapRelease and the values it is given: snapshot bytes, secretKeyRefs, checksum annotation."""

from __future__ import annotations

import hashlib

import pulumi_vault as vault

from components import QtapRelease, QtapReleaseArgs
from qtap_gitops.release_values import SNAPSHOT_CHECKSUM_ANNOTATION, release_values
from qtap_gitops.settings import ChartSettings
from tests.components.fixtures import deployment
from tests.pulumi_harness import build

CHART = ChartSettings(version="0.0.38", repo="https://helm.qpoint.io/", values={})


def test_values_carry_the_snapshot_bytes_env_refs_and_checksum():
    d = deployment("staging")
    values = release_values(d.snapshot.text, d.snapshot.sha256, d.bindings, {})
    assert values["config"].encode() == (d.snapshot.raw)
    assert values["podAnnotations"] == {
        SNAPSHOT_CHECKSUM_ANNOTATION: hashlib.sha256(d.snapshot.raw).hexdigest()
    }
    assert values["extraEnv"] == [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": "qtap-secrets", "key": name}}}
        for name in ("REGISTRATION_TOKEN", "S3_ACCESS_KEY", "S3_SECRET_KEY")
    ]


def test_user_values_merge_without_overriding_the_program_owned_ones():
    d = deployment("dev")
    user = {
        "logLevel": "debug",
        "podAnnotations": {"team": "observability"},
        "extraEnv": [{"name": "TLS_PROBES", "value": "openssl"}],
    }
    values = release_values(d.snapshot.text, d.snapshot.sha256, d.bindings, user)
    assert values["logLevel"] == "debug"
    assert values["podAnnotations"] == {
        "team": "observability",
        SNAPSHOT_CHECKSUM_ANNOTATION: d.snapshot.sha256,
    }
    assert [e["name"] for e in values["extraEnv"]] == [
        "REGISTRATION_TOKEN",
        "S3_ACCESS_KEY",
        "S3_SECRET_KEY",
        "TLS_PROBES",
    ]
    assert user["podAnnotations"] == {"team": "observability"}, (
        "the caller's mapping is not mutated"
    )


def release(values=None):
    def body():
        ready = vault.Policy("stand-in-for-external-secret", policy='path "x" {}')
        r = QtapRelease(
            "release",
            QtapReleaseArgs(
                namespace="qpoint",
                chart=CHART,
                values=values or {"config": "version: 2\n"},
                secret_ready=[ready],
            ),
        )
        return {"name": r.release_name, "version": r.chart_version}

    return build(body)


def test_release_installs_the_pinned_chart_from_its_repository():
    run = release()
    helm = run.one("kubernetes:helm.sh/v3:Release").inputs
    assert helm["chart"] == "qtap"
    assert helm["name"] == "qtap"
    assert helm["version"] == "0.0.38"
    assert helm["repositoryOpts"] == {"repo": "https://helm.qpoint.io/"}
    assert helm["namespace"] == "qpoint"
    assert helm["values"] == {"config": "version: 2\n"}
    assert run.outputs == {"name": "qtap", "version": "0.0.38"}


def test_release_can_roll_back_and_cleans_up_a_failed_upgrade():
    helm = release().one("kubernetes:helm.sh/v3:Release").inputs
    assert helm["cleanupOnFail"] is True
    assert helm["maxHistory"] == 10
    assert helm["skipAwait"] is False


def test_release_waits_for_the_secret():
    run = release()
    helm = run.one("kubernetes:helm.sh/v3:Release")
    assert run.one("vault:index/policy:Policy").urn in helm.dependencies
    (component,) = run.of_type("qtap:kubernetes:QtapRelease")
    assert helm.parent == component.urn
    assert helm.name == "release-helm"


def test_release_is_deleted_before_it_is_replaced():
    # The chart's hostNetwork DaemonSet cannot run twice on a node (components/qtap_release.py).
    assert release().one("kubernetes:helm.sh/v3:Release").delete_before_replace is True

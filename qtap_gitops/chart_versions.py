"""Which Qtap release each version of the `qpoint/qtap` chart deploys (its `appVersion`).

The chart's image tag defaults to `.Chart.AppVersion`, so the chart version a stack pins decides
the agent it runs (the fleet inventory shows both). Source: qpoint-io/helm-charts, the Helm
repository's `index.yaml` served at https://helm.qpoint.io/ and `charts/qtap/Chart.yaml` (0.0.38
at 9d449d9: `appVersion: "v0.17.6"`). 0.0.36 and 0.0.37 are in the chart's git history but not
in the repository index, so a stack cannot pull them from helm.qpoint.io. Add a row when a stack
pins a newer chart; an unknown version is shown as unknown, never guessed.
"""

from __future__ import annotations

APP_VERSIONS: dict[str, str] = {
    "0.0.30": "v0.13.0",
    "0.0.31": "v0.13.2",
    "0.0.32": "v0.13.4",
    "0.0.33": "v0.13.5",
    "0.0.34": "v0.14.3",
    "0.0.35": "v0.17.1",
    "0.0.38": "v0.17.6",
}


def app_version(chart_version: str) -> str | None:
    """The Qtap release the chart version deploys; None when this table does not know it."""
    return APP_VERSIONS.get(chart_version)

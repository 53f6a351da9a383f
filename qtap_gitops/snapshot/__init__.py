"""The snapshot contract: read a committed Qplane snapshot, prove it safe to deploy, and find
every env reference the agent will need.

The snapshot is never modified: `Snapshot.raw` is the file's exact bytes, and those bytes are
what the chart receives. Checks never stop at the first problem; `check_snapshot` returns all
of them, and `load_snapshot` raises a `ContractError` carrying them when any is an error.

One module per part of the snapshot, all reading through the typed view of `yamlsource`:
`document` (the file, the chart embedding, the root), `services`, `stacks` (and plugins),
`tap`, `rules` (tags, control, rulekit) and `references` (value sources, env references, and
which positions hold credentials).
"""

from .document import check_snapshot, check_snapshot_bytes, load_snapshot
from .model import (
    MAX_SNAPSHOT_BYTES,
    EnvReference,
    ReferenceRole,
    S3Store,
    Snapshot,
    SnapshotReport,
)
from .references import is_credential_path, redact

__all__ = [
    "MAX_SNAPSHOT_BYTES",
    "EnvReference",
    "ReferenceRole",
    "S3Store",
    "Snapshot",
    "SnapshotReport",
    "check_snapshot",
    "check_snapshot_bytes",
    "is_credential_path",
    "load_snapshot",
    "redact",
]

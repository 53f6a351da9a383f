"""Keep the collector off the objects every run shares.

After its imports the program holds some 200,000 objects that live until the process ends: the
SDKs' generated classes and types, the settings model's validators, the rule grammar. Python's
cyclic collector re-scans all of them in every full and most middle collections, which took
about a fifth of a stack's run (measured with `gc.callbacks`, benchmarks/program_vs_baseline.py).
`gc.freeze()` moves them to the permanent generation the collector ignores (Python docs,
`gc.freeze`). It is done once per process: a later freeze would also keep whatever garbage an
earlier run (in a tool that runs many stacks) had not collected yet.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_long_lived_objects() -> None:
    """Freeze what exists now, once per process (the first call wins)."""
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True

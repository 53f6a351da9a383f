"""The program freezes the objects of its imports once per process, never later garbage."""

from __future__ import annotations

import gc

from qtap_gitops import long_lived


def test_only_the_first_call_freezes(monkeypatch):
    monkeypatch.setattr(long_lived, "_frozen", False)
    long_lived.freeze_long_lived_objects()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    garbage = [[] for _ in range(1000)]  # objects made after the first run
    long_lived.freeze_long_lived_objects()
    # Frozen objects may still die (the count drops); the second call must add none of the
    # 1,001 objects made since.
    assert gc.get_freeze_count() <= frozen
    del garbage

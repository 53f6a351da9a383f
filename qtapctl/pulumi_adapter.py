"""The one place where the mock engine leans on Pulumi SDK details beyond its documented API.

Everything else in `qtapctl/mock_engine.py` uses public functions (`pulumi.runtime.set_mocks`,
`set_all_config`, `get_root_resource`, the `pulumi.runtime.test` runner, `Output`). Two facts
are not public, and each is needed for a reason given below; `tests/tools/test_pulumi_adapter.py`
checks them by name on the installed SDK, so a Pulumi upgrade that removes or changes one fails
there with the symbol named, not somewhere deep in a plan.

- `pulumi.runtime.stack.Stack.outputs`: the dict `pulumi.export` fills on the root stack
  (sdk/python/lib/pulumi/runtime/stack.py, `Stack.output`). Under mocks the root stack is
  finished by `set_mocks` before the program runs, so its exports never reach the monitor as
  `RegisterResourceOutputs`; reading the root's dict is the only way to see them.
- An asyncio event loop for the current thread: the SDK's runner (`pulumi.runtime.test`)
  creates one when none exists and leaves it set; the outputs are resolved on that same loop
  after the run (the SDK's own helper for this, `sync_await._sync_await`, is private, and
  `asyncio.run` would make a new loop the Output futures do not belong to).

- `pulumi.runtime.settings.SETTINGS.outputs`: the set of apply tasks the SDK awaits when a
  program ends. A failed run leaves its tasks there (the mock settings share the set), and the
  next run in the process would await them and fail with the earlier run's error, so a failed
  run discards them (`discard_pending_outputs`).

`RecordingMonitor` (mock_engine.py) extends `pulumi.runtime.mocks.MockMonitor`, the class of
`set_mocks`'s documented `monitor=` parameter, and overrides its gRPC-shaped `RegisterResource`;
the test checks that method too.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import pulumi
import pulumi.runtime.settings

T = TypeVar("T")

EXPORTS_ATTRIBUTE = "outputs"


def run_under_mocks(body: Callable[[], None]) -> None:
    """Run `body` as a Pulumi program under the configured mocks: call it, then wait until
    every registration and RPC it started has finished (pulumi.runtime.test, the SDK's
    documented runner for unit tests). An exception of `body` is raised after the wait."""
    pulumi.runtime.test(body)()  # type: ignore[no-untyped-call]  # the SDK leaves it untyped


def stack_exports() -> Mapping[str, Any]:
    """What the program passed to `pulumi.export`, by name (see the module docstring)."""
    root = pulumi.runtime.get_root_resource()
    if root is None:
        return {}
    exports = getattr(root, EXPORTS_ATTRIBUTE, None)
    if not isinstance(exports, dict):
        raise TypeError(
            "pulumi.runtime.stack.Stack.outputs is no longer a dict: the mock engine cannot "
            "read the stack's exports (see qtapctl/pulumi_adapter.py)"
        )
    return dict(exports)


def resolve(awaitable: Awaitable[T]) -> T:
    """`awaitable`'s result, computed on the thread's event loop (see the module docstring)."""
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    return loop.run_until_complete(asyncio.ensure_future(awaitable, loop=loop))


def discard_pending_outputs() -> None:
    """Forget the output tasks a failed run left behind.

    The SDK tracks every apply's task in `SETTINGS.outputs` and awaits them all when a program
    succeeds; after the first failed RPC it stops, and the mock settings do not give each run
    its own set (it is the property's shared default): the next run in this process would
    await them and fail with this run's error."""
    leftovers = list(pulumi.runtime.settings.SETTINGS.outputs)
    pulumi.runtime.settings.SETTINGS.outputs.clear()
    for task in leftovers:
        if not task.done():
            task.cancel()
        elif not task.cancelled():
            task.exception()  # retrieved: it belongs to the failed run, which reports its own
    # Coroutines the SDK created and the failed run never awaited (a StackReference's secret
    # name lookups) warn when collected; collect them now, as part of the run that left them.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
        gc.collect()

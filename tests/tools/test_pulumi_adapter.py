"""The Pulumi SDK facts the mock engine relies on (qtapctl/pulumi_adapter.py), checked by name:
after a Pulumi upgrade that changes one, this fails naming the symbol, before any plan does."""

from __future__ import annotations

import inspect

import pulumi
import pulumi.runtime.mocks
import pulumi.runtime.stack
import pytest

from qtapctl import pulumi_adapter
from qtapctl.mock_engine import Secret, run_pulumi


def parameters(function: object) -> set[str]:
    assert callable(function), f"{function!r} is no longer callable"
    return set(inspect.signature(function).parameters)


def test_the_public_functions_used_keep_their_parameters():
    expected = {
        "pulumi.runtime.set_mocks": (
            pulumi.runtime.set_mocks,
            {"mocks", "project", "stack", "preview", "logger", "monitor"},
        ),
        "pulumi.runtime.set_all_config": (pulumi.runtime.set_all_config, {"config"}),
        "pulumi.runtime.get_root_resource": (pulumi.runtime.get_root_resource, set()),
        "pulumi.runtime.test": (pulumi.runtime.test, {"fn"}),
    }
    for name, (function, needed) in expected.items():
        missing = needed - parameters(function)
        assert not missing, f"{name} lost the parameter(s) {sorted(missing)}"


def test_the_mock_monitor_still_receives_register_resource_requests():
    monitor = pulumi.runtime.mocks.MockMonitor
    assert parameters(monitor.RegisterResource) == {"self", "request"}, (
        "pulumi.runtime.mocks.MockMonitor.RegisterResource changed its signature; "
        "RecordingMonitor in qtapctl/mock_engine.py overrides it"
    )


def test_the_root_stack_keeps_its_exports_in_a_dict_named_outputs():
    stack_class = pulumi.runtime.stack.Stack
    source = inspect.getsource(stack_class.output)
    assert f"self.{pulumi_adapter.EXPORTS_ATTRIBUTE}[name] = value" in source, (
        "pulumi.runtime.stack.Stack.output no longer stores exports in Stack.outputs; "
        "update qtapctl/pulumi_adapter.stack_exports"
    )


def test_a_tiny_program_exports_and_returns_outputs_with_their_secrecy():
    def body() -> dict[str, object]:
        pulumi.export("plain", pulumi.Output.from_input("a").apply(lambda v: v + "b"))
        pulumi.export("hidden", pulumi.Output.secret("s"))
        return {"returned": 3}

    run = run_pulumi("adapter", body)
    assert run.error is None, run.error
    assert run.outputs["plain"] == "ab", "pulumi.export did not reach Stack.outputs"
    assert run.outputs["returned"] == 3
    hidden = run.outputs["hidden"]
    assert isinstance(hidden, Secret), "an exported secret lost its secrecy"


def test_a_program_error_is_reported_after_the_run_not_raised():
    def body() -> None:
        raise ValueError("broken program")

    run = run_pulumi("adapter", body)
    assert isinstance(run.error, ValueError)
    assert str(run.error) == "broken program"


def test_runs_do_not_share_exports():
    first = run_pulumi("one", lambda: pulumi.export("only-in-one", 1))
    second = run_pulumi("two", lambda: None)
    assert first.outputs == {"only-in-one": 1}
    assert second.outputs == {}


def test_the_adapter_refuses_exports_that_are_no_dict(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(pulumi_adapter, "EXPORTS_ATTRIBUTE", "_no_such_attribute")

    def body() -> None:
        pulumi_adapter.stack_exports()

    run = run_pulumi("adapter", body)
    assert isinstance(run.error, TypeError)
    assert "pulumi.runtime.stack.Stack.outputs" in str(run.error)


def test_the_sdk_still_tracks_pending_apply_tasks_in_settings_outputs():
    # qtapctl/pulumi_adapter.py discard_pending_outputs clears this set after a failed run.
    import pulumi.runtime.settings

    outputs = getattr(pulumi.runtime.settings.SETTINGS, "outputs", None)
    message = "pulumi.runtime.settings.SETTINGS.outputs is gone: update discard_pending_outputs"
    assert outputs is not None, message
    assert hasattr(outputs, "clear"), message


def test_a_failed_run_does_not_fail_the_next_one():
    def failing() -> None:
        pulumi.Output.from_input(1).apply(lambda _: 1 / 0)
        raise RuntimeError("the first run fails")

    first = run_pulumi("adapter", failing)
    second = run_pulumi("adapter", lambda: {"value": pulumi.Output.from_input(2)})
    assert first.error is not None
    assert second.error is None
    assert second.outputs == {"value": 2}

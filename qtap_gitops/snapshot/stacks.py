"""`stacks`: named plugin stacks, their plugins and the plugins' known config keys."""

from __future__ import annotations

from .. import qtap_schema as qs
from ..yamlsource import View, quote
from .model import Context, one_of, unknown_keys
from .rules import rule_expression


def check_stacks(ctx: Context, stacks: View) -> set[str]:
    if not stacks.optional_mapping("stacks"):
        return set()
    for name, stack in stacks.items():
        if stack.is_null:
            continue
        if not stack.mapping(f"stack {quote(name)}"):
            continue
        unknown_keys(stack, qs.STACK_KEYS, f"stack {quote(name)}")
        plugins = stack.get("plugins")
        if plugins is not None and plugins.optional_sequence("plugins"):
            for plugin in stack.child("plugins").elements():
                check_plugin(ctx, plugin)
    return set(stacks.keys())


def check_plugin(ctx: Context, plugin: View) -> None:
    if not plugin.mapping("a plugin"):
        return
    unknown_keys(plugin, qs.PLUGIN_KEYS, "a plugin")
    at = plugin.get("type")
    if at is None:
        plugin.error(
            "plugin-type",
            "the plugin has no 'type'; Qtap's validator rejects the config",
            f"set type to one of: {one_of(qs.KNOWN_PLUGINS)}",
        )
        return
    kind = at.string("type")
    if kind is None:
        return
    if kind not in qs.KNOWN_PLUGINS:
        at.warn(
            "plugin-unknown",
            f"unknown plugin type {quote(kind)}; this agent version may not provide it",
            f"check the spelling (known: {one_of(qs.KNOWN_PLUGINS)})",
        )
        return
    if plugin.present("config") is None:
        return
    config = plugin.child("config")
    if not config.mapping(f"the {kind} plugin's config"):
        return
    known = qs.PLUGIN_CONFIG_KEYS.get(kind)
    if known is not None:
        unknown_keys(config, known, f"the {kind} plugin's config")
    rule_keys = qs.PLUGIN_RULE_KEYS.get(kind)
    rules = config.get("rules")
    if rule_keys is not None and rules is not None and rules.optional_sequence("rules"):
        for rule in config.child("rules").elements():
            if rule.mapping(f"a {kind} rule"):
                unknown_keys(rule, rule_keys, f"a {kind} rule")
                if kind in qs.PLUGIN_RULE_EXPRESSIONS:
                    rule_expression(ctx, rule, qs.PLUGIN_RULE_EXPRESSIONS[kind], kind)
                level = rule.get("level")
                if kind == "http_capture" and level is not None:
                    check_capture_level(level)
    if kind == "http_capture":
        check_http_capture(ctx, config)
    if kind == "qscan":
        ref = config.present("object_store_id")
        if ref is not None:
            check_object_store_ref(ctx, ref)


def check_capture_level(at: View) -> None:
    level = at.string("level")
    if level is None:
        return
    if level in qs.LEGACY_CAPTURE_LEVELS:
        at.warn(
            "legacy-capture-level",
            f"capture level {quote(level)} is the legacy name of "
            f"{quote(qs.LEGACY_CAPTURE_LEVELS[level])}",
            f"set the level to {quote(qs.LEGACY_CAPTURE_LEVELS[level])} in Qplane",
        )
    elif level not in qs.CAPTURE_LEVELS:
        at.warn(
            "capture-level",
            f"unknown capture level {quote(level)}; Qtap captures nothing it does not recognise",
            f"use one of: {one_of(qs.CAPTURE_LEVELS)}",
        )


def check_http_capture(ctx: Context, config: View) -> None:
    level = config.get("level")
    if level is not None:
        check_capture_level(level)
    selector = config.get("object_store")
    if selector is None or selector.is_null:
        return
    if not selector.mapping("object_store"):
        return
    unknown_keys(config.child("object_store"), qs.OBJECT_STORE_SELECTOR_KEYS, "object_store")
    ref = selector.present("id")
    if ref is not None:
        check_object_store_ref(ctx, ref)


def check_object_store_ref(ctx: Context, at: View) -> None:
    # Object stores are checked before stacks, so every declared id is known here.
    ident = at.string("object store id")
    if ident is None or ident == "":
        return
    if ident not in ctx.object_store_ids:
        at.error(
            "unknown-store-id",
            f"object store id {quote(ident)} names no object store; the plugin would have "
            "nowhere to write captured payloads",
            f"use one of: {one_of(ctx.object_store_ids) or '(no object store has an id)'}",
        )

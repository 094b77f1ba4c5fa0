"""Command-line arguments of a scan, parsed against its published signature.

``bec scan line_scan samx -5 5 --steps 21 --exp-time 0.01 --relative``: the
positional words are converted by the scan's ``arg_input`` (device names stay
names, floats, ints, lists as ``1,2,3`` or ``[1, 2, 3]``), every keyword-only
parameter becomes an option (``exp_time`` → ``--exp-time``), booleans become
``--flag/--no-flag``. A parameter the scan requires is required here too, as
in Python: ``line_scan`` needs ``--relative`` or ``--no-relative`` (no silent default).
"""

from __future__ import annotations

import argparse
import inspect
import json
import typing
from typing import Any

from bec_core.client.errors import ScanArgumentError
from bec_core.client.signature import (
    DeviceBase,
    annotation_from_wire,
    build_signature,
    split_annotation,
    type_name,
)


def convert(text: str, annotation: Any, where: str) -> Any:
    """Convert one command-line word to the type ``annotation`` asks for."""
    base, _meta = split_annotation(annotation)
    origin = typing.get_origin(base)
    if origin is typing.Union or type(base).__name__ == "UnionType":
        options = [a for a in typing.get_args(base) if a is not type(None)]
        if text.lower() == "none":
            return None
        base = options[0] if options else str
        origin = typing.get_origin(base)
    try:
        if base is float:
            return float(text)
        if base is int:
            return int(text)
        if base is bool:
            lowered = text.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError(text)
        if base in (list, tuple) or origin in (list, tuple):
            inner = typing.get_args(base)
            items = (
                json.loads(text)
                if text.strip().startswith("[")
                else [t for t in text.split(",") if t.strip()]
            )
            return [convert(str(i), inner[0], where) if inner else _auto(str(i)) for i in items]
        if base is dict or origin is dict:
            value = json.loads(text)
            if not isinstance(value, dict):
                raise ValueError(text)
            return value
    except (ValueError, json.JSONDecodeError):
        raise ScanArgumentError(f"{where}: expected {type_name(base)}, got {text!r}") from None
    if base is DeviceBase or base is str:
        return text
    return _auto(text)


def _auto(text: str) -> Any:
    """A word whose type is not declared: int, float, or the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def option_name(param: str) -> str:
    """``exp_time`` → ``--exp-time``."""
    return "--" + param.replace("_", "-")


def build_parser(name: str, info: dict[str, Any], prog: str = "bec scan") -> argparse.ArgumentParser:
    """An argparse parser for scan ``name`` (positional words plus one option per keyword)."""
    signature = build_signature(info.get("signature") or [])
    parser = argparse.ArgumentParser(
        prog=f"{prog} {name}",
        description=inspect.cleandoc(str(info.get("doc") or "")).split("\n\n")[0],
        allow_abbrev=False,
    )
    parser.add_argument("words", nargs="*", metavar="ARG", help=_positional_help(info, signature))
    for param in signature.parameters.values():
        if param.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        base, meta = split_annotation(param.annotation)
        required = param.default is inspect.Parameter.empty
        help_text = (meta.description if meta and meta.description else "") or param.name
        if meta and meta.units:
            help_text += f" [{meta.units}]"
        if base is bool:
            default = None if required else param.default
            parser.add_argument(
                option_name(param.name),
                dest=param.name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=f"{help_text} (required)" if required else f"{help_text} (default {default})",
            )
            continue
        parser.add_argument(
            option_name(param.name),
            dest=param.name,
            metavar=type_name(base).upper().replace(" ", ""),
            required=required,
            default=argparse.SUPPRESS if not required else None,
            help=help_text + ("" if required else f" (default {param.default!r})"),
        )
    return parser


def _positional_help(info: dict[str, Any], signature: inspect.Signature) -> str:
    arg_input = info.get("arg_input") or {}
    if arg_input:
        return "bundles of " + " ".join(arg_input).upper()
    names = [
        p.name
        for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    return " ".join(n.upper() for n in names) or "none"


def parse_scan_args(
    name: str, info: dict[str, Any], argv: list[str], parser: argparse.ArgumentParser | None = None
) -> tuple[list[Any], dict[str, Any], argparse.Namespace]:
    """``argv`` after the scan name → ``(args, kwargs, namespace)`` with typed values.

    ``parser`` may carry extra options (the CLI's ``--plot``, ...); they end up in the namespace.

    Raises:
        ScanArgumentError: a word does not convert; ``SystemExit`` (from argparse) on unknown options.
    """
    parser = parser or build_parser(name, info)
    ns = parser.parse_args(argv)
    signature = build_signature(info.get("signature") or [])
    words = list(ns.words)
    args = _convert_positionals(name, info, signature, words)
    kwargs: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.kind is not inspect.Parameter.KEYWORD_ONLY or not hasattr(ns, param.name):
            continue
        value = getattr(ns, param.name)
        if value is None and param.default is inspect.Parameter.empty:
            flag = option_name(param.name)
            raise ScanArgumentError(f"{name} needs {flag} or --no-{flag[2:]} (it has no default)")
        if isinstance(value, str):
            value = convert(value, param.annotation, f"{option_name(param.name)}")
        kwargs[param.name] = value
    return args, kwargs, ns


def _convert_positionals(
    name: str, info: dict[str, Any], signature: inspect.Signature, words: list[str]
) -> list[Any]:
    arg_input: dict[str, Any] = info.get("arg_input") or {}
    has_var = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values())
    if arg_input and has_var:
        names, types = list(arg_input), [annotation_from_wire(t) for t in arg_input.values()]
        return [
            convert(
                w, types[i % len(types)], f"{name}: {names[i % len(names)]!r} of bundle {i // len(names) + 1}"
            )
            for i, w in enumerate(words)
        ]
    params = [
        p
        for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    out = []
    for i, word in enumerate(words):
        annotation = params[i].annotation if i < len(params) else inspect.Parameter.empty
        label = params[i].name if i < len(params) else f"argument {i + 1}"
        out.append(convert(word, annotation, f"{name}: {label!r}"))
    return out

"""``scans``: one function per scan the scan server offers.

Each function is built from the scan's ``available_scans`` entry with its
real :class:`inspect.Signature` and docstring, so ``help(scans.line_scan)``,
``scans.line_scan?`` and tab completion show the scan's own arguments, and a
call is checked against them before anything is sent.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from bec_core.client.signature import build_doc, build_signature, split_annotation, type_name

if TYPE_CHECKING:
    from bec_core.client.client import BECClient


def make_scan_function(client: BECClient, name: str, info: dict[str, Any]) -> Callable[..., Any]:
    """A function ``name(*args, **kwargs)`` that validates and submits the scan."""

    def scan(*args: Any, **kwargs: Any) -> Any:
        return client.run_scan(name, args, kwargs)

    scan.__name__ = name
    scan.__qualname__ = f"scans.{name}"
    scan.__module__ = "bec_core.client.scans"
    scan.__doc__ = build_doc(name, info)
    signature = build_signature(info.get("signature") or [])
    scan.bec_signature = signature  # type: ignore[attr-defined]  # with the ScanArgument metadata
    scan.__signature__ = readable_signature(signature)  # type: ignore[attr-defined]  # for help()
    scan.scan_info = info  # type: ignore[attr-defined]
    return scan


class _TypeText:
    """An annotation shown as plain text by ``help()`` and ``inspect`` (``int``, ``float [s]``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def readable_signature(signature: inspect.Signature) -> inspect.Signature:
    """The signature with ``int``/``float [s]`` in place of ``Annotated[int, ScanArgument(...)]``."""
    params = []
    for param in signature.parameters.values():
        if param.annotation is inspect.Parameter.empty:
            params.append(param)
            continue
        _base, meta = split_annotation(param.annotation)
        text = type_name(param.annotation) + (f" [{meta.units}]" if meta and meta.units else "")
        params.append(param.replace(annotation=_TypeText(text)))
    return signature.replace(parameters=params, return_annotation=inspect.Signature.empty)


class Scans:
    """The scans of the session as attributes.

    ``scans.line_scan(dev.samx, -1, 1, steps=5, relative=False)`` returns a :class:`ScanReport`.
    """

    def __init__(self, client: BECClient) -> None:
        self._client = client
        self._info: dict[str, dict[str, Any]] = {}
        self._functions: dict[str, Callable[..., Any]] = {}

    def _update(self, resource: dict[str, dict[str, Any]]) -> None:
        """Rebuild the functions from an ``available_scans`` resource (internal scans are kept
        in :attr:`info` but get no function)."""
        functions = {}
        for name, info in resource.items():
            if not isinstance(info, dict) or info.get("is_internal"):
                continue
            try:
                functions[name] = make_scan_function(self._client, name, info)
            except (ValueError, KeyError, TypeError) as exc:
                self._client.notify(f"scan {name!r} skipped: its published signature is invalid ({exc})")
        self._info = dict(resource)
        self._functions = functions

    @property
    def info(self) -> dict[str, dict[str, Any]]:
        """Every ``available_scans`` entry by scan name (internal ones included)."""
        return dict(self._info)

    def names(self) -> list[str]:
        """Names of the scans a user can call."""
        return list(self._functions)

    def get(self, name: str) -> Callable[..., Any] | None:
        """The function of scan ``name`` or None."""
        return self._functions.get(name)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)
        functions = self.__dict__.get("_functions", {})
        if name in functions:
            return functions[name]
        raise AttributeError(unknown_scan_text(name, list(functions)))

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self.__getattr__(name)

    def __contains__(self, name: object) -> bool:
        return name in self._functions

    def __iter__(self) -> Iterator[str]:
        return iter(self._functions)

    def __dir__(self) -> list[str]:
        return sorted(self._functions)

    def __repr__(self) -> str:
        return f"<scans: {', '.join(self._functions) or 'none loaded'}>"


def unknown_scan_text(name: str, known: list[str]) -> str:
    """``unknown scan 'line_scn' (did you mean 'line_scan'?); available: ...``."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown scan {name!r}{hint}; available scans: {', '.join(sorted(known)) or 'none'}"

"""The endpoint catalogue at ``public/endpoints``: every endpoint with its signature and doc.

Same shape as stock SciHub's: ``{method: {"signature": [...], "doc": str}}`` where a
signature is bec_lib's ``signature_to_dict`` list (``name``, ``kind``, ``default``,
``annotation``), built here from bec-core's own :class:`MessageEndpoints`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from bec_core.endpoints import MessageEndpoints
from bec_core.messages import AvailableResourceMessage
from bec_core.redis_connector import AsyncRedisConnector


def _default(value: Any) -> Any:
    if value is inspect.Parameter.empty:
        return "_empty"
    return value


def _annotation(value: Any) -> str:
    if value is inspect.Parameter.empty:
        return "_empty"
    return value if isinstance(value, str) else getattr(value, "__name__", str(value))


def signature_entries(func: Callable[..., Any]) -> list[dict[str, Any]]:
    """The parameters of ``func`` as bec_lib's ``signature_to_dict`` writes them."""
    return [
        {
            "name": name,
            "kind": param.kind.name,
            "default": _default(param.default),
            "annotation": _annotation(param.annotation),
        }
        for name, param in inspect.signature(func).parameters.items()
        if name not in ("self", "cls")
    ]


def endpoint_catalogue() -> dict[str, dict[str, Any]]:
    """Every public :class:`MessageEndpoints` method with its signature and docstring."""
    return {
        name: {"signature": signature_entries(func), "doc": func.__doc__}
        for name, func in inspect.getmembers(MessageEndpoints, inspect.isfunction)
        if not name.startswith("_")
    }


async def publish_catalogue(connector: AsyncRedisConnector) -> None:
    """Write the catalogue to ``public/endpoints``."""
    await connector.set(
        MessageEndpoints.endpoint_info(), AvailableResourceMessage(resource=endpoint_catalogue())
    )

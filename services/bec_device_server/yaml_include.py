"""Device YAML with ``!include``, with the meaning bec_lib's loader gives it (``bec_lib.bec_yaml_loader``).

A top-level key whose value is ``!include other.yaml`` (or a list of such
includes) is a *group label*: the key itself is dropped and the devices of the
included file(s) take its place at the top level::

    motors: !include motors.yaml
    detectors:
      - !include detectors/cameras.yaml
      - !include detectors/monitors.yaml

A relative path is relative to the file that includes it (``~`` is expanded);
included files may include others. A device defined twice is taken from the
later definition (a warning names both files). Unlike bec_lib's loader this one
is built on ``yaml.SafeLoader`` (no Python object tags) and refuses include
cycles, missing files and non-mapping files with a :class:`ConfigError` naming
the file that includes them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from bec_core.errors import ConfigError

log = logging.getLogger(__name__)
TAG = "!include"


class _Include:
    """An ``!include`` marker left by the parser, resolved after parsing."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


class _IncludeLoader(yaml.SafeLoader):
    """SafeLoader that turns ``!include PATH`` scalars into :class:`_Include` markers."""


def _construct_include(loader: yaml.SafeLoader, node: yaml.Node) -> _Include:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(
            None, None, f"{TAG} takes a file path, got a {node.id}", node.start_mark
        )
    return _Include(str(loader.construct_scalar(node)))


_IncludeLoader.add_constructor(TAG, _construct_include)


def _parse(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: device config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return yaml.load(text, Loader=_IncludeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None


def _target(marker: _Include, including: Path) -> Path:
    target = Path(marker.path).expanduser()
    if not target.is_absolute():
        target = including.expanduser().resolve().parent / target
    target = target.resolve()
    if not target.is_file():
        raise ConfigError(f"{including}: {TAG} {marker.path}: {target} is not a file")
    return target


def load_yaml_with_includes(path: Path | str, _chain: tuple[Path, ...] = ()) -> Any:
    """The parsed device YAML of ``path`` with every top-level ``!include`` resolved.

    Raises:
        ConfigError: a file is missing, unreadable, not YAML, includes itself
            (directly or not), an included file is not a mapping, or ``!include``
            appears anywhere but as a top-level value (or item of one).
    """
    path = Path(path)  # as given: error texts name the file the way the user wrote it
    resolved = path.expanduser().resolve()
    if resolved in _chain:
        cycle = " -> ".join(str(p) for p in (*_chain, resolved))
        raise ConfigError(f"{path}: {TAG} cycle: {cycle}")
    data = _parse(path.expanduser())
    if data is None or not isinstance(data, dict):
        return data
    out: dict[Any, Any] = {}
    origin: dict[Any, Path] = {}
    for key, value in data.items():
        markers = _markers(value)
        if markers is None:
            _check_nested(value, path, key)
            _put(out, origin, key, value, path)
            continue
        for marker in markers:
            target = _target(marker, path)
            included = load_yaml_with_includes(target, (*_chain, resolved))
            if included is None:
                continue
            if not isinstance(included, dict):
                raise ConfigError(
                    f"{path}: {TAG} {marker.path}: expected a mapping of devices, "
                    f"got {type(included).__name__}"
                )
            for name, device in included.items():
                _put(out, origin, name, device, target)
    return out


def _markers(value: Any) -> list[_Include] | None:
    """The include markers of a top-level value, or None if it is not an include."""
    if isinstance(value, _Include):
        return [value]
    if isinstance(value, list) and value and any(isinstance(v, _Include) for v in value):
        return [v for v in value if isinstance(v, _Include)]
    return None


def _check_nested(value: Any, path: Path, key: Any) -> None:
    """Refuse an ``!include`` below the top level (bec_lib would leave a marker in the config)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Include):
            raise ConfigError(
                f"{path}: device {key!r}: {TAG} is only allowed as a top-level value (a group of devices)"
            )
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _put(out: dict[Any, Any], origin: dict[Any, Path], key: Any, value: Any, source: Path) -> None:
    if key in out:
        log.warning("device %r is defined in %s and again in %s: using the latter", key, origin[key], source)
    out[key] = value
    origin[key] = source


__all__ = ["load_yaml_with_includes"]

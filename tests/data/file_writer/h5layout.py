"""Describe the structure of an HDF5 file as plain JSON-able data (used by the reference script
and by the tests that compare bec-core's file with stock BEC's; needs only h5py and numpy).

Each object becomes ``path -> {"kind": ..., ...}``: groups and datasets carry their attributes
(name -> dtype, and the value for text attributes such as ``NX_class``), datasets their dtype
and shape, links their target. Values of datasets are not part of the description.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np


def dtype_name(dtype: np.dtype) -> str:
    """A stable name for a dtype: text of any flavour is ``"str"``, compounds list their fields."""
    if h5py.check_string_dtype(dtype) is not None or dtype.kind in ("S", "U"):
        return "str"
    if dtype.kind == "O":
        return "object"
    if dtype.names:
        return "{" + ",".join(f"{n}:{dtype_name(dtype.fields[n][0])}" for n in dtype.names) + "}"
    return dtype.name


def _attrs(obj: h5py.HLObject) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sorted(obj.attrs):
        value = obj.attrs[name]
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, str):
            out[name] = {"dtype": "str", "value": value}
        else:
            out[name] = {"dtype": dtype_name(np.asarray(value).dtype)}
    return out


def describe(path: str) -> dict[str, dict[str, Any]]:
    """The structure of the HDF5 file at ``path``."""
    out: dict[str, dict[str, Any]] = {}
    with h5py.File(path, "r") as f:
        _walk(f, "", out)
    return out


def _walk(group: h5py.Group, prefix: str, out: dict[str, dict[str, Any]]) -> None:
    for name in group:
        path = f"{prefix}/{name}"
        link = group.get(name, getlink=True)
        if isinstance(link, h5py.SoftLink):
            out[path] = {"kind": "softlink", "target": link.path}
            continue
        if isinstance(link, h5py.ExternalLink):
            out[path] = {"kind": "extlink", "target": link.path}
            continue
        obj = group[name]
        if isinstance(obj, h5py.Group):
            out[path] = {"kind": "group", "attrs": _attrs(obj)}
            _walk(obj, path, out)
        else:
            out[path] = {
                "kind": "dataset",
                "dtype": dtype_name(obj.dtype),
                "shape": list(obj.shape),
                "attrs": _attrs(obj),
            }

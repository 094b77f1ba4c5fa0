"""Where a scan's files go: stock BEC's path scheme, shared by the scan server and the file writer.

A scan's master file is ``<base>/S00000-00999/S00001/S00001_master.h5``, where ``<base>``
is the configured ``file_writer.base_path`` (stock's default ``./data``), with the active
account appended as a directory (or substituted for ``$account`` in the base path). The
scan server puts ``(path without suffix, "h5")`` into ``ScanStatusMessage.info["file_components"]``;
every file of the scan is ``f"{components[0]}_{name}.{components[1]}"`` (bec_lib's
``get_full_path``), the master file's name being ``master``.
"""

from __future__ import annotations

import os
from string import Template

from bec_core.errors import BECError

__all__ = ["FilePathError", "base_path_for", "file_components", "master_file_path", "scan_directory"]


class FilePathError(BECError):
    """A base path, account or file name that cannot make a safe file path."""


def scan_directory(scan_number: int, bundle: int = 1000, zeros: int = 5, suffix: str | None = None) -> str:
    """``S01000-01999/S01234`` (and ``_<suffix>`` if a user suffix is given) for scan 1234."""
    floor = scan_number // bundle * bundle
    out = f"S{floor:0{zeros}d}-{floor + bundle - 1:0{zeros}d}/S{scan_number:0{zeros}d}"
    return f"{out}_{suffix}" if suffix else out


def _check_name(value: str, what: str) -> None:
    plain = value.replace("_", "").replace("-", "")
    if not plain.isalnum() or not plain.isascii():
        raise FilePathError(f"{what} {value!r} may contain only ASCII letters, digits, '_' and '-'")


def base_path_for(base_path: str, account: str | None) -> str:
    """The absolute data directory for ``account``: ``$account`` substituted, else appended.

    Raises:
        FilePathError: the account is not a plain name, or the template names another variable.
    """
    if account:
        _check_name(account, "account")
    if "$" in base_path:
        try:
            base_path = Template(base_path).substitute(account=account or "")
        except (KeyError, ValueError) as exc:
            raise FilePathError(f"file_writer.base_path {base_path!r}: bad template variable {exc}") from None
    elif account:
        base_path = os.path.join(base_path, account)
    return os.path.abspath(os.path.expanduser(base_path))


def file_components(
    base_path: str,
    scan_number: int,
    account: str | None = None,
    file_directory: str | None = None,
    user_suffix: str | None = None,
) -> tuple[str, str]:
    """``(<base>/S00000-00999/S00001/S00001, "h5")`` as stock's scan server computes it.

    Raises:
        FilePathError: bad account or suffix, or a ``file_directory`` leading out of the base path.
    """
    if user_suffix:
        _check_name(user_suffix, "file suffix")
    base = base_path_for(base_path, account)
    directory = file_directory or scan_directory(scan_number, suffix=user_suffix)
    component = os.path.normpath(os.path.join(base, directory, f"S{scan_number:05d}"))
    if not component.startswith(os.path.normpath(base) + os.sep):
        raise FilePathError(f"file directory {directory!r} leads out of the base path {base!r}")
    return component, "h5"


def master_file_path(
    components: tuple[str, str] | list[str], name: str = "master", suffix: str | None = None
) -> str:
    """The full path of the scan's file ``name`` (``master``) from its file components."""
    _check_name(name, "file name")
    if suffix:
        name = f"{name}_{suffix}"
    return f"{components[0]}_{name}.{components[1]}"

"""bec-core's file paths are stock BEC's (compared with stock bec_lib where it is installed)."""

from __future__ import annotations

import os

import pytest

from bec_core.config import load_settings
from bec_core.file_paths import FilePathError, base_path_for, file_components, master_file_path


def test_stock_scheme(tmp_path) -> None:
    components = file_components(str(tmp_path), 1)
    assert components == (f"{tmp_path}/S00000-00999/S00001/S00001", "h5")
    assert master_file_path(components) == f"{tmp_path}/S00000-00999/S00001/S00001_master.h5"
    assert file_components(str(tmp_path), 1234, user_suffix="sampleA")[0] == (
        f"{tmp_path}/S01000-01999/S01234_sampleA/S01234"
    )


def test_account_is_a_directory_or_a_template(tmp_path) -> None:
    assert base_path_for(str(tmp_path), "p12345") == f"{tmp_path}/p12345"
    assert base_path_for(f"{tmp_path}/$account/raw", "p12345") == f"{tmp_path}/p12345/raw"
    assert base_path_for("./data", None) == os.path.abspath("./data")


@pytest.mark.parametrize("account", ["../etc", "a/b", "ü"])
def test_bad_account_is_refused_by_name(tmp_path, account: str) -> None:
    with pytest.raises(FilePathError, match="account"):
        file_components(str(tmp_path), 1, account=account)


def test_directory_may_not_leave_the_base(tmp_path) -> None:
    with pytest.raises(FilePathError, match="leads out of the base path"):
        file_components(str(tmp_path), 1, file_directory="../../elsewhere")


def test_default_base_path_is_stocks() -> None:
    assert load_settings(env={}).file_writer.base_path == "./data"


@pytest.mark.parametrize(
    "number,suffix,directory", [(1, None, None), (2345, "x-1", None), (7, None, "mine/here")]
)
def test_same_as_stock_bec_lib(tmp_path, number: int, suffix, directory) -> None:
    stock = pytest.importorskip("bec_lib.file_utils")
    expected = stock.compile_file_components(
        str(tmp_path), number, file_directory=directory, user_suffix=suffix
    )
    assert file_components(str(tmp_path), number, None, directory, suffix) == expected

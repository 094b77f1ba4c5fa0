"""Fixtures for file-writer system tests: the stack of fw_stack.py, a connection, a recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from fw_stack import running_stack
from ss_harness import Recorder, all_endpoints, connected

from bec_core.redis_connector import AsyncRedisConnector


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Redis + device server + scan server + file writer for the module's tests."""
    with running_stack(tmp_path_factory.mktemp("fw-stack")) as env:
        yield env
    assert env.get("fw_code", 0) == 0, (env["tmp"] / "fw.log").read_text()[-3000:]


@pytest.fixture
async def conn(stack: dict) -> AsyncIterator[AsyncRedisConnector]:
    """A client connection once all servers run."""
    async with connected(stack["url"], ["ScanServer", "DeviceServer", "FileWriterManager"]) as connector:
        yield connector


@pytest.fixture
async def rec(conn: AsyncRedisConnector) -> Recorder:
    """Records what a client sees."""
    return await Recorder(conn).follow(**all_endpoints())

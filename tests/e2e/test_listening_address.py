"""`HOST` decides where `stackdock-assistant slack` listens: behind a reverse proxy, only the
proxy on the same machine can reach it.

All of 127.0.0.0/8 is this machine, so a socket bound to 127.0.0.1 refuses 127.0.0.2, while
one bound to every interface (the default) answers there too.
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.e2e.test_slack_cli import cli_env, free_port, run_cli, stop, wait_healthy
from tests.fakes.services.slack_api import FakeSlackApi
from tests.harness.slack_harness import SLACK_USERS


async def answers_at(address: str, port: int) -> bool:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://{address}:{port}/healthz") as resp,
        ):
            return resp.status == 200
    except aiohttp.ClientConnectorError:
        return False


@pytest.mark.parametrize(
    ("host", "reachable_elsewhere"),
    [("127.0.0.1", False), (None, True)],
    ids=["HOST=127.0.0.1", "default"],
)
async def test_the_slack_command_listens_on_HOST(tmp_path, host, reachable_elsewhere):
    async with FakeSlackApi(SLACK_USERS) as api:
        env = cli_env(tmp_path, api)
        env.pop("HOST", None)
        if host is not None:
            env["HOST"] = host
        port = free_port()
        proc = await run_cli(env, "slack", "--port", str(port))
        try:
            await wait_healthy(port, proc)  # on 127.0.0.1, which both bind
            assert await answers_at("127.0.0.2", port) is reachable_elsewhere
        finally:
            await stop(proc)

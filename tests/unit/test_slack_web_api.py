"""The Web API client: slack_sdk's, with a logger that reports the level in force
(adapters/slack/web_api.py).

What it sends, retries and raises must stay the SDK's; the integration tests drive every call
of the adapter through it. Here: the debug lines appear exactly when debug logging is on, a
method's URL follows the client's base URL, and a deprecated method still warns.
"""

from __future__ import annotations

import logging

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from adapters.slack.app import web_client
from adapters.slack.web_api import SDK_LOGGER, SlackWebClient
from tests.fakes.services.slack_api import BOT_TOKEN, FakeSlackApi

SENDING = "Sending a request"


async def test_the_sdks_debug_lines_only_when_debug_logging_is_on(caplog):
    async with FakeSlackApi({"U1": "ada@acme.example"}) as api:
        client = web_client(BOT_TOKEN, api.url)
        assert isinstance(client, SlackWebClient)
        caplog.set_level(logging.INFO)
        # What the SDK compares with DEBUG before building its lines: the level in force.
        assert client.logger.level == logging.INFO
        await client.users_info(user="U1")
        assert not [r for r in caplog.records if SENDING in r.getMessage()]

        caplog.set_level(logging.DEBUG, logger=SDK_LOGGER)
        assert client.logger.level == logging.DEBUG
        response = await client.users_info(user="U1")
        assert response["user"]["profile"]["email"] == "ada@acme.example"
        [sent] = [r.getMessage() for r in caplog.records if SENDING in r.getMessage()]
        assert f"{api.url}users.info" in sent
        assert "'Authorization': '(redacted)'" in sent and BOT_TOKEN not in caplog.text
        assert any("Received the following response" in r.getMessage() for r in caplog.records)


async def test_a_methods_url_follows_the_base_url():
    async with FakeSlackApi() as first, FakeSlackApi() as second:
        client = web_client(BOT_TOKEN, first.url)
        async with aiohttp.ClientSession() as session:
            client.session = session
            await client.assistant_threads_setStatus(channel_id="D1", thread_ts="1.1", status="…")
            client.base_url = second.url
            await client.assistant_threads_setStatus(channel_id="D1", thread_ts="1.1", status="…")
        assert [c.method for c in first.calls] == ["assistant.threads.setStatus"]
        assert [c.method for c in second.calls] == ["assistant.threads.setStatus"]
        assert second.calls[0].token == BOT_TOKEN


async def test_a_deprecated_method_still_warns_and_errors_are_the_sdks():
    async with FakeSlackApi() as api:
        client = web_client(BOT_TOKEN, api.url)
        deprecated = pytest.warns(UserWarning, match="channels.list is deprecated")
        with deprecated, pytest.raises(SlackApiError) as raised:
            await client.api_call("channels.list")
        assert raised.value.response["error"] == "unknown_method"
        assert raised.value.response.status_code == 200

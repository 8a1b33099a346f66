"""`stackdock-assistant discord` as operators run it: settings (or the environment) in, bot up."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from adapters.stackdock.demo import DEMO_USERS
from bot.serve_discord import serve_discord
from bot.settings import Settings, SettingsError
from bot.wiring import runtime
from tests.fakes.services.discord_api import BOT_TOKEN, FakeDiscord

ROOT = Path(__file__).resolve().parents[2]
GUILDS, GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT = 1 << 0, 1 << 9, 1 << 12, 1 << 15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def fake() -> FakeDiscord:
    import discord
    from discord.gateway import DiscordWebSocket

    saved = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    fake = FakeDiscord()
    await fake.start()
    yield fake
    await fake.stop()
    discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


def settings_for(fake: FakeDiscord, sqlite_url: str, **overrides: object) -> Settings:
    values = {
        "database_url": sqlite_url,
        "ai_provider": "offline",
        "discord_token": BOT_TOKEN,
        "discord_api_url": fake.api_url,
        "discord_gateway_url": fake.gateway_url,
        "port": free_port(),
        **overrides,
    }
    return Settings(_env_file=None, **values)


async def link_dm(fake: FakeDiscord, settings: Settings) -> dict:
    person = fake.user(fake.new_id(), "ada")
    async with runtime(settings) as rt:
        await rt.store.links.set(f"discord:@me:{person['id']}", DEMO_USERS["admin"])
    return person


async def test_serve_discord_connects_with_its_settings_answers_and_stops_cleanly(
    fake: FakeDiscord, sqlite_url: str
) -> None:
    settings = settings_for(fake, sqlite_url)
    person = await link_dm(fake, settings)
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_discord(settings, stop=stop))
    await fake.wait_connected()
    intents = fake.identifies[0]["intents"]
    for bit in (GUILDS, GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT):
        assert intents & bit
    assert fake.identifies[0]["token"] == BOT_TOKEN

    dm = fake.dm_channel(person)
    await fake.post_message(dm, person, "How many servers do I have?")
    await fake.wait_for(
        lambda: [m for m in fake.messages.values() if m["channel_id"] == dm and m["components"]],
        what="an answer in the DM",
    )
    health = f"http://127.0.0.1:{settings.port}/healthz"
    async with aiohttp.ClientSession() as http, http.get(health) as response:
        assert response.status == 200

    stop.set()
    assert await asyncio.wait_for(serving, 10) == 0


async def test_a_rejected_token_ends_with_exit_code_1(fake: FakeDiscord, sqlite_url: str) -> None:
    settings = settings_for(fake, sqlite_url, discord_token="not-the-token")
    assert await asyncio.wait_for(serve_discord(settings), 10) == 1


async def test_no_token_is_a_settings_error(sqlite_url: str) -> None:
    with pytest.raises(SettingsError, match="DISCORD_TOKEN"):
        await serve_discord(Settings(_env_file=None, database_url=sqlite_url))


async def test_the_cli_takes_discord_api_and_gateway_urls_from_the_environment(
    fake: FakeDiscord, sqlite_url: str, tmp_path: Path
) -> None:
    settings = settings_for(fake, sqlite_url)
    person = await link_dm(fake, settings)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": sqlite_url,
        "AI_PROVIDER": "offline",
        "DISCORD_TOKEN": BOT_TOKEN,
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "PORT": str(free_port()),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "discord",
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake.wait_connected(within_s=30)
        dm = fake.dm_channel(person)
        await fake.post_message(dm, person, "List my domains")
        await fake.wait_for(
            lambda: [
                m for m in fake.messages.values() if m["channel_id"] == dm and m["components"]
            ],
            what="an answer from the CLI's bot",
        )
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert BOT_TOKEN not in stderr.decode()

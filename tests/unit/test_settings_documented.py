"""The docs match the code: every setting is in the README's table and in .env.example, and
the template loads as it is."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def readme_settings() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def template_settings() -> set[str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {m.group(1) for line in lines if (m := re.match(r"([A-Z][A-Z0-9_]+)=", line))}


def test_every_setting_is_documented_in_the_readme():
    assert readme_settings() == {name.upper() for name in Settings.model_fields}


def test_the_template_lists_every_setting_the_readme_documents():
    assert readme_settings() - template_settings() == set()
    assert template_settings() - readme_settings() == set()


def test_the_template_loads_as_a_dot_env(tmp_path, monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.resolved_provider() == "offline" and settings.rate_limit_per_hour == 50

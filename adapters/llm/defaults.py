"""The model each provider uses when none is configured.

Both are current, not deprecated by their SDKs, and priced in the bundled genai-prices data,
so a default install records cost without configuration. OpenAI's is never sent to another
server at OPENAI_BASE_URL: that one is asked for its own model (`adapters.llm.compat`).
"""

from __future__ import annotations

DEFAULT_MODELS: dict[str, str] = {
    "openai": "gpt-5.4-mini",
    "anthropic": "claude-sonnet-5",
}

"""The model each provider uses when none is configured.

Both are current, not deprecated by their SDKs, and priced in the bundled genai-prices data,
so a default install records cost without configuration.
"""

from __future__ import annotations

DEFAULT_MODELS: dict[str, str] = {
    "openai": "gpt-5.4-mini",
    "anthropic": "claude-sonnet-5",
}

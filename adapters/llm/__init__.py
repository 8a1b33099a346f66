"""The model SDK providers: OpenAI (and compatible servers) and Anthropic."""

"""Wire-level fakes of outside services (Slack, Discord, OpenAI, Anthropic, Convex,
local model servers) listening on 127.0.0.1 for the real client libraries."""

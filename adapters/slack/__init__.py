"""Slack: the assistant where teams already talk (slack-bolt AsyncApp)."""

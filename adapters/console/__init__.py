"""The terminal as a chat platform: `console` chats line by line, `ask` answers one question.

chat.py holds the two commands; answers.py one answer and Ctrl-C stopping it; screen.py the
plain and the rendered output; terminal.py the keyboard; commands.py the words answered here
(help, prompts, usage, exit); exits.py the exit codes; controls.py what is never printed raw.
"""

from __future__ import annotations

from adapters.console.answers import answer
from adapters.console.chat import ask, console
from adapters.console.exits import EXIT_CODES, exit_code

__all__ = ["EXIT_CODES", "answer", "ask", "console", "exit_code"]

"""What the terminal is given to print: never a raw control character.

A question is echoed back, and an answer may quote it or StackDock's own text (a resource
name anyone with a provider account can set). An escape sequence in either could move the
cursor, retitle the window or hide text, so every control character is shown as a visible
stand-in instead: `^[` for ESC (as a terminal's own echo shows it), `<U+202E>` for a
bidirectional override.
"""

from __future__ import annotations

import re

# C0 (but newline and tab), DEL, C1, and the bidirectional embeddings, overrides and isolates.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _stand_in(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20 or code == 0x7F:
        return "^" + chr(code ^ 0x40)
    return f"<U+{code:04X}>"


def shown(text: str) -> str:
    """`text` with every control character but newline and tab made visible."""
    return _CONTROLS.sub(_stand_in, text)

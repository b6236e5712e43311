"""Text that every store keeps: what a message may carry, and what a record of it may say.

JSON can carry two things our databases refuse in text: U+0000, which PostgreSQL's text type
cannot hold, and lone surrogates (an escaped "\\ud800"), which are not UTF-8 and which neither
sqlite3 nor asyncpg will encode. A consumer that tried to store either would fail its
transaction on every redelivery and stop on that one message.
"""

from __future__ import annotations

import re

# U+0000 in JSON text is the escape \u0000 behind an even number of backslashes (after an odd
# number the first backslash is escaped and "u0000" is plain text). A raw NUL byte is not JSON.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def holds_nul(json_text: bytes) -> bool:
    """Whether a JSON document holds U+0000 in any string or key."""
    return b"\\u0000" in json_text and _NUL_ESCAPE.search(json_text) is not None


def storable(text: str) -> str:
    """text with lone surrogates and NUL spelled as escapes, so that any database stores it."""
    if text.isascii() and "\x00" not in text:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")

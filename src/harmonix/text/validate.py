"""The gate every text passes before it may touch a field.

Bad input gets a clear :class:`~harmonix.errors.InvalidText` and never reaches storage, so a field is unchanged by
it. Rejected: anything that is not ``str`` (bytes included), empty or whitespace-only text, text over
``MAX_TEXT_CHARS``, NUL and other control characters (except tab, newline, carriage return), lone surrogates (text
that is not valid Unicode and cannot be stored as UTF-8), and text with no word in it.

:func:`visible` is the gate's other half, for output: it writes what the gate refuses as escapes, so that text from
outside a field (an LLM server's error message) cannot drive the terminal it is printed on.

Accepted and stored verbatim: everything else, SQL-looking strings included: storage binds parameters, so
``"'); DROP TABLE texts; --"`` is just a text.
"""

from __future__ import annotations

import re
from typing import Any

from harmonix.errors import InvalidText
from harmonix.text.tokens import normalize

MAX_TEXT_CHARS = 32_768
# C0 controls but tab, newline and carriage return; DEL and the C1 controls; the surrogate block.
_CONTROLS = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f"
_FORBIDDEN = re.compile(f"[{_CONTROLS}\\ud800-\\udfff]")
# A word needs a letter of the normalised text (see harmonix.text.tokens): NFKC turns some characters that count as
# word characters into ones that do not ("¼" into "1⁄4"), so the search runs on what the tokenizer will see.
# Searching for one letter is cheaper than tokenizing twice.
_LETTER = re.compile(r"[^\W\d_]")
_ALLOWED_RUN = f"[^{_CONTROLS}]*"
TEXT_SCHEMA: dict[str, Any] = {"minLength": 1, "maxLength": MAX_TEXT_CHARS,
                             "pattern": f"^{_ALLOWED_RUN}{_LETTER.pattern}{_ALLOWED_RUN}$"}
"""The gate in JSON Schema keywords, for documents that describe a text (the server's OpenAPI): at most
:data:`MAX_TEXT_CHARS` characters, a letter (``[^\\W\\d_]`` with Python's Unicode meaning of ``\\w``), no
control character but tab, newline and carriage return. The gate also refuses lone surrogates, which a pattern
cannot say, and looks for its letter after NFKC, which a pattern cannot do: ``¼`` matches the pattern and is refused
(NFKC makes it ``1⁄4``), ``Ⓐ`` does not match and is taken (NFKC makes it ``A``)."""


def validate_text(text: object, *, what: str = "text") -> str:
    """Return ``text`` unchanged if it may enter a field, else raise :class:`InvalidText` saying why.

    ``what`` names the argument in the message ("prompt", "text").
    """
    if not isinstance(text, str):
        raise InvalidText(f"{what} must be a str, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidText(f"{what} is too long: {len(text):,} characters (at most {MAX_TEXT_CHARS:,})")
    if not text.strip():
        raise InvalidText(f"{what} is empty")
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        char, index = bad.group(), bad.start()
        if "\ud800" <= char <= "\udfff":
            raise InvalidText(f"{what} is not valid Unicode: lone surrogate U+{ord(char):04X} at index {index}")
        kind = "a NUL byte" if char == "\x00" else f"control character U+{ord(char):04X}"
        raise InvalidText(f"{what} contains {kind} at index {index} (binary data?)")
    if _LETTER.search(normalize(text)) is None:
        raise InvalidText(f"{what} contains no words")
    return text


def visible(text: str) -> str:
    """``text`` with every character the gate refuses (controls but tab, newline and carriage return; lone
    surrogates) written as its Python escape (``\\x1b``), for a terminal. What a field holds never has one, but
    text from elsewhere can: an LLM server's error message, a remote server's answer. Printed raw, ESC and the C1
    controls start terminal escape sequences (clear the screen, retitle the window, rewrite what was shown)."""
    return _FORBIDDEN.sub(lambda match: ascii(match.group())[1:-1], text)

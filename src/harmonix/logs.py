"""Log lines on stderr that cannot drive the terminal they are printed on.

A log line can carry text from outside Harmonix: an LLM server's error message, an exception's text, a request's
path. :class:`VisibleFormatter` writes every control character such text may hold (all but tab and newline, the
characters the text gate refuses: :func:`harmonix.text.visible`) as its escape, so ESC and the C1 controls reach
the terminal as ``\\x1b`` instead of clearing the screen or retitling the window. Both the command line and
``harmonix serve`` log through it, and both drop :class:`HandledDriverErrors`.
"""

from __future__ import annotations

import logging

from harmonix.text import visible


class VisibleFormatter(logging.Formatter):
    """:class:`logging.Formatter` whose lines, traceback included, show control characters as escapes."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record))


class HandledDriverErrors(logging.Filter):
    """Drops psycopg's ``error ignored terminating <AsyncPipeline …>: pipeline aborted``. When a statement in a
    pipeline fails (a lock wait past its timeout, a full disk), psycopg raises that statement's error and logs at
    WARNING that it ignored the pipeline's own failure to end; the statement's error reaches the caller as a
    Harmonix error (:class:`~harmonix.errors.FieldBusy`, :class:`~harmonix.errors.FieldWriteFailed`) and is
    reported once, so the warning would only say the same thing again in the driver's words."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("psycopg") and record.getMessage().startswith("error ignored terminating"))

"""Errors with names. Every failure a caller can act on has its own class; all derive from :class:`HarmonixError`."""

from __future__ import annotations


class HarmonixError(Exception):
    """Base of every error Harmonix raises on purpose."""


class InvalidText(HarmonixError, ValueError):
    """A text was rejected before it touched any field: empty, too long, binary, invalid Unicode, no words."""


class InvalidArgument(HarmonixError, ValueError):
    """An argument other than a text is out of its documented range (a source name, metadata, a limit)."""


class FieldError(HarmonixError):
    """A field could not do what was asked; the field is unchanged."""


class FieldClosed(FieldError):
    """The field was used outside its ``async with`` block."""


class FieldReentry(FieldError, RuntimeError):
    """A task that holds a field's lock asked for it again, which would deadlock.

    Inside ``async with field.turn() as turn`` use the turn's own methods, not the field's.
    """


class FieldVersionError(FieldError):
    """The field file was written by a newer Harmonix (its schema version is unknown to this one)."""


class FieldMismatch(FieldError):
    """The file belongs to another field (another organism's memory)."""


class OperationAbandoned(FieldError):
    """The awaiting task was cancelled before the operation committed; its transaction was rolled back."""

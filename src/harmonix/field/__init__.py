"""Fields: one organism's memory in storage, and the lock-and-transaction discipline around it."""

from harmonix.field.audit import FieldAudit, audit_field
from harmonix.field.field import Field, Guards, Turn
from harmonix.field.model import (
    SELF_SOURCE,
    USER_SOURCE,
    Disturbance,
    FieldCounts,
    FieldSnapshot,
    FieldStats,
    IngestReceipt,
    SnapshotSpec,
    TextRow,
    TrigramCount,
    TurnRecord,
    WordCount,
    WrinkleReceipt,
)
from harmonix.field.seed import Seed, build_seed

__all__ = [
    "SELF_SOURCE",
    "USER_SOURCE",
    "Disturbance",
    "FieldAudit",
    "Field",
    "FieldCounts",
    "FieldSnapshot",
    "FieldStats",
    "Guards",
    "IngestReceipt",
    "Seed",
    "SnapshotSpec",
    "TextRow",
    "TrigramCount",
    "Turn",
    "TurnRecord",
    "WordCount",
    "WrinkleReceipt",
    "audit_field",
    "build_seed",
]

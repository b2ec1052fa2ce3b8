"""Fields: one organism's memory in storage, the lock-and-transaction discipline around it, and the stores that
hold colonies of fields."""

from harmonix.field.audit import FieldAudit, audit_field
from harmonix.field.backends import open_store
from harmonix.field.field import Field, Guards, Turn, check_field_name
from harmonix.field.model import (
    SELF_SOURCE,
    USER_SOURCE,
    ColonyInfo,
    Disturbance,
    FieldCounts,
    FieldDump,
    FieldSnapshot,
    FieldStats,
    Forgotten,
    IngestReceipt,
    RowLedger,
    SnapshotSpec,
    TextRow,
    TrigramCount,
    TurnRecord,
    TurnView,
    WordCount,
    WrinkleReceipt,
    WrittenRows,
)
from harmonix.field.seed import Seed, build_seed
from harmonix.field.store import Store, ensure_colony, sqlite_url

__all__ = [
    "SELF_SOURCE",
    "USER_SOURCE",
    "ColonyInfo",
    "Disturbance",
    "Field",
    "FieldAudit",
    "FieldCounts",
    "FieldDump",
    "FieldSnapshot",
    "FieldStats",
    "Forgotten",
    "RowLedger",
    "WrittenRows",
    "Guards",
    "IngestReceipt",
    "Seed",
    "SnapshotSpec",
    "Store",
    "TextRow",
    "TrigramCount",
    "Turn",
    "TurnRecord",
    "TurnView",
    "WordCount",
    "WrinkleReceipt",
    "audit_field",
    "build_seed",
    "check_field_name",
    "ensure_colony",
    "open_store",
    "sqlite_url",
]

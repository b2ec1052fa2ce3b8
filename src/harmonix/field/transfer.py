"""Moving colonies between stores: a colony as a JSON Lines file, and whole homes from one store to another.

**The file** (``harmonix colony export NAME``), format ``harmonix-colony`` version 1, one JSON object per line,
UTF-8:

1. the header: ``{"format": "harmonix-colony", "version": 1, "harmonix": VERSION, "exported": UNIX_TIME,
   "colony": {"name", "created", "owner", "forked_from"}}``;
2. for each field, by name: one line per row, ``{"field": NAME, "table": TABLE, "row": {...}}``, then the field's
   summary, ``{"field": NAME, "rows": {TABLE: COUNT, ...}, "sha256": DIGEST}``. Tables and their row keys:

   - ``texts``: ``id``, ``source``, ``body``, ``created``, ``tokens``, ``meta`` (an object), by id;
   - ``disturbances``: ``id``, ``source``, ``body``, ``created``, ``tokens``, by id;
   - ``turns``: ``id``, ``created``, ``disturbance_id``, ``text_id``, ``seen_turns``, ``dissonance``,
     ``temperature``, ``duration_ms``, ``metrics`` (an object), by id;
   - ``trigrams``: ``w1``, ``w2``, ``w3``, ``own``, ``heard`` (the counts), by the words;
   - ``words``: ``word``, ``own``, ``heard``, by word;
   - ``state``: ``key``, ``value`` (any JSON), by key;

3. the trailer: ``{"end": true, "fields": N}``; a file without it was cut short and is refused.

``DIGEST`` is the SHA-256 of the field's rows as ``json.dumps({table: [row objects]}, sort_keys=True,
ensure_ascii=False)``: a reader recomputes it from what it loaded. Each field is read in one transaction (a
consistent field, as a fork copies it); JSON columns are written as objects and stored back in the canonical
encoding every field write uses (sorted keys), so a field comes back row for row.

**Loading** (an import, or one colony of a migration) is checked before it writes and verified after: the colony is
created when missing (with its recorded creation time, owner and origin); each field that is missing or empty in
the target is loaded in one transaction; a field already holding exactly these rows is left as it is; a field
holding anything else stops the whole load before anything is written (:class:`~harmonix.errors.FieldError`).
After loading, every field is read back, its digest compared and its audit run. So a load that was cut short (a
killed process, a lost connection) is completed by running it again, and running a finished one again changes
nothing. A load that fails removes the colony it created.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from harmonix import __version__
from harmonix.errors import ColonyNotFound, FieldError, FieldNotFound, InvalidArgument
from harmonix.field.audit import audit_field
from harmonix.field.field import Field, check_field_name
from harmonix.field.model import ColonyInfo, FieldDump
from harmonix.field.store import Store

log = logging.getLogger(__name__)
FORMAT = "harmonix-colony"
VERSION = 1
COLUMNS: dict[str, tuple[str, ...]] = {
    "texts": ("id", "source", "body", "created", "tokens", "meta"),
    "disturbances": ("id", "source", "body", "created", "tokens"),
    "turns": ("id", "created", "disturbance_id", "text_id", "seen_turns", "dissonance", "temperature",
              "duration_ms", "metrics"),
    "trigrams": ("w1", "w2", "w3", "own", "heard"),
    "words": ("word", "own", "heard"),
    "state": ("key", "value"),
}
JSON_COLUMNS = {"texts": "meta", "turns": "metrics", "state": "value"}
_INT, _FLOAT, _STR, _OPT_INT, _OPT_FLOAT, _JSON = "int", "float", "str", "int?", "float?", "json"
TYPES: dict[str, tuple[str, ...]] = {
    "texts": (_INT, _STR, _STR, _FLOAT, _INT, _JSON),
    "disturbances": (_INT, _STR, _STR, _FLOAT, _INT),
    "turns": (_INT, _FLOAT, _OPT_INT, _OPT_INT, _OPT_INT, _OPT_FLOAT, _OPT_FLOAT, _OPT_FLOAT, _JSON),
    "trigrams": (_STR, _STR, _STR, _INT, _INT),
    "words": (_STR, _INT, _INT),
    "state": (_STR, _JSON),
}


@dataclass(frozen=True, slots=True)
class FieldSummary:
    """One field as moved: its rows per table and the digest of them (module docstring)."""

    name: str
    rows: Mapping[str, int]
    sha256: str


@dataclass(frozen=True, slots=True)
class ColonyMove:
    """What happened to one colony: ``action`` is ``"exported"``, ``"loaded"`` (written now), ``"completed"``
    (some fields were already there from an earlier run) or ``"unchanged"`` (everything was already there)."""

    colony: ColonyInfo
    action: str
    fields: tuple[FieldSummary, ...]


def canonical_json(value: Any) -> str:
    """The encoding every field write uses for its JSON columns (sorted keys, no ASCII escaping, no NaN)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)


def row_objects(dump: FieldDump) -> dict[str, list[dict[str, Any]]]:
    """The dump's rows as objects keyed by column name, JSON columns decoded."""
    objects: dict[str, list[dict[str, Any]]] = {}
    for table, rows in dump.rows().items():
        decoded = JSON_COLUMNS.get(table)
        objects[table] = [{column: json.loads(str(value)) if column == decoded else value
                           for column, value in zip(COLUMNS[table], row, strict=True)} for row in rows]
    return objects


def digest(objects: Mapping[str, list[dict[str, Any]]]) -> str:
    """SHA-256 of a field's row objects (module docstring)."""
    return hashlib.sha256(json.dumps(objects, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def summary(dump: FieldDump) -> FieldSummary:
    objects = row_objects(dump)
    return FieldSummary(dump.name, {table: len(rows) for table, rows in objects.items()}, digest(objects))


def dump_of(name: str, objects: Mapping[str, list[dict[str, Any]]]) -> FieldDump:
    """The :class:`FieldDump` of row objects, JSON columns encoded canonically."""
    tables: dict[str, tuple[tuple[Any, ...], ...]] = {}
    for table, columns in COLUMNS.items():
        encoded = JSON_COLUMNS.get(table)
        tables[table] = tuple(tuple(canonical_json(row[column]) if column == encoded else row[column]
                                    for column in columns) for row in objects.get(table, []))
    return FieldDump(name=name, texts=tables["texts"], disturbances=tables["disturbances"],
                     turns=tables["turns"], trigrams=tables["trigrams"], words=tables["words"],
                     state=tables["state"])


# --- reading a colony out of a store -------------------------------------------------------------------------------


async def read_colony(store: Store, name: str) -> tuple[ColonyInfo, list[FieldDump]]:
    """The colony's record and every field's rows (each field read in one transaction)."""
    info = await store.colony(name)
    dumps = []
    for field_name in await store.field_names(name):
        async with Field.open(store, field_name, colony=name, create=False) as field:
            dumps.append(await field.dump())
    return info, dumps


def colony_lines(info: ColonyInfo, dumps: Iterable[FieldDump]) -> Iterator[str]:
    """The file of the module docstring, line by line (each with its newline)."""

    def line(document: Mapping[str, Any]) -> str:
        return json.dumps(document, ensure_ascii=False, allow_nan=False) + "\n"

    yield line({"format": FORMAT, "version": VERSION, "harmonix": __version__, "exported": time.time(),
                "colony": {"name": info.name, "created": info.created, "owner": info.owner,
                           "forked_from": info.forked_from}})
    count = 0
    for dump in dumps:
        objects = row_objects(dump)
        for table, rows in objects.items():
            for row in rows:
                yield line({"field": dump.name, "table": table, "row": row})
        yield line({"field": dump.name, "rows": {table: len(rows) for table, rows in objects.items()},
                    "sha256": digest(objects)})
        count += 1
    yield line({"end": True, "fields": count})


async def export_colony(store: Store, name: str, out: TextIO) -> ColonyMove:
    """Write colony ``name`` to ``out`` as the file of the module docstring."""
    info, dumps = await read_colony(store, name)
    out.writelines(colony_lines(info, dumps))
    return ColonyMove(info, "exported", tuple(summary(dump) for dump in dumps))


# --- reading a file ------------------------------------------------------------------------------------------------


def _check_value(kind: str, value: Any) -> bool:
    if kind == _JSON:
        return True
    if value is None:
        return kind.endswith("?")
    if kind.startswith(_INT):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind.startswith(_FLOAT):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def _row(table: str, row: Any, where: str) -> dict[str, Any]:
    if not isinstance(row, dict) or set(row) != set(COLUMNS[table]):
        raise InvalidArgument(f"{where}: a {table} row needs exactly the keys {', '.join(COLUMNS[table])}")
    for column, kind in zip(COLUMNS[table], TYPES[table], strict=True):
        if not _check_value(kind, row[column]):
            raise InvalidArgument(f"{where}: {table}.{column} must be {kind}, got {row[column]!r}")
    return {column: float(row[column]) if kind.startswith(_FLOAT) and row[column] is not None else row[column]
            for column, kind in zip(COLUMNS[table], TYPES[table], strict=True)}


def read_colony_file(lines: Iterable[str]) -> tuple[ColonyInfo, list[tuple[FieldDump, FieldSummary]]]:
    """Parse and check a whole colony file before anything is written: every line, every row's keys and types,
    each field's counts and digest, the trailer. Raises :class:`InvalidArgument` naming the line at fault."""
    info: ColonyInfo | None = None
    fields: list[tuple[FieldDump, FieldSummary]] = []
    current: dict[str, dict[str, list[dict[str, Any]]]] = {}
    ended = False
    number = 0
    for number, text in enumerate(lines, start=1):
        where = f"line {number}"
        if ended:
            raise InvalidArgument(f"{where}: nothing may follow the end line")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidArgument(f"{where}: not JSON ({error.msg})") from None
        if not isinstance(document, dict):
            raise InvalidArgument(f"{where}: each line must be a JSON object")
        if info is None:
            info = _header(document, where)
        elif "table" in document:
            table, name = document.get("table"), document.get("field")
            if table not in COLUMNS or not isinstance(name, str):
                raise InvalidArgument(f"{where}: a row line needs a field name and one of {', '.join(COLUMNS)}")
            current.setdefault(name, {t: [] for t in COLUMNS})[table].append(_row(table, document.get("row"), where))
        elif "sha256" in document:
            fields.append(_field_end(document, current, where))
        elif document.get("end") is True:
            if document.get("fields") != len(fields) or current:
                raise InvalidArgument(f"{where}: the end line counts {document.get('fields')!r} fields, "
                                      f"the file holds {len(fields)} whole ones")
            ended = True
        else:
            raise InvalidArgument(f"{where}: not a header, row, field summary or end line")
    if info is None:
        raise InvalidArgument("the file is empty: expected a harmonix-colony header")
    if not ended:
        raise InvalidArgument(f"the file ends at line {number} without its end line: it was cut short")
    return info, fields


def _header(document: Mapping[str, Any], where: str) -> ColonyInfo:
    if document.get("format") != FORMAT:
        raise InvalidArgument(f"{where}: not a {FORMAT} file (format {document.get('format')!r})")
    if document.get("version") != VERSION:
        raise InvalidArgument(f"{where}: {FORMAT} version {document.get('version')!r}; this Harmonix reads "
                              f"version {VERSION}")
    colony = document.get("colony")
    if (not isinstance(colony, dict) or not isinstance(colony.get("name"), str)
            or not _check_value(_FLOAT, colony.get("created"))
            or not all(colony.get(key) is None or isinstance(colony.get(key), str)
                       for key in ("owner", "forked_from"))):
        raise InvalidArgument(f"{where}: the header's colony needs a name, a created time, an owner and an origin")
    return ColonyInfo(name=colony["name"], created=float(colony["created"]), owner=colony.get("owner"),
                      forked_from=colony.get("forked_from"))


def _field_end(document: Mapping[str, Any], current: dict[str, dict[str, list[dict[str, Any]]]],
               where: str) -> tuple[FieldDump, FieldSummary]:
    name = document.get("field")
    if not isinstance(name, str):
        raise InvalidArgument(f"{where}: a field summary needs the field's name")
    check_field_name(name)
    objects = current.pop(name, {table: [] for table in COLUMNS})
    counted = {table: len(rows) for table, rows in objects.items()}
    if document.get("rows") != counted:
        raise InvalidArgument(f"{where}: field {name} declares {document.get('rows')!r} rows, the file holds "
                              f"{counted}")
    if document.get("sha256") != digest(objects):
        raise InvalidArgument(f"{where}: field {name}'s rows do not match their sha256: the file was altered")
    if current:
        raise InvalidArgument(f"{where}: rows of field {', '.join(current)} are not followed by their summary")
    dump = dump_of(name, objects)
    return dump, FieldSummary(name, counted, document["sha256"])


# --- writing a colony into a store ---------------------------------------------------------------------------------


async def _held(store: Store, colony: str, name: str) -> FieldDump | None:
    """What the target's field holds now, or ``None`` when it does not exist."""
    try:
        async with Field.open(store, name, colony=colony, create=False) as field:
            return await field.dump()
    except FieldNotFound:
        return None


async def load_colony(store: Store, info: ColonyInfo, dumps: list[FieldDump]) -> ColonyMove:
    """Write ``dumps`` into colony ``info.name`` of ``store``, checked, completed where a run was cut short, and
    verified (module docstring)."""
    try:
        await store.colony(info.name)
        created = False
    except ColonyNotFound:
        await store.create_colony(info.name, owner=info.owner, created=info.created, forked_from=info.forked_from)
        created = True
    try:
        wanted = {dump.name: summary(dump) for dump in dumps}
        pending = []
        for dump in dumps:
            held = await _held(store, info.name, dump.name)
            if held is None or not (held.texts or held.disturbances or held.turns):
                pending.append(dump)
            elif summary(held).sha256 != wanted[dump.name].sha256:
                raise FieldError(f"colony {info.name} field {dump.name} already holds other rows than the ones to "
                                 f"load; remove that field or colony from the target first")
        for dump in pending:
            # retention=None: a move copies every row; forgetting some on the way would fail the check below
            async with Field.open(store, dump.name, colony=info.name, retention=None) as field:
                await field.load(dump)
            log.info("colony %s: field %s loaded", info.name, dump.name)
        for name, expected in wanted.items():
            held = await _held(store, info.name, name)
            if held is None or summary(held).sha256 != expected.sha256:
                raise FieldError(f"colony {info.name} field {name}: what was stored differs from what was loaded")
            audit = await audit_field(store, info.name, name)
            if not audit.ok:
                raise FieldError(f"colony {info.name} field {name} fails its audit: {'; '.join(audit.violations)}")
    except BaseException:
        if created:
            await store.remove_colony(info.name)
        raise
    if pending:
        action = "loaded" if len(pending) == len(dumps) else "completed"
    else:
        action = "loaded" if created else "unchanged"
    return ColonyMove(info, action, tuple(wanted.values()))


async def migrate_store(source: Store, target: Store, names: Iterable[str] | None = None) -> list[ColonyMove]:
    """Copy every colony (or those ``names``) of ``source`` into ``target`` with :func:`load_colony`: a migration
    that was cut short is completed by running it again."""
    chosen = list(names) if names is not None else [info.name for info in await source.colonies()]
    moves = []
    for name in chosen:
        info, dumps = await read_colony(source, name)
        move = await load_colony(target, info, dumps)
        log.info("migrate: colony %s %s (%d fields)", name, move.action, len(move.fields))
        moves.append(move)
    return moves

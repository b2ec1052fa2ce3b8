"""The PostgreSQL layout of a Harmonix store: tables, forward migrations, and the field lock's key.

**One set of tables, keyed by field.** Everything lives in one PostgreSQL schema, :data:`SCHEMA` (``harmonix``), so a
database can host Harmonix beside anything else. ``colonies`` is the registry (name, created, owner, forked_from);
``fields`` gives each (colony, field name) a numeric id; every row of ``texts``, ``disturbances``, ``turns``,
``trigrams``, ``words`` and ``state`` carries its field's id as the first column of its primary key. So a colony is a
key prefix rather than a PostgreSQL schema of its own: colony names may be 64 characters, one more than PostgreSQL
allows in an identifier, and thousands of colonies stay thousands of rows rather than thousands of tables. Removing a
colony deletes its registry row; the foreign keys cascade to its fields and their rows, and to its runs
(:mod:`harmonix.field.runs`: ``runs`` and ``run_events``, from version 2).

**Ids per field** start at 1 and grow by one per row (the step contract): a new row takes ``max(id) + 1`` of its
field, read under the field's advisory lock (:func:`field_lock_key`), so two writers never pick the same id.

**Text order is code point order.** Every text column that is sorted or compared (``w1``, ``w2``, ``w3``, ``word``,
``key``, names) is declared ``COLLATE "C"``: byte order of UTF-8, which is Unicode code point order, the same as
SQLite's BINARY collation, whatever locale the database was created with. JSON columns are ``json`` (not ``jsonb``):
``json`` keeps the text exactly as written, so a dump reads back the very string that was stored, on either backend.

**Versions.** ``schema_version`` holds one number; :data:`MIGRATIONS` entry ``i`` brings a database from version
``i`` to ``i + 1``. Opening a store migrates forward in one transaction under an advisory lock (processes starting
together migrate once); a database from a newer Harmonix is refused.
"""

from __future__ import annotations

import hashlib

SCHEMA = "harmonix"
MIGRATION_LOCK_KEY = int.from_bytes(hashlib.blake2b(b"harmonix-schema-migration", digest_size=8).digest(), "big",
                                    signed=True)

# Each entry brings a database from version i to i + 1; version 0 is a database without Harmonix tables.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"""CREATE TABLE {SCHEMA}.colonies (
            name text COLLATE "C" PRIMARY KEY,
            created double precision NOT NULL,
            owner text,
            forked_from text COLLATE "C"
        )""",
        f"""CREATE TABLE {SCHEMA}.fields (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            colony text COLLATE "C" NOT NULL REFERENCES {SCHEMA}.colonies (name) ON DELETE CASCADE,
            name text COLLATE "C" NOT NULL,
            UNIQUE (colony, name)
        )""",
        f"""CREATE TABLE {SCHEMA}.texts (
            field bigint NOT NULL REFERENCES {SCHEMA}.fields (id) ON DELETE CASCADE,
            id bigint NOT NULL,
            source text NOT NULL,
            body text NOT NULL,
            created double precision NOT NULL,
            tokens integer NOT NULL,
            meta json NOT NULL DEFAULT '{{}}',
            PRIMARY KEY (field, id)
        )""",
        f"CREATE INDEX texts_by_source ON {SCHEMA}.texts (field, source, id)",
        f"""CREATE TABLE {SCHEMA}.disturbances (
            field bigint NOT NULL REFERENCES {SCHEMA}.fields (id) ON DELETE CASCADE,
            id bigint NOT NULL,
            source text NOT NULL,
            body text NOT NULL,
            created double precision NOT NULL,
            tokens integer NOT NULL,
            PRIMARY KEY (field, id)
        )""",
        f"""CREATE TABLE {SCHEMA}.trigrams (
            field bigint NOT NULL REFERENCES {SCHEMA}.fields (id) ON DELETE CASCADE,
            w1 text COLLATE "C" NOT NULL,
            w2 text COLLATE "C" NOT NULL,
            w3 text COLLATE "C" NOT NULL,
            own bigint NOT NULL DEFAULT 0,
            heard bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (field, w1, w2, w3)
        )""",
        f"""CREATE TABLE {SCHEMA}.words (
            field bigint NOT NULL REFERENCES {SCHEMA}.fields (id) ON DELETE CASCADE,
            word text COLLATE "C" NOT NULL,
            own bigint NOT NULL DEFAULT 0,
            heard bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (field, word)
        )""",
        f"""CREATE TABLE {SCHEMA}.turns (
            field bigint NOT NULL REFERENCES {SCHEMA}.fields (id) ON DELETE CASCADE,
            id bigint NOT NULL,
            created double precision NOT NULL,
            disturbance_id bigint,
            text_id bigint,
            seen_turns bigint,
            dissonance double precision,
            temperature double precision,
            duration_ms double precision,
            metrics json NOT NULL DEFAULT '{{}}',
            PRIMARY KEY (field, id),
            FOREIGN KEY (field, disturbance_id) REFERENCES {SCHEMA}.disturbances (field, id),
            FOREIGN KEY (field, text_id) REFERENCES {SCHEMA}.texts (field, id)
        )""",
        f"""CREATE TABLE {SCHEMA}.state (
            field bigint NOT NULL REFERENCES {SCHEMA}.fields (id) ON DELETE CASCADE,
            key text COLLATE "C" NOT NULL,
            value json NOT NULL,
            PRIMARY KEY (field, key)
        )""",
    ),
    (  # 1 -> 2: runs (harmonix.field.runs), going with their colony
        f"""CREATE TABLE {SCHEMA}.runs (
            id text COLLATE "C" PRIMARY KEY,
            colony text COLLATE "C" NOT NULL REFERENCES {SCHEMA}.colonies (name) ON DELETE CASCADE,
            kind text NOT NULL,
            owner text,
            status text NOT NULL,
            created double precision NOT NULL,
            updated double precision NOT NULL,
            ended double precision,
            request json NOT NULL,
            result json,
            cancel_requested boolean NOT NULL DEFAULT false
        )""",
        f"CREATE INDEX runs_by_colony ON {SCHEMA}.runs (colony, status, created)",
        f"CREATE INDEX runs_by_end ON {SCHEMA}.runs (ended)",
        f"""CREATE TABLE {SCHEMA}.run_events (
            run text COLLATE "C" NOT NULL REFERENCES {SCHEMA}.runs (id) ON DELETE CASCADE,
            seq bigint NOT NULL,
            name text NOT NULL,
            data json NOT NULL,
            PRIMARY KEY (run, seq)
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
DATA_TABLES = ("texts", "disturbances", "trigrams", "words", "turns", "state")
"""The tables that hold a field's rows, in an order that satisfies the foreign keys when copying."""

DATA_COLUMNS = {
    "texts": "id, source, body, created, tokens, meta",
    "disturbances": "id, source, body, created, tokens",
    "trigrams": "w1, w2, w3, own, heard",
    "words": "word, own, heard",
    "turns": "id, created, disturbance_id, text_id, seen_turns, dissonance, temperature, duration_ms, metrics",
    "state": "key, value",
}


def field_lock_key(colony: str, name: str) -> int:
    """The advisory lock key of field ``name`` of ``colony``: the first 64 bits of BLAKE2b over a namespaced key,
    as a signed ``bigint``. Keys are per database and shared with any other application there; the namespace keeps
    ours apart, and two fields share a key with probability about ``n^2 / 2^65`` for ``n`` fields (they would only
    wait for each other)."""
    digest = hashlib.blake2b(f"harmonix-field\0{colony}\0{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)

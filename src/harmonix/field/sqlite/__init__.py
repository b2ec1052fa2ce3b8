"""The SQLite backend: a home directory of colonies, each field one file, driven by one connection on one thread.

Three parts, one job each, and the thread that drives them: :mod:`~harmonix.field.sqlite.schema` (a field file's
tables, migrations and connection settings), :mod:`~harmonix.field.sqlite.steps` (the SQL of each field step),
:mod:`~harmonix.field.sqlite.connection` (a field's connection on its own thread) and
:mod:`~harmonix.field.sqlite.store` (the home: colonies as directories of field files).
:func:`harmonix.field.open_store` opens the store from a URL.
"""

"""The PostgreSQL backend: colonies of fields in one database, shared by any number of processes on any number of
machines.

Three parts, one job each: :mod:`~harmonix.field.postgres.schema` (the tables, their migrations, the field lock's
key), :mod:`~harmonix.field.postgres.steps` (the SQL of each field step) and :mod:`~harmonix.field.postgres.store`
(the store and its fields: transactions, the lock, connections, cancellation, colonies). Nothing is imported here,
so reading the layout never loads the driver; :func:`harmonix.field.open_store` opens the store from a URL.
"""

"""A throwaway PostgreSQL cluster for the tests and the benchmarks: ``initdb`` and ``pg_ctl`` in a temporary
directory, listening only on a Unix socket there (``-k DIR``, ``listen_addresses=''``), stopped and deleted at the end.

``initdb`` and ``pg_ctl`` refuse to run as root, so as root (CI) they run as the ``postgres`` user that Debian's
``postgresql`` package creates (``runuser -u postgres --``), with the directory handed to that user; as anyone else
they run as that user. The binaries come from ``$PATH`` or Debian's ``/usr/lib/postgresql/VERSION/bin``.

    python tests/throwaway_postgres.py [--durable]

starts one, prints its URL (``postgresql://postgres@/postgres?host=DIR``) on stdout, and stops it when stdin closes: for
``harmonix bench field --database URL`` by hand. ``--durable`` keeps PostgreSQL's default durability (fsync on, as
a real deployment runs); without it fsync and synchronous commits are off, which the tests can afford because
they kill clients, never the database.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

SERVICE_USER = "postgres"
SMALL_DISK_TABLESPACE = "small_disk"
START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """A throwaway cluster could not be started; the message says why and what to install."""


def binary(name: str) -> str:
    """The path of PostgreSQL program ``name``: on ``$PATH``, else the newest Debian install."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0)
    if not candidates:
        raise PostgresUnavailable(f"no PostgreSQL {name} found on PATH or in /usr/lib/postgresql/*/bin: install "
                                  "Debian's postgresql package (apt-get install -y postgresql), or run the tests "
                                  "with --no-postgres")
    return candidates[-1]


def _as_service_user() -> list[str]:
    """The command prefix that runs a program as the cluster's owner: ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise PostgresUnavailable(f"running as root, but there is no {SERVICE_USER!r} user to run PostgreSQL as "
                                  "(Debian's postgresql package creates it)") from None
    return ["runuser", "-u", SERVICE_USER, "--"]


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise PostgresUnavailable(f"{what} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()}")


def cluster_url(socket_dir: Path, database: str = "postgres") -> str:
    """The libpq URL of ``database`` on the cluster listening in ``socket_dir``."""
    return f"postgresql://postgres@/{database}?host={urllib.parse.quote(str(socket_dir), safe='')}"


def _on_small_disk(start: list[str], mount_point: Path, size: int) -> list[str]:
    """``start`` run in a new mount namespace where a tmpfs of ``size`` bytes, owned by the cluster's owner, is
    mounted on ``mount_point``: the server it starts stays in that namespace and alone sees the small disk."""
    if os.geteuid() != 0:
        raise PostgresUnavailable("a cluster with a small disk mounts a tmpfs in a mount namespace, which needs root")
    owner = pwd.getpwnam(SERVICE_USER)
    mount_point.mkdir()
    os.chown(mount_point, owner.pw_uid, owner.pw_gid)
    options = f"size={size},uid={owner.pw_uid},gid={owner.pw_gid},mode=0700"
    script = f'mount -t tmpfs -o {options} harmonix-small-disk "$0" && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, str(mount_point), *start]


@contextlib.contextmanager
def throwaway_postgres(*, durable: bool = False, max_connections: int = 300,
                       small_disk_bytes: int | None = None) -> Iterator[str]:
    """A fresh cluster for the block; yields the URL of its ``postgres`` database.

    ``small_disk_bytes`` gives the cluster a disk that fills up: a tmpfs of that size, mounted in a mount namespace
    of the server's own (``unshare -m``, so it needs root; :class:`PostgresUnavailable` says so otherwise), holding
    the tablespace :data:`SMALL_DISK_TABLESPACE`. The write-ahead log stays on the real disk, so it is a table's
    file that cannot grow (SQLSTATE 53100, ``disk_full``), not the log (where PostgreSQL would stop)."""
    prefix = _as_service_user()
    initdb, pg_ctl = binary("initdb"), binary("pg_ctl")
    # As root the cluster's owner must reach the directory, and a socket path may not exceed 107 bytes: /tmp itself
    # (world-traversable, short) rather than whatever $TMPDIR says.
    directory = Path(tempfile.mkdtemp(prefix="harmonix-pg-", dir="/tmp" if prefix else None))
    try:
        if prefix:
            owner = pwd.getpwnam(SERVICE_USER)
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        data = directory / "data"
        _run([*prefix, initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
              "--no-sync"], "initdb")
        settings = {"listen_addresses": "''", "unix_socket_directories": f"'{directory}'",
                    "max_connections": str(max_connections), "shared_buffers": "64MB"}
        if not durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        start = [*prefix, pg_ctl, "-D", str(data), "-l", str(directory / "server.log"), "-w", "-t",
                 str(START_TIMEOUT_S), "start"]
        small_disk = directory / "small-disk"
        if small_disk_bytes is not None:
            start = _on_small_disk(start, small_disk, small_disk_bytes)
        _run(start, f"pg_ctl start (log: {directory / 'server.log'})")
        try:
            if small_disk_bytes is not None:
                _run([*prefix, binary("psql"), "-d", cluster_url(directory), "-c",
                      f"CREATE TABLESPACE {SMALL_DISK_TABLESPACE} LOCATION '{small_disk}'"], "CREATE TABLESPACE")
            yield cluster_url(directory)
        finally:
            subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True,
                           timeout=START_TIMEOUT_S, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    with throwaway_postgres(durable="--durable" in sys.argv[1:]) as url:
        print(url, flush=True)
        sys.stdin.read()

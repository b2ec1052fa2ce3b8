"""Fetch axe-core, the accessibility engine the page's tests run, from the npm registry into ``tests/vendor/axe-core``.

The tests use the file committed there; this script is how it got there and how to update it: change ``VERSION`` and
``INTEGRITY`` (``npm view axe-core@VERSION dist.integrity``), run ``python tests/vendor/fetch_axe_core.py``, commit.
The tarball is checked against the registry's SHA-512 before anything is written. axe-core is MPL-2.0; its licence
and its third-party notices go with it.

    python tests/vendor/fetch_axe_core.py
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "4.14.1"
INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
TARBALL = f"https://registry.npmjs.org/axe-core/-/axe-core-{VERSION}.tgz"
FILES = {"package/axe.min.js": "axe.min.js", "package/LICENSE": "LICENSE",
         "package/LICENSE-3RD-PARTY.txt": "LICENSE-3RD-PARTY.txt"}
TARGET = Path(__file__).parent / "axe-core"


def verified(payload: bytes) -> bytes:
    """``payload`` if its SHA-512 is the registry's, else SystemExit."""
    digest = "sha512-" + base64.b64encode(hashlib.sha512(payload).digest()).decode()
    if digest != INTEGRITY:
        raise SystemExit(f"{TARBALL}: integrity {digest} is not the expected {INTEGRITY}")
    return payload


def main() -> None:
    with urllib.request.urlopen(TARBALL, timeout=60) as answer:
        payload = verified(answer.read())
    TARGET.mkdir(exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
        for member, name in FILES.items():
            extracted = archive.extractfile(member)
            if extracted is None:
                raise SystemExit(f"{TARBALL} has no file {member}")
            (TARGET / name).write_bytes(extracted.read())
    (TARGET / "VERSION").write_text(f"axe-core {VERSION} from {TARBALL}\n")
    print(f"axe-core {VERSION} -> {TARGET}", file=sys.stderr)


if __name__ == "__main__":
    main()

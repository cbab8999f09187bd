"""Shared helpers of the example report-folder scripts: access is a marker file per grantee.

The scripts run as separate programs (`python3 scripts/grant.py ...`, any Python 3, without grantflow on
the path), so they check their arguments themselves: grantflow validates emails before it runs them, but a
script must never build a filesystem path from a value it has not checked. The grantee must look like a
plain email (the same characters grantflow accepts, nothing that makes a path), the folder must be one of
the known names, and the final path, resolved, must stay inside the reports directory.
"""

import json
import os
import re
import sys
from pathlib import Path

FOLDERS = ("finance", "sales")
# A conservative email shape: no slash, backslash, whitespace, quotes or control characters; no leading dot,
# no "..", a dot in the domain, at most 254 characters.
_LOCAL = r"[A-Za-z0-9!#$%&*+=?^_{|}~-]+(?:\.[A-Za-z0-9!#$%&*+=?^_{|}~-]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"{_LOCAL}@{_DOMAIN}")


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)


def checked_grantee(value: str) -> str:
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        fail(f"refusing grantee {value[:100]!r}: not a plain email address")
    return value.lower()


def checked_folder(value: str) -> str:
    if value not in FOLDERS:
        fail(f"no such folder: {value[:100]!r}")
    return value


def marker(grantee: str, resource: str) -> Path:
    name, folder_name = checked_grantee(grantee), checked_folder(resource)
    base = (Path(os.environ.get("GRANTFLOW_STATE_DIR", ".grantflow")) / "reports").resolve()
    folder = base / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    # Resolved, so that a symlinked folder or marker cannot point the write elsewhere.
    path = (folder / f"{name}.json").resolve()
    if path.parent != folder or not path.is_relative_to(base):
        fail(f"refusing {path}: it is not inside {folder}")
    return path


def write(path: Path, data: dict[str, str]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)

"""Shared helpers of the example report-folder scripts: access is a marker file per grantee."""

import json
import os
import sys
from pathlib import Path


def marker(grantee: str, resource: str) -> Path:
    root = Path(os.environ.get("GRANTFLOW_STATE_DIR", ".grantflow")) / "reports" / resource
    root.mkdir(parents=True, exist_ok=True)
    return root / f"{grantee}.json"


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)


def write(path: Path, data: dict[str, str]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)

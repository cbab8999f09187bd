"""Where recorded workflow histories live, which releases are still supported, and how they replay.

Layout: tests/workflows/histories/<release>/<name>.json, each release directory with an INDEX.md that
gives every history a one-line description, and tests/workflows/histories/SUPPORTED naming the releases
whose histories every change must still replay (see docs/contributing.md). Nothing here imports the
workflow code, so that the recorder can load another commit's code first (record_histories --ref).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HISTORY_ROOT = Path(__file__).resolve().parent / "histories"
SUPPORTED_FILE = HISTORY_ROOT / "SUPPORTED"
INDEX_NAME = "INDEX.md"
# Histories of a release that no single code path can replay (documented why, asserted still failing).
INCOMPATIBLE_NAME = "KNOWN_INCOMPATIBLE.md"
# Tests and the e2e journey write their run's history into the current release when this file exists.
RECORD_FLAG = HISTORY_ROOT / "RECORD"

_ENTRY = re.compile(r"^- `(?P<name>[A-Za-z0-9_.-]+)\.json`: (?P<text>\S.*)$")


def current_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def current_release() -> str:
    return f"v{current_version()}"


def version_tuple(version: str) -> tuple[int, ...]:
    """(0, 1, 0) for "v0.1.0", "0.1.0" or "pre-v0.1.0-55ba3ad"-style names' first version."""
    m = re.search(r"(\d+(?:\.\d+)*)", version)
    return tuple(int(p) for p in m.group(1).split(".")) if m else ()


def supported_releases() -> list[str]:
    """Releases (directory names under histories/) in SUPPORTED, one a line, oldest first; `#` comments."""
    lines = (line.split("#", 1)[0].strip() for line in SUPPORTED_FILE.read_text().splitlines())
    return [line for line in lines if line]


@dataclass(frozen=True)
class RecordedHistory:
    release: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def label(self) -> str:
        """How a failure names it: `<release>/<name>.json`."""
        return f"{self.release}/{self.path.name}"


def histories(releases: list[str] | None = None) -> list[RecordedHistory]:
    found: list[RecordedHistory] = []
    for release in supported_releases() if releases is None else releases:
        found += [RecordedHistory(release, p) for p in sorted((HISTORY_ROOT / release).glob("*.json"))]
    return found


def known_incompatible(release_dir: Path) -> dict[str, str]:
    """name → why it cannot replay, from <release>/KNOWN_INCOMPATIBLE.md (same line format as INDEX.md)."""
    return read_index(release_dir, INCOMPATIBLE_NAME)


def read_index(release_dir: Path, file_name: str = INDEX_NAME) -> dict[str, str]:
    """name → one-line description, from <release>/INDEX.md (lines `- `name.json`: description`)."""
    index = release_dir / file_name
    if not index.exists():
        return {}
    entries: dict[str, str] = {}
    for line in index.read_text().splitlines():
        m = _ENTRY.match(line)
        if m:
            entries[m.group("name")] = m.group("text").strip()
    return entries


def write_index(release_dir: Path, entries: dict[str, str], heading: str | None = None) -> None:
    """Rewrite INDEX.md, keeping its heading paragraph (everything before the first entry)."""
    index = release_dir / INDEX_NAME
    head: list[str] = []
    if index.exists():
        for line in index.read_text().splitlines():
            if _ENTRY.match(line):
                break
            head.append(line)
    if not head:
        head = [f"# {heading or release_dir.name}", ""]
    while head and not head[-1].strip():
        head.pop()
    body = [f"- `{name}.json`: {' '.join(text.split())}" for name, text in sorted(entries.items())]
    index.write_text("\n".join([*head, "", *body]) + "\n")


def save_history(release_dir: Path, name: str, history_json: str, description: str) -> Path:
    """Write one history and its INDEX.md line."""
    release_dir.mkdir(parents=True, exist_ok=True)
    path = release_dir / f"{name}.json"
    path.write_text(history_json)
    entries = read_index(release_dir)
    entries[name] = description
    write_index(release_dir, entries)
    return path


def first_line(text: Any) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else repr(text)

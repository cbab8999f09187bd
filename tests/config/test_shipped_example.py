"""Without a config file anywhere, grantflow falls back to the example shipped in the package."""

from __future__ import annotations

from pathlib import Path

import pytest

import grantflow
from grantflow.domain.config import SHIPPED_EXAMPLE, config_path, load_config


def test_shipped_example_is_the_packaged_file() -> None:
    packaged = Path(grantflow.__file__).resolve().parent / "examples" / "grantflow.yml"
    assert packaged == SHIPPED_EXAMPLE
    assert SHIPPED_EXAMPLE.is_file()


def test_no_config_file_loads_the_shipped_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRANTFLOW_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert config_path() == SHIPPED_EXAMPLE
    cfg = load_config()
    assert cfg.access_flows, "the shipped example defines access flows"
    assert cfg.source_dir == SHIPPED_EXAMPLE.parent

"""`grantflow config check` on `mysql` integrations: every bad privilege, permission, resource type and
reference pointed at its line (`file:LINE: path: message`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grantflow.domain.config import ConfigError, MysqlIntegration, parse_config

GRANTFLOW = str(Path(sys.executable).parent / "grantflow")

GOOD = """\
integrations:
  - id: shop
    type: mysql
    dsn_env: SHOP_MYSQL_DSN
    resource_types: [database, table]
    account_host: "10.0.%"
    permissions:
      read: [SELECT, SHOW VIEW]
      analyst: [read, "create temporary tables", EXECUTE]
      dba: "write, ALL PRIVILEGES"
  - id: files
    type: script
    env: [SHOP_MYSQL_DSN]
    resource_types: [{id: folder, resources: [a], permissions: [read]}]
    grant: [/bin/true]
    revoke: [/bin/true]
access_flows:
  - id: f
    requestors: [user:alice@example.com]
    grants:
      - {integration: shop, resource_types: [database, schema], permissions: [read, analyst, nope]}
    approvals_required: 0
"""

BROKEN = """\
integrations:
  - id: shop
    type: mysql
    dsn_env: SHOP_MYSQL_DSN
    permissions:
      read: [SELECT, SUPER]
      grantor: [SELECT, GRANT OPTION]
      routines: [EXECUTE]
      loop: [loop2]
      loop2: [loop]
      typo: "SELECT, INSRT"
"""


def test_a_good_mysql_integration_loads() -> None:
    text = GOOD.replace("nope]", "dba]").replace("database, schema", "database, table")
    text = text.replace("    env: [SHOP_MYSQL_DSN]\n", "")
    cfg = parse_config(text, "g.yml")
    integ = cfg.integration("shop")
    assert isinstance(integ, MysqlIntegration) and integ.account_host == "10.0.%"


def test_cross_checks_point_at_their_lines() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(GOOD, "g.yml")
    assert set(err.value.problems) == {
        'g.yml:13: integrations[1].env[0]: "SHOP_MYSQL_DSN" holds the admin DSN of integration "shop"; '
        "a script may not receive it",
        'g.yml:21: access_flows[0].grants[0].resource_types[1]: integration "shop" has no resource type "schema"',
        'g.yml:21: access_flows[0].grants[0].permissions[2]: integration "shop" has no permission "nope"',
    }


def test_config_check_reports_each_bad_privilege_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "g.yml"
    path.write_text(BROKEN)
    proc = subprocess.run([GRANTFLOW, "config", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    expected = [
        f"{path}:6: integrations[0].permissions.read[1]: unknown privilege or permission 'SUPER'",
        f"{path}:7: integrations[0].permissions.grantor[1]: GRANT OPTION is not allowed",
        f"{path}:8: integrations[0].permissions.routines: has no privilege that applies to a table",
        f"{path}:9: integrations[0].permissions.loop: permission 'loop' refers to itself",
        f"{path}:11: integrations[0].permissions.typo: unknown privilege or permission 'INSRT'",
    ]
    for line in expected:
        assert line in out, (line, out)


def test_account_host_may_not_break_out_of_its_quotes() -> None:
    text = GOOD.replace('"10.0.%"', "\"x'@'%\"")
    with pytest.raises(ConfigError) as err:
        parse_config(text, "g.yml")
    assert any(p.startswith("g.yml:6: integrations[0].account_host:") for p in err.value.problems)
    with pytest.raises(ConfigError) as err:
        parse_config(GOOD.replace("    dsn_env: SHOP_MYSQL_DSN\n    resource", "    resource", 1), "g.yml")
    assert "g.yml:2: integrations[0].dsn_env: is required" in err.value.problems

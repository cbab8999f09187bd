"""`grantflow config check` on `webhook` and `aws_identity_center` integrations: each problem as
`file:LINE: path: message`, pointing at the line it is about; a valid file of both passes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from grantflow.domain.config import ConfigError, parse_config
from tests.config.test_config_check import GRANTFLOW, LINE, line_of

VALID = """\
groups:
  eng: [alice@example.com]
integrations:
  - id: tickets
    type: webhook
    url: https://hooks.example.com/grantflow
    secret_env: TICKETS_HOOK_SECRET
    headers:
      Authorization: TICKETS_API_TOKEN
    timeout: 15s
    resource_types:
      - {id: queue, resources: [ops, billing], permissions: [triage, admin]}
      - {id: project, discovery_url: "https://hooks.example.com/projects", permissions: [member]}
  - id: aws
    type: aws_identity_center
    region: eu-west-1
    instance_arn: arn:aws:sso:::instance/ssoins-1234567890abcdef
    identity_store_id: d-1234567890
    permission_sets: [GrantflowReadOnly, GrantflowAdmin]
    managed_prefix: Grantflow
    include: ["1111*"]
access_flows:
  - id: main
    requestors: [group:eng]
    grants:
      - {integration: tickets, resource_types: [queue], permissions: [triage]}
      - {integration: aws, resource_types: [account], permissions: [GrantflowReadOnly]}
    approvals_required: 0
"""


def edit(*changes: tuple[str, str]) -> str:
    text = VALID
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


BROKEN = edit(
    ("    timeout: 15s\n", '    timeout: "soon"\n'),
    ("      Authorization: TICKETS_API_TOKEN\n", "      Authorization: SLACK_BOT_TOKEN\n      X-Api: not a name\n"),
    (
        "resources: [ops, billing], permissions",
        'resources: [ops], discovery_url: "https://x.example.com/q", permissions',
    ),
    ('{id: project, discovery_url: "https://hooks.example.com/projects", permissions: [member]}', "{id: project}"),
    ("    region: eu-west-1\n", "    region: Ireland\n"),
    ("[GrantflowReadOnly, GrantflowAdmin]", "[GrantflowReadOnly, Admin, GrantflowReadOnly]"),
    ("resource_types: [account], permissions: [GrantflowReadOnly]", "resource_types: [account], permissions: [Owner]"),
)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "g.yml")
    return caught.value.problems


def test_a_valid_webhook_and_aws_config_passes() -> None:
    cfg = parse_config(VALID, "g.yml")
    assert [i.type for i in cfg.integrations] == ["webhook", "aws_identity_center"]


def test_schema_problems_point_at_their_lines() -> None:
    found = problems(BROKEN)
    assert f"g.yml:{line_of(BROKEN, 'soon')}: integrations[0].timeout: " in "\n".join(found)
    assert any(p.startswith(f"g.yml:{line_of(BROKEN, 'X-Api')}: integrations[0].headers.X-Api: ") for p in found)
    assert any(p.startswith(f"g.yml:{line_of(BROKEN, 'Ireland')}: integrations[1].region: ") for p in found)


def test_cross_checks_point_at_their_lines() -> None:
    # Schema-valid, so the cross-reference checks run and report.
    text = edit(
        ("      Authorization: TICKETS_API_TOKEN\n", "      Authorization: SLACK_BOT_TOKEN\n"),
        (
            "resources: [ops, billing], permissions",
            'resources: [ops], discovery_url: "https://x.example.com/q", permissions',
        ),
        ('{id: project, discovery_url: "https://hooks.example.com/projects", permissions: [member]}', "{id: project}"),
        ("[GrantflowReadOnly, GrantflowAdmin]", "[GrantflowReadOnly, Admin, GrantflowReadOnly]"),
        (
            "resource_types: [account], permissions: [GrantflowReadOnly]",
            "resource_types: [account], permissions: [Owner]",
        ),
    )
    assert problems(text) == [
        f"g.yml:{line_of(text, 'SLACK_BOT_TOKEN')}: integrations[0].headers.Authorization: "
        '"SLACK_BOT_TOKEN" is grantflow\'s own setting; it may not be sent',
        f"g.yml:{line_of(text, 'x.example.com')}: integrations[0].resource_types[0].discovery_url: "
        "give resources or discovery_url, not both",
        f"g.yml:{line_of(text, '{id: project}')}: integrations[0].resource_types[1].permissions: lists no permissions",
        f"g.yml:{line_of(text, 'permission_sets')}: integrations[1].permission_sets[1]: "
        '"Admin" does not start with managed_prefix "Grantflow": reconcile would never see its assignments',
        f"g.yml:{line_of(text, 'permission_sets')}: integrations[1].permission_sets[2]: "
        '"GrantflowReadOnly" is listed twice',
        f"g.yml:{line_of(text, 'permissions: [Owner]')}: access_flows[0].grants[1].permissions[0]: "
        'integration "aws" has no permission "Owner"',
    ]


def test_config_check_cli_prints_file_line_for_each(tmp_path: Path) -> None:
    path = tmp_path / "grantflow.yml"
    text = edit(
        ("    secret_env: TICKETS_HOOK_SECRET\n", "    secret_env: TICKETS_API_TOKEN\n"),
        ("    instance_arn: arn:aws:sso:::instance/ssoins-1234567890abcdef\n", "    instance_arn: ssoins-123\n"),
    )
    path.write_text(text)
    proc = subprocess.run([GRANTFLOW, "config", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    where = {(m["path"], int(m["line"])) for m in parsed if m}
    assert ("integrations[1].instance_arn", line_of(text, "ssoins-123")) in where
    ok = tmp_path / "ok.yml"
    ok.write_text(VALID)
    proc = subprocess.run([GRANTFLOW, "config", "check", str(ok)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_the_signing_secret_may_not_also_be_sent_as_a_header() -> None:
    text = edit(("    secret_env: TICKETS_HOOK_SECRET\n", "    secret_env: TICKETS_API_TOKEN\n"))
    assert problems(text) == [
        f"g.yml:{line_of(text, 'secret_env')}: integrations[0].secret_env: "
        "is also sent as a header: the signing secret must stay secret"
    ]

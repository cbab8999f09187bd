"""`grantflow config check` through the real entry point: every problem on its own line as `file:LINE: path:
message`, all of them in one run, exit 2; the shipped example passes.

Each CLI start costs about a second of imports, so all the runs start together in one module fixture and
the tests read their results; finer cases go through `parse_config` in-process.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from grantflow.domain.config import ConfigError, config_warnings, parse_config
from tests.conftest import EXAMPLE_CONFIG, TEST_CONFIG

GRANTFLOW = str(Path(sys.executable).parent / "grantflow")
LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<path>\S+): (?P<message>.+)$")

# A valid base: the broken files below are this with a few lines changed, so each error is the only one
# on its line and the expected line numbers can be read off the text.
BASE = """\
admins: [user:ops@example.com]
groups:
  eng: [alice@example.com, carol@example.com]
  owners: [bob@example.com]
integrations:
  - id: files
    type: script
    resource_types:
      - id: folder
        resources: [alpha, beta]
        permissions: [read, write]
    grant: [python3, grant.py, "{grantee}", "{resource}"]
    revoke: [python3, revoke.py, "{grantee}", "{resource}"]
bundles:
  - id: pair
    items:
      - {integration: files, resource_type: folder, resource: alpha, permission: read}
access_flows:
  - id: read
    requestors: [group:eng]
    grants:
      - {integration: files, resource_types: [folder], permissions: [read]}
    approvers: [group:owners]
    approvals_required: 1
    max_duration: 8h
  - id: write
    requestors: [group:eng]
    grants:
      - {bundle: pair}
    approvers: [group:owners]
    approvals_required: 1
    max_duration: 2h
    default_duration: 1h
"""


def edit(*changes: tuple[str, str]) -> str:
    text = BASE
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def line_of(text: str, fragment: str, nth: int = 1) -> int:
    """1-based line of the nth line containing `fragment`."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    return hits[nth - 1]


NOT_A_DURATION = '"9x" is not a duration (use e.g. 30m, 1h, 1h30m, 2d)'
UNKNOWN_TYPE = 'unknown type "ldap" (expected script, postgresql, mysql, webhook or aws_identity_center)'


STRUCTURAL = edit(
    ("    max_duration: 2h\n", '    max_duration: "9x"\n'),
    ("    type: script\n", "    type: script\n    colour: blue\n"),
    ("bundles:\n", "  - id: ldap\n    type: ldap\nbundles:\n"),
)
SEMANTIC = edit(
    (
        "requestors: [group:eng]\n    grants:\n      - {integration",
        "requestors: [group:ghosts]\n    grants:\n      - {integration",
    ),
    ("      - {bundle: pair}\n", "      - {bundle: trio}\n      - {integration: nfs, permissions: [read]}\n"),
    ("  - id: write\n", "  - id: read\n"),
    ("    default_duration: 1h\n", "    default_duration: 3h\n"),
    (
        "    approvers: [group:owners]\n    approvals_required: 1\n    max_duration: 8h",
        "    approvals_required: 1\n    max_duration: 8h",
    ),
)
MIXED = edit(
    ("    max_duration: 2h\n", '    max_duration: "9x"\n'),
    (
        "requestors: [group:eng]\n    grants:\n      - {integration",
        "requestors: [group:ghosts]\n    grants:\n      - {integration",
    ),
    ("  - id: pair\n", "  - id: pair\n    colour: red\n"),
    ("bundles:\n", "  - id: ldap\n    type: ldap\nbundles:\n"),
)

# PostgreSQL permissions go through the driver's own parser: every bad privilege, where it is written.
PRIVILEGES = edit(
    (
        "bundles:\n",
        "  - id: pg\n    type: postgresql\n    dsn_env: PG_DSN\n    permissions:\n"
        "      read: [CONECT, USAGE, SELECT]\n"
        "      write: [read, INSERT, USAGE_SEQUENCES]\n"
        '      audit: "SELECT, schema:SELECT"\n'
        "      loop: [loop]\n"
        "bundles:\n",
    ),
    ("      - {bundle: pair}\n", "      - {bundle: pair}\n      - {integration: pg, permissions: [write, owner]}\n"),
)

# Quorums no request could meet: alice asking for herself leaves one owner of the two required; alice asking for
# carol (another requestor) leaves no one of the engineers who approve writes.
QUORUM = edit(
    ("owners: [bob@example.com]", "owners: [bob@example.com, alice@example.com]"),
    ("    approvals_required: 1\n    max_duration: 8h", "    approvals_required: 2\n    max_duration: 8h"),
    ("      - {bundle: pair}\n    approvers: [group:owners]", "      - {bundle: pair}\n    approvers: [group:eng]"),
)
QUORUM_MET = (
    QUORUM.replace(
        "eng: [alice@example.com, carol@example.com]",
        "eng: [alice@example.com, carol@example.com]\n  extra: [dan@example.com, erin@example.com]",
    )
    .replace(
        "    approvers: [group:owners]\n    approvals_required: 2",
        "    approvers: [group:owners, group:extra]\n    approvals_required: 2",
    )
    .replace("approvers: [group:eng]", "approvers: [group:eng, group:extra]")
)

CASES: dict[str, str | None] = {
    "privileges.yml": PRIVILEGES,
    "semantic.yml": SEMANTIC,
    "mixed.yml": MIXED,
    "invalid.yml": BASE.replace(
        "[group:eng]\n    grants:\n      - {bundle", "[group:eng\n    grants:\n      - {bundle"
    ),
    "list.yml": "- admins\n- groups\n",
    "missing.yml": None,
}


@dataclass
class Run:
    path: Path
    returncode: int
    stdout: str
    stderr: str

    def problems(self) -> list[dict[str, str]]:
        """Each stderr line parsed as `file:LINE: path: message`; a line that does not parse fails the test."""
        out = []
        for raw in self.stderr.splitlines():
            m = LINE.match(raw)
            assert m, f"not `file:LINE: path: message`: {raw!r}"
            assert m["file"] == str(self.path)
            out.append(m.groupdict())
        return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    folder = tmp_path_factory.mktemp("config-check")
    procs: dict[str, tuple[Path, subprocess.Popen[str]]] = {}
    targets = {name: folder / name for name in CASES} | {"example": EXAMPLE_CONFIG}
    for name, path in targets.items():
        text = CASES.get(name)
        if text is not None:
            path.write_text(text)
        argv = [GRANTFLOW, "config", "check", str(path)]
        procs[name] = (path, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = {}
    try:
        for name, (path, proc) in procs.items():
            stdout, stderr = proc.communicate(timeout=60)
            results[name] = Run(path, proc.returncode, stdout, stderr)
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    yield results


def test_the_shipped_example_passes(runs: dict[str, Run]) -> None:
    run = runs["example"]
    assert run.returncode == 0
    assert run.stdout == "OK: 2 integrations, 1 bundles, 4 access flows, 4 groups\n"
    # Its demo flows are approved by one person: warned, not refused.
    assert [(p["path"], p["message"]) for p in run.problems()] == [
        (
            "access_flows[0].approvers",
            "warning: this flow's requests can only ever be approved by bob@example.com: add approvers so that "
            "one absence does not block them",
        ),
        (
            "access_flows[3].approvers",
            "warning: requests by dave@example.com can only ever be approved by bob@example.com: add approvers so "
            "that one absence does not block them",
        ),
    ]


def test_a_quorum_no_request_could_meet_is_an_error_at_its_line() -> None:
    """Reported like every other problem (the CLI prints these lines and exits 2: the cases above run through it)."""
    never = "requesters and grantees cannot approve their own requests, so this quorum can never be met"
    assert problems(QUORUM) == [
        f"g.yml:{line_of(QUORUM, 'approvals_required: 2')}: access_flows[0].approvals_required: is 2, but a request "
        f"by alice@example.com could be approved by only 1 person (bob@example.com): {never}",
        f"g.yml:{line_of(QUORUM, 'approvals_required: 1')}: access_flows[1].approvals_required: is 1, but a request "
        f"by alice@example.com for carol@example.com could be approved by only 0 people: {never}",
    ]


def test_a_quorum_every_request_can_meet_passes() -> None:
    cfg = parse_config(QUORUM_MET, "g.yml")
    assert config_warnings(cfg, QUORUM_MET, "g.yml") == []


def test_a_flow_only_one_person_can_approve_is_a_warning() -> None:
    """Warned, not refused (the CLI prints them and exits 0: test_the_shipped_example_passes)."""
    warned = config_warnings(parse_config(BASE, "g.yml"), BASE, "g.yml")
    warning = (
        "warning: this flow's requests can only ever be approved by bob@example.com: add approvers so that one "
        "absence does not block them"
    )
    assert warned == [
        f"g.yml:{line_of(BASE, 'approvers: [group:owners]', 1)}: access_flows[0].approvers: {warning}",
        f"g.yml:{line_of(BASE, 'approvers: [group:owners]', 2)}: access_flows[1].approvers: {warning}",
    ]


def test_cross_reference_errors_are_all_reported_with_their_lines(runs: dict[str, Run]) -> None:
    run = runs["semantic.yml"]
    assert run.returncode == 2 and run.stdout == ""
    got = [(int(p["line"]), p["path"], p["message"]) for p in run.problems()]
    assert got == [
        (line_of(SEMANTIC, "group:ghosts"), "access_flows[0].requestors[0]", 'unknown group "ghosts"'),
        (
            line_of(SEMANTIC, "approvals_required: 1"),
            "access_flows[0].approvals_required",
            "is 1 but the flow names no approvers (0 = automatic approval)",
        ),
        (line_of(SEMANTIC, "- id: read", 2), "access_flows[1].id", 'duplicate id "read"'),
        (line_of(SEMANTIC, "bundle: trio"), "access_flows[1].grants[0].bundle", 'unknown bundle "trio"'),
        (line_of(SEMANTIC, "integration: nfs"), "access_flows[1].grants[1].integration", 'unknown integration "nfs"'),
        (line_of(SEMANTIC, "default_duration: 3h"), "access_flows[1].default_duration", "is longer than max_duration"),
    ]


def test_every_bad_postgresql_privilege_is_reported_with_its_line(runs: dict[str, Run]) -> None:
    run = runs["privileges.yml"]
    assert run.returncode == 2 and run.stdout == ""
    got = [(int(p["line"]), p["path"], p["message"]) for p in run.problems()]
    assert got == [
        (
            line_of(PRIVILEGES, "CONECT"),
            "integrations[1].permissions.read[0]",
            "unknown privilege or permission 'CONECT'",
        ),
        (
            line_of(PRIVILEGES, "USAGE_SEQUENCES"),
            "integrations[1].permissions.write[2]",
            "unknown privilege or permission 'USAGE_SEQUENCES'",
        ),
        (
            line_of(PRIVILEGES, "schema:SELECT"),
            "integrations[1].permissions.audit",
            "SELECT is not a schema privilege (in 'schema:SELECT')",
        ),
        (line_of(PRIVILEGES, "loop: [loop]"), "integrations[1].permissions.loop", "permission 'loop' refers to itself"),
        (
            line_of(PRIVILEGES, "[write, owner]"),
            "access_flows[1].grants[1].permissions[1]",
            'integration "pg" has no permission "owner"',
        ),
    ]


def test_structural_and_cross_reference_errors_come_in_one_run(runs: dict[str, Run]) -> None:
    run = runs["mixed.yml"]
    assert run.returncode == 2
    got = [(int(p["line"]), p["path"], p["message"]) for p in run.problems()]
    assert got == [
        (line_of(MIXED, "type: ldap"), "integrations[1].type", UNKNOWN_TYPE),
        (line_of(MIXED, "colour: red"), "bundles[0].colour", "unknown field"),
        (line_of(MIXED, "group:ghosts"), "access_flows[0].requestors[0]", 'unknown group "ghosts"'),
        (
            line_of(MIXED, '"9x"'),
            "access_flows[1].max_duration",
            NOT_A_DURATION,
        ),
    ]


def test_invalid_yaml_points_at_its_line(runs: dict[str, Run]) -> None:
    run = runs["invalid.yml"]
    assert run.returncode == 2
    [message] = run.stderr.splitlines()
    text = CASES["invalid.yml"]
    assert text is not None
    opened = line_of(text, "[group:eng", 2)
    assert message.startswith(f"{run.path}:")
    assert "invalid YAML: " in message
    assert f"flow sequence that starts on line {opened}" in message


def test_a_file_that_is_not_a_mapping(runs: dict[str, Run]) -> None:
    run = runs["list.yml"]
    assert run.returncode == 2
    assert run.stderr == f"{run.path}:1: the file must be a mapping (admins, groups, integrations, ...)\n"


def test_a_missing_file(runs: dict[str, Run]) -> None:
    run = runs["missing.yml"]
    assert run.returncode == 2
    assert run.stderr == f"{run.path}: cannot read config: No such file or directory\n"


# --- in-process: the finer cases ----------------------------------------------------------------------------


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "g.yml")
    return caught.value.problems


def test_structural_errors_are_all_reported_in_line_order() -> None:
    assert problems(STRUCTURAL) == [
        f"g.yml:{line_of(STRUCTURAL, 'colour: blue')}: integrations[0].colour: unknown field",
        f"g.yml:{line_of(STRUCTURAL, 'type: ldap')}: integrations[1].type: {UNKNOWN_TYPE}",
        f"g.yml:{line_of(STRUCTURAL, '9x')}: access_flows[1].max_duration: {NOT_A_DURATION}",
    ]


def test_every_problem_is_a_single_line() -> None:
    for text in (STRUCTURAL, SEMANTIC, MIXED):
        for p in problems(text):
            assert "\n" not in p and LINE.match(p), p


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            [("type: script\n", "name: no type\n")],
            "g.yml:6: integrations[0].type: is required (script, postgresql, mysql, webhook or aws_identity_center)",
        ),
        (
            [("bundles:\n", "  - {id: Bad Id, type: postgresql, dsn_env: PG}\nbundles:\n")],
            'g.yml:14: integrations[1].id: "Bad Id" is not a valid id (lower-case letters, digits, "-" and "_")',
        ),
        (
            [("{integration: files, resource_types: [folder], permissions: [read]}", "{integration: files}")],
            "g.yml:22: access_flows[0].grants[0].permissions: is required",
        ),
        (
            [("{bundle: pair}", "{bundle: pair, resources: [alpha]}")],
            "g.yml:29: access_flows[1].grants[0].resources: unknown field",
        ),
        (
            [("resource_types: [folder], permissions", "resource_types: [folder, file], permissions")],
            'g.yml:22: access_flows[0].grants[0].resource_types[1]: integration "files" has no resource type "file"',
        ),
        (
            [("resource: alpha, permission: read}", "resource: alpha, permission: admin}")],
            'g.yml:17: bundles[0].items[0].permission: resource type "folder" of "files" has no permission "admin"',
        ),
        (
            [("    approvals_required: 1\n    max_duration: 8h", "    approvals_required: 2\n    max_duration: 8h")],
            "g.yml:24: access_flows[0].approvals_required: is more than the number of people who can approve",
        ),
        (
            [("admins: [user:ops@example.com]", "admins: [ops@example.com]")],
            'g.yml:1: admins[0]: "ops@example.com" must be "user:EMAIL" or "group:NAME"',
        ),
        (
            [("owners: [bob@example.com]", "owners: [bob]")],
            'g.yml:4: groups.owners[0]: "bob" is not an email address: it needs a name, an @ and a domain',
        ),
        (
            [("admins: [user:ops@example.com]\n", "admins: [user:ops@example.com]\nslack: {allow_guests: maybe}\n")],
            "g.yml:2: slack.allow_guests: Input should be a valid boolean, unable to interpret input",
        ),
        (
            [("admins: [user:ops@example.com]\n", "admins: [user:ops@example.com]\nslack: {guests: true}\n")],
            "g.yml:2: slack.guests: unknown field",
        ),
        (
            [("owners: [bob@example.com]", "owners: [../../bob@example.com]")],
            'g.yml:4: groups.owners[0]: "../../bob@example.com" is not an email address: it contains a slash',
        ),
        (
            [("owners: [bob@example.com]", "owners: [bob@localhost]")],
            'g.yml:4: groups.owners[0]: "bob@localhost" is not an email address: the domain has no dot',
        ),
        (
            [("admins: [user:ops@example.com]", 'admins: ["user:ops @example.com"]')],
            'g.yml:1: admins[0]: "ops @example.com" is not an email address: it contains whitespace',
        ),
        (
            [
                (
                    "    requestors: [group:eng]\n    grants:\n      - {integration",
                    "    requestors: [group:eng]\n"
                    "    grantees: [user:dan@example.com, group:nobody]\n    grants:\n      - {integration",
                )
            ],
            'g.yml:21: access_flows[0].grantees[1]: unknown group "nobody"',
        ),
        (
            [
                (
                    "    requestors: [group:eng]\n    grants:\n      - {integration",
                    '    requestors: [group:eng]\n    grantees: ["user:x@y"]\n    grants:\n      - {integration',
                )
            ],
            'g.yml:21: access_flows[0].grantees[0]: "x@y" is not an email address: the domain has no dot',
        ),
        (
            [("    max_duration: 8h\n", "    max_duration: 8h\n    extension: {enabled: true, duration: 0}\n")],
            "g.yml:26: access_flows[0].extension.duration: must be greater than 0",
        ),
        (
            [("    max_duration: 8h\n", "    max_duration: 8h\n    approval_reminder: 14m\n")],
            "g.yml:26: access_flows[0].approval_reminder: must be at least 15m",
        ),
        (
            [("    max_duration: 8h\n", "    max_duration: 8h\n    approval_reminder: 60\n")],
            "g.yml:26: access_flows[0].approval_reminder: must be at least 15m",
        ),
        (
            [
                (
                    "    max_duration: 8h\n",
                    "    max_duration: 8h\n    escalation: [{after: 8d, approvers: [group:eng]}]\n",
                )
            ],
            "g.yml:26: access_flows[0].escalation[0].after: is 8d, not before the approval time-out (7d): the "
            "request would have failed by then",
        ),
        (
            [
                (
                    "    max_duration: 8h\n",
                    "    max_duration: 8h\n    escalation: [{after: 7d, approvers: [group:eng]}]\n",
                )
            ],
            "g.yml:26: access_flows[0].escalation[0].after: is 7d, not before the approval time-out (7d): the "
            "request would have failed by then",
        ),
        (
            [
                (
                    "    max_duration: 8h\n",
                    "    max_duration: 8h\n    escalation:\n      - {after: 4h, approvers: [group:eng]}\n"
                    "      - {after: 2h, approvers: [group:owners]}\n",
                )
            ],
            "g.yml:28: access_flows[0].escalation[1].after: must be later than the previous step's",
        ),
        (
            [
                (
                    "    max_duration: 8h\n",
                    "    max_duration: 8h\n    escalation: [{after: 4h, approvers: [group:leads]}]\n",
                )
            ],
            'g.yml:26: access_flows[0].escalation[0].approvers[0]: unknown group "leads"',
        ),
        (
            [("    max_duration: 8h\n", "    max_duration: 8h\n    escalation: [{after: 4h, approvers: []}]\n")],
            "g.yml:26: access_flows[0].escalation[0].approvers: List should have at least 1 item after validation, "
            "not 0",
        ),
    ],
)
def test_one_problem(changes: list[tuple[str, str]], expected: str) -> None:
    assert problems(edit(*changes)) == [expected]


def test_an_escalation_before_the_time_out_is_valid() -> None:
    steps = (
        '    escalation:\n      - {after: 4h, approvers: [group:eng], notify: "#access-escalations"}\n'
        "      - {after: 6d23h, approvers: [user:ops@example.com]}\n"
    )
    cfg = parse_config(edit(("    max_duration: 8h\n", "    max_duration: 8h\n" + steps)), "g.yml")
    assert [(e.after, e.approvers, e.notify) for e in cfg.access_flows[0].escalation] == [
        (4 * 3600, ["group:eng"], "#access-escalations"),
        (167 * 3600, ["user:ops@example.com"], None),
    ]


def test_references_to_an_invalid_entry_are_not_reported_twice() -> None:
    text = edit(("    type: script\n", "    type: script\n    colour: blue\n"))
    assert problems(text) == ["g.yml:8: integrations[0].colour: unknown field"]


def test_the_base_and_the_test_catalog_are_valid() -> None:
    assert len(parse_config(TEST_CONFIG.read_text(), "g.yml").access_flows) == 4
    assert parse_config(BASE, "g.yml").slack.allow_guests is False
    allowed = parse_config(BASE + "slack: {allow_guests: true}\n", "g.yml")
    assert allowed.slack.allow_guests is True
    cfg = parse_config(BASE, "g.yml")
    assert [f.id for f in cfg.access_flows] == ["read", "write"]


# --- a script integration's `env:` (issue 10, point 9) -------------------------------------------------------


def test_env_names_are_checked_where_they_are_written() -> None:
    text = edit(
        (
            '    revoke: [python3, revoke.py, "{grantee}", "{resource}"]\n',
            '    revoke: [python3, revoke.py, "{grantee}", "{resource}"]\n'
            "    env:\n"
            "      - REPORTS_API_TOKEN\n"
            "      - 9LIVES\n"
            "      - REPORTS_API_TOKEN\n"
            "      - GRANTFLOW_ENCRYPTION_KEYS\n"
            "      - SLACK_BOT_TOKEN\n"
            "      - DATABASE_URL\n"
            "      - PG_ADMIN\n"
            "  - {id: pg, type: postgresql, dsn_env: PG_ADMIN}\n",
        )
    )
    assert problems(text) == [
        f'g.yml:{line_of(text, "9LIVES")}: integrations[0].env[1]: "9LIVES" is not an environment variable name '
        '(letters, digits and "_")',
    ]
    valid_names = text.replace("      - 9LIVES\n", "")

    def at(fragment: str) -> int:
        return line_of(valid_names, fragment)

    own = "is grantflow's own setting; a script may not receive it"
    assert problems(valid_names) == [
        f"g.yml:{line_of(valid_names, 'REPORTS_API_TOKEN', 2)}: integrations[0].env[1]: "
        '"REPORTS_API_TOKEN" is listed twice',
        f'g.yml:{at("GRANTFLOW_ENCRYPTION_KEYS")}: integrations[0].env[2]: "GRANTFLOW_ENCRYPTION_KEYS" {own}',
        f'g.yml:{at("SLACK_BOT_TOKEN")}: integrations[0].env[3]: "SLACK_BOT_TOKEN" {own}',
        f'g.yml:{at("DATABASE_URL")}: integrations[0].env[4]: "DATABASE_URL" {own}',
        f'g.yml:{at("- PG_ADMIN")}: integrations[0].env[5]: "PG_ADMIN" holds the admin DSN of integration "pg"; '
        "a script may not receive it",
    ]


def test_env_is_optional_and_lists_names() -> None:
    revoke = '    revoke: [python3, revoke.py, "{grantee}", "{resource}"]\n'
    text = edit((revoke, revoke + "    env: [REPORTS_API_TOKEN, AWS_PROFILE]\n"))
    integration = parse_config(text, "g.yml").integrations[0]
    assert integration.type == "script" and integration.env == ["REPORTS_API_TOKEN", "AWS_PROFILE"]
    assert parse_config(BASE, "g.yml").integrations[0].env == []  # type: ignore[union-attr]


# --- every problem in one run, even beside a field that does not validate (issue 13, point 4) --------------


def test_a_bad_duration_does_not_hide_a_bad_group_reference_in_the_same_flow() -> None:
    text = _bad_duration_and_group()
    assert problems(text) == [
        f'g.yml:{line_of(text, "group:ownerz")}: access_flows[0].approvers[0]: unknown group "ownerz"',
        f"g.yml:{line_of(text, 'approvals_required: 1')}: access_flows[0].approvals_required: "
        "is more than the number of people who can approve",
        f"g.yml:{line_of(text, '9x')}: access_flows[0].max_duration: {NOT_A_DURATION}",
    ]


def _bad_duration_and_group() -> str:
    text = edit(("    max_duration: 8h\n", '    max_duration: "9x"\n'))
    first = text.index("group:owners")
    return text[:first] + "group:ownerz" + text[first + len("group:owners") :]


def test_a_bad_field_does_not_hide_a_misspelt_postgresql_privilege() -> None:
    text = edit(
        (
            "bundles:\n",
            "  - id: pg\n    type: postgresql\n    dsn_env: PG_DSN\n    keep_objects: maybe\n    timeout: 3q\n"
            "    permissions:\n      read: [CONECT, USAGE, SELECT]\nbundles:\n",
        )
    )
    got = problems(text)
    assert (
        f"g.yml:{line_of(text, 'CONECT')}: integrations[1].permissions.read[0]: "
        "unknown privilege or permission 'CONECT'" in got
    ), got
    assert any(p.startswith(f"g.yml:{line_of(text, 'keep_objects')}: integrations[1].keep_objects: ") for p in got), got
    assert any(p.startswith(f"g.yml:{line_of(text, 'timeout: 3q')}: integrations[1].timeout: ") for p in got), got
    assert len(got) == 3, got


def test_a_bad_top_level_field_does_not_hide_the_cross_checks() -> None:
    text = "colour: red\n" + edit(
        (
            "requestors: [group:eng]\n    grants:\n      - {integration",
            "requestors: [group:engs]\n    grants:\n      - {integration",
        )
    )
    assert problems(text) == [
        "g.yml:1: colour: unknown field",
        f'g.yml:{line_of(text, "group:engs")}: access_flows[0].requestors[0]: unknown group "engs"',
    ]

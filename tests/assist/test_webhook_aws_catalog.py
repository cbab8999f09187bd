"""`webhook` and `aws_identity_center` in the catalog every front door asks (Slack selects, MCP
list_requestable) and in assist: static webhook resources are menus, discovered ones (a webhook's
discovery_url, AWS accounts) type-ahead as PostgreSQL's are; permissions are the configured ones (AWS: the
permission sets); assist finds them by the words people use (aws, amazon, account) and by their tags."""

from __future__ import annotations

from grantflow import catalog
from grantflow.assist import suggest
from grantflow.domain import policy
from grantflow.domain.config import parse_config
from grantflow.domain.models import GrantItem

CONFIG = """\
groups:
  eng: [alice@example.com]
integrations:
  - id: tickets
    type: webhook
    name: Ticket queues
    description: Support ticket queues in the helpdesk
    tags: [helpdesk, support]
    url: https://hooks.example.com/grantflow
    secret_env: TICKETS_HOOK_SECRET
    resource_types:
      - {id: queue, name: Queue, resources: [ops, billing], permissions: [triage, admin]}
      - {id: project, discovery_url: "https://hooks.example.com/projects", permissions: [member]}
  - id: aws
    type: aws_identity_center
    region: eu-west-1
    instance_arn: arn:aws:sso:::instance/ssoins-1234567890abcdef
    identity_store_id: d-1234567890
    permission_sets: [GrantflowReadOnly, GrantflowAdmin]
    managed_prefix: Grantflow
    include: ["111111111111"]
access_flows:
  - id: main
    requestors: [group:eng]
    grants:
      - {integration: tickets, resource_types: ["*"], permissions: ["*"]}
      - {integration: aws, resource_types: [account], resources: ["*"], permissions: [GrantflowReadOnly]}
    approvals_required: 0
"""
ALICE = "alice@example.com"


def test_slack_selects_menus_for_static_type_ahead_for_discovered() -> None:
    cfg = parse_config(CONFIG)
    queue = catalog.form_choices(cfg, ALICE, "tickets", "queue")
    assert [c.value for c in queue.resources or []] == ["ops", "billing"]
    assert [c.value for c in queue.permissions] == ["triage", "admin"]
    project = catalog.form_choices(cfg, ALICE, "tickets", "project")
    assert project.resources is None  # discovered at the target: type-ahead
    assert [c.value for c in catalog.suggest_resources(cfg, ALICE, "tickets", "project", "web")] == ["web"]
    aws = catalog.form_choices(cfg, ALICE, "aws", "account")
    assert aws.resources is None
    assert [c.value for c in aws.permissions] == ["GrantflowReadOnly"]
    assert [c.value for c in catalog.form_choices(cfg, ALICE, "aws").resource_types] == ["account"]


def test_policy_knows_their_types_and_permissions() -> None:
    cfg = parse_config(CONFIG)
    item = GrantItem(integration="aws", resource_type="account", resource="111111111111", permission="GrantflowAdmin")
    assert policy.item_problem(cfg, item) is None
    assert "unknown permission" in (policy.item_problem(cfg, item.model_copy(update={"permission": "Owner"})) or "")
    bad = GrantItem(integration="tickets", resource_type="queue", resource="nope", permission="triage")
    assert 'unknown queue "nope"' in (policy.item_problem(cfg, bad) or "")
    found = GrantItem(integration="tickets", resource_type="project", resource="anything", permission="member")
    assert policy.item_problem(cfg, found) is None


def test_list_requestable_and_its_query() -> None:
    cfg = parse_config(CONFIG)
    entries = catalog.requestable(cfg, ALICE)
    by_type = {(e.integration, e.resource_type): e for e in entries}
    assert by_type[("tickets", "queue")].resources == ["ops", "billing"]
    assert by_type[("aws", "account")].permissions == ["GrantflowReadOnly"]
    assert [(e.integration, e.resource_type) for e in catalog.requestable(cfg, ALICE, "helpdesk")] == [
        ("tickets", "queue"),
        ("tickets", "project"),
    ]


def test_assist_finds_aws_by_the_words_people_use_and_webhooks_by_tags() -> None:
    cfg = parse_config(CONFIG)
    [top, *_] = suggest(cfg, ALICE, "read only access to our amazon account 111111111111 for an hour")
    assert (top.integration, top.resource_type, top.resources, top.permission) == (
        "aws",
        "account",
        ["111111111111"],
        "GrantflowReadOnly",
    )
    assert top.duration_seconds == 3600
    for sentence in ("aws console for an hour", "amazon", "sso into the cloud", "iam role"):
        assert [s.integration for s in suggest(cfg, ALICE, sentence)][:1] == ["aws"], sentence
    assert suggest(cfg, ALICE, "sql database") == []  # AWS is not described with PostgreSQL's words
    [top, *_] = suggest(cfg, ALICE, "triage the billing queue in the helpdesk")
    assert (top.integration, top.resources, top.permission) == ("tickets", ["billing"], "triage")

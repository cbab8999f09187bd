"""The `aws_identity_center` integration against moto in server mode (a real HTTP endpoint on loopback):
assignments made, adopted, removed and waited for; discovery; the errors people see; and the journey
through the workflow (request -> approve -> ListAccountAssignments shows it -> expiry -> gone) and reconcile.

moto 5.2 does not implement sso-admin ListTagsForResource (so managed permission sets are found by name
prefix) and does not de-duplicate CreateAccountAssignment (so a second create would add a second row: the
driver's look-first is what keeps one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.grants import GrantActivities
from activities.integrations.aws_identity_center import AwsIdentityCenterDriver, handle_of
from activities.integrations.base import GrantContext, IntegrationError
from grantflow.domain.config import AwsIdentityCenterIntegration, ConfigSource
from grantflow.domain.models import GrantItem
from grantflow.domain.ops import ItemOp
from grantflow.schedules import run_reconcile_once
from grantflow.storage.store import Store
from grantflow.storage.vault import SecretVault
from tests.integrations.aws_moto import FakeAws, fake_aws
from tests.workflows.conftest import Harness, make_harness, settle

__all__ = ["fake_aws"]


def driver(aws: FakeAws, **extra: Any) -> AwsIdentityCenterDriver:
    return AwsIdentityCenterDriver(AwsIdentityCenterIntegration.model_validate(aws.integration(**extra)))


def ctx(account: str, permission: str = "GrantflowReadOnly", grantee: str = "bob@example.com") -> GrantContext:
    return GrantContext(
        request_id="abcdefgh23456789",
        requester="alice@example.com",
        grantee=grantee,
        item=GrantItem(integration="aws", resource_type="account", resource=account, permission=permission),
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


async def test_grant_adopts_and_revoke_is_idempotent(fake_aws: FakeAws) -> None:
    aws, d = fake_aws, driver(fake_aws, portal_url="https://acme.awsapps.com/start")
    prod, bob = aws.accounts["prod"], aws.users["bob@example.com"]
    details = await d.grant(ctx(prod))
    assert aws.assignments(prod, "GrantflowReadOnly") == [bob]
    assert details == {
        "portal_url": "https://acme.awsapps.com/start",
        "account_id": prod,
        "account_name": "prod",
        "role": "GrantflowReadOnly",
        "how": f"Sign in at https://acme.awsapps.com/start, open account prod ({prod}) and choose GrantflowReadOnly.",
    }
    # A retried grant (a fresh driver, as each activity attempt has) adopts the assignment: still one.
    assert await driver(aws, portal_url="https://acme.awsapps.com/start").grant(ctx(prod)) == details
    assert aws.assignments(prod, "GrantflowReadOnly") == [bob]
    assert aws.assignments(prod, "GrantflowAdmin") == []
    await d.extend(ctx(prod))  # no expiry at AWS: nothing to move, nothing changes
    assert aws.assignments(prod, "GrantflowReadOnly") == [bob]

    await d.revoke(ctx(prod))
    assert aws.assignments(prod, "GrantflowReadOnly") == []
    await driver(aws).revoke(ctx(prod))  # already gone: success
    await driver(aws).revoke(ctx(prod, grantee="nobody@example.com"))  # no such user: nothing to remove


async def test_revoke_leaves_other_people_and_other_sets_alone(fake_aws: FakeAws) -> None:
    aws, d = fake_aws, driver(fake_aws)
    prod, alice, bob = aws.accounts["prod"], aws.users["alice@example.com"], aws.users["bob@example.com"]
    aws.assign(prod, "GrantflowReadOnly", alice)
    await d.grant(ctx(prod))
    await d.grant(ctx(prod, permission="GrantflowAdmin"))
    await d.revoke(ctx(prod))
    assert aws.assignments(prod, "GrantflowReadOnly") == [alice]
    assert aws.assignments(prod, "GrantflowAdmin") == [bob]


async def test_discovery_and_final_errors(fake_aws: FakeAws) -> None:
    aws = fake_aws
    prod, staging = aws.accounts["prod"], aws.accounts["staging"]
    everything = await driver(aws).list_resources("account")
    assert {prod, staging} <= set(everything) and len(everything) == 3  # and the management account
    assert await driver(aws, include=[prod, staging], exclude=[staging]).list_resources("account") == [prod]
    assert set(await driver(aws).permission_sets()) == {"GrantflowReadOnly", "GrantflowAdmin", "BreakGlass"}

    cases = [
        (ctx(prod, permission="BreakGlass"), "permission set 'BreakGlass' is not offered"),
        (ctx(prod, grantee="nobody@example.com"), "no IAM Identity Center user has the email nobody@example.com"),
        (ctx("12345"), "account '12345' is not offered"),
    ]
    for c, message in cases:
        with pytest.raises(IntegrationError) as exc:
            await driver(aws).grant(c)
        assert not exc.value.retryable and message in str(exc.value)
    with pytest.raises(IntegrationError) as exc:
        await driver(aws, include=[staging]).grant(ctx(prod))
    assert not exc.value.retryable and "is not offered" in str(exc.value)
    with pytest.raises(IntegrationError) as exc:
        await driver(aws, permission_sets=["GrantflowReadOnly", "GrantflowGone"]).grant(ctx(prod, "GrantflowGone"))
    assert not exc.value.retryable and "no permission set named 'GrantflowGone'" in str(exc.value)
    assert aws.assignments(prod, "GrantflowReadOnly") == []


async def test_no_credentials_is_a_final_error(fake_aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(IntegrationError) as exc:
        await driver(fake_aws).grant(ctx(fake_aws.accounts["prod"]))
    assert not exc.value.retryable and "no AWS credentials" in str(exc.value)


async def test_held_assignments_are_those_of_managed_sets_to_users(fake_aws: FakeAws) -> None:
    aws, d = fake_aws, driver(fake_aws)
    prod, staging = aws.accounts["prod"], aws.accounts["staging"]
    alice, bob = aws.users["alice@example.com"], aws.users["bob@example.com"]
    aws.assign(prod, "BreakGlass", alice)  # not a managed set: invisible to reconcile
    aws.assign(staging, "GrantflowAdmin", alice)
    await d.grant(ctx(prod))
    assert await d.held_assignments() == sorted(
        [handle_of(staging, "GrantflowAdmin", alice), handle_of(prod, "GrantflowReadOnly", bob)]
    )
    await d.remove_assignment(handle_of(staging, "GrantflowAdmin", alice))
    await d.remove_assignment(handle_of(staging, "GrantflowAdmin", alice))
    assert aws.assignments(staging, "GrantflowAdmin") == []
    assert aws.assignments(prod, "BreakGlass") == [alice]
    with pytest.raises(IntegrationError):
        await driver(aws, managed_prefix="").held_assignments()


# --- the journey, through the workflow on the time-skipping server ------------------------------------


def journey_config(folder: Path, aws: FakeAws) -> Path:
    data = {
        "groups": {"eng": ["bob@example.com"], "leads": ["alice@example.com"]},
        "integrations": [aws.integration(name="AWS", tags=["cloud"])],
        "access_flows": [
            {
                "id": "aws-read",
                "requestors": ["group:eng"],
                "grants": [
                    {
                        "integration": "aws",
                        "resource_types": ["account"],
                        "resources": ["*"],
                        "permissions": ["GrantflowReadOnly"],
                    }
                ],
                "approvers": ["group:leads"],
                "approvals_required": 1,
                "max_duration": "8h",
                "justification_required": False,
            }
        ],
    }
    path = folder / "grantflow.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture()
async def aws_h(
    time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path, fake_aws: FakeAws
) -> AsyncIterator[Harness]:
    async for harness in make_harness(time_env, tmp_path, state_dir, journey_config(tmp_path, fake_aws)):
        yield harness


async def test_journey_request_approve_assigned_expiry_gone(aws_h: Harness, fake_aws: FakeAws) -> None:
    h, aws = aws_h, fake_aws
    prod, bob = aws.accounts["prod"], aws.users["bob@example.com"]
    spec = h.client.build_spec(
        requester="bob@example.com",
        integration="aws",
        resource_type="account",
        resources=[prod],
        permission="GrantflowReadOnly",
        duration="1h",
    )
    sub = await h.client.submit(spec)
    await settle(h, sub.request_id, {"PENDING_APPROVAL"})
    assert aws.assignments(prod, "GrantflowReadOnly") == []
    # The index can lag the workflow (it says PENDING_APPROVAL while the grant has already run): reconcile
    # must see that assignment as the live request's, not remove it. Made by hand here; the grant adopts it.
    aws.assign(prod, "GrantflowReadOnly", bob)
    report = await run_reconcile_once(h.env.client, h.worker.task_queue, dry_run=False)
    assert (report.findings, report.in_step) == ([], 1)
    assert aws.assignments(prod, "GrantflowReadOnly") == [bob]
    await h.env.client.get_workflow_handle(f"access-request-{sub.request_id}").signal(
        "approve", {"approver": "alice@example.com", "comment": "ok"}
    )
    await settle(h, sub.request_id, {"ACTIVE"}, timeout=60)
    assert aws.assignments(prod, "GrantflowReadOnly") == [bob]
    [grant] = [e for e in h.store.audit(request_id=sub.request_id) if e.action == "grant"]
    details = grant.detail["access"]
    assert (details["account_id"], details["account_name"], details["role"]) == (prod, "prod", "GrantflowReadOnly")
    assert details["portal_url"] == f"https://{aws.identity_store_id}.awsapps.com/start"

    # Reconcile while it is live: the live assignment stays, a stray one on a managed set goes, one on an
    # unmanaged set is never seen.
    alice = aws.users["alice@example.com"]
    aws.assign(aws.accounts["staging"], "GrantflowAdmin", alice)
    aws.assign(prod, "BreakGlass", alice)
    report = await run_reconcile_once(h.env.client, h.worker.task_queue, dry_run=False)
    found = {(f.kind, f.handle, f.action) for f in report.findings}
    assert found == {("orphan", handle_of(aws.accounts["staging"], "GrantflowAdmin", alice), "revoked")}
    assert report.in_step == 1 and "aws" in report.listed
    assert aws.assignments(prod, "GrantflowReadOnly") == [bob]
    assert aws.assignments(aws.accounts["staging"], "GrantflowAdmin") == []
    assert aws.assignments(prod, "BreakGlass") == [alice]

    await settle(h, sub.request_id, {"EXPIRED"}, max_skip=3 * 3600, timeout=60)
    assert aws.assignments(prod, "GrantflowReadOnly") == []


async def test_the_grantee_reads_the_portal_and_role_from_the_vault(fake_aws: FakeAws, tmp_path: Path) -> None:
    """Nothing in the details is secret, so history keeps them; the vault keeps a copy, because the grantee's
    `details` reads the vault alone. Fails without that copy (the grantee would see no portal URL)."""
    path = journey_config(tmp_path, fake_aws)
    store = Store(f"sqlite:///{tmp_path}/gf.db")
    store.create_all()
    vault = SecretVault(store, "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
    acts = GrantActivities(ConfigSource(path), tmp_path / "state", vault)
    c = ctx(fake_aws.accounts["prod"])
    op = ItemOp(request_id=c.request_id, requester=c.requester, grantee=c.grantee, item=c.item, expires_at=c.expires_at)
    result = await ActivityEnvironment().run(acts.grant_item, op)
    assert result["account_id"] == fake_aws.accounts["prod"] and "secret_ref" not in result
    assert vault.get(c.request_id) == {f"aws/account/{fake_aws.accounts['prod']}/GrantflowReadOnly": result}
    await ActivityEnvironment().run(acts.revoke_item, op)
    assert vault.get(c.request_id) == {}
    assert fake_aws.assignments(fake_aws.accounts["prod"], "GrantflowReadOnly") == []

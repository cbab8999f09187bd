"""The `aws_identity_center` integration: an IAM Identity Center account assignment per request item.

A request item is (resource type `account`, resource = the 12-digit account id, permission = the name of a
permission set). The grantee is the Identity Store user whose email (else user name) is the grantee's
address. Grant = `CreateAccountAssignment` then `DescribeAccountAssignmentCreationStatus` until it
succeeds; revoke = `DeleteAccountAssignment` then `DescribeAccountAssignmentDeletionStatus`. Both look
first (`ListAccountAssignments`): an assignment that already exists is adopted, one already gone is
success, so a retried or repeated call changes nothing. An assignment has no expiry of its own at AWS:
`extend` has nothing to move, and if grantflow is down at expiry the assignment stays until the revoke
runs (the workflow's timer fires when the worker is back) or reconcile removes it.

Credentials come from boto3's default chain (environment, shared config/SSO profile, container or
instance role), never from the config; `AWS_ENDPOINT_URL` is honoured as boto3 honours it. The access
details are the AWS access portal URL, the account and the role (permission set) to pick there: nothing
secret, so they stay in history like PostgreSQL's host and user.

Reconcile: the assignments to users of permission sets whose names start with `managed_prefix` are
grantflow's; `held_assignments` lists them (every active account of the organization x every managed
permission set) and `remove_assignment` deletes one by its handle `<account>/<permission set>/<user id>`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from activities.integrations.base import GrantContext, Integration, IntegrationError
from grantflow.domain.config import AwsIdentityCenterIntegration
from grantflow.domain.models import StatusView
from grantflow.domain.reconcile import HeldGrant

ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
POLL_FIRST, POLL_MAX = 0.5, 3.0
# Errors retrying can fix; any other error code is final (access denied, validation, unknown resource).
RETRYABLE_CODES = frozenset(
    {"ThrottlingException", "InternalServerException", "ConflictException", "ServiceUnavailableException"}
)
T = TypeVar("T")


def handle_of(account: str, permission_set: str, user_id: str) -> str:
    return f"{account}/{permission_set}/{user_id}"


class AwsIdentityCenterDriver(Integration):
    def __init__(self, config: AwsIdentityCenterIntegration):
        self.config = config
        self._clients: dict[str, Any] = {}
        self._session: boto3.session.Session | None = None
        self._sets: dict[str, str] | None = None  # permission set name -> ARN
        self._users: dict[str, str | None] = {}

    # --- plumbing -------------------------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            # One session per driver (a session costs a few hundred ms; each client on it, little).
            if self._session is None:
                self._session = boto3.session.Session(region_name=self.config.region)
            session = self._session
            retries = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=30)
            self._clients[service] = session.client(service, config=retries)  # type: ignore[call-overload]
        return self._clients[service]

    def _error(self, exc: Exception, doing: str) -> IntegrationError:
        if isinstance(exc, NoCredentialsError):
            return IntegrationError(
                f"{self.config.id}: no AWS credentials on the worker (boto3's default chain found none)",
                retryable=False,
            )
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", "") or str(exc)
            return IntegrationError(f"{self.config.id}: {doing}: {code}: {message}", retryable=code in RETRYABLE_CODES)
        if isinstance(exc, EndpointConnectionError):
            return IntegrationError(f"{self.config.id}: {doing}: cannot reach AWS: {exc}")
        return IntegrationError(f"{self.config.id}: {doing}: {exc}")

    async def _call(self, doing: str, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(fn)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, doing) from None

    async def _pages(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        def run() -> list[Any]:
            out: list[Any] = []
            for page in self._client(service).get_paginator(operation).paginate(**kwargs):
                out += page.get(key, [])
            return out

        return await self._call(f"{operation} failed", run)

    # --- lookups --------------------------------------------------------------------------------------

    async def permission_sets(self) -> dict[str, str]:
        """Every permission set of the instance: name -> ARN (ListPermissionSets, DescribePermissionSet)."""
        if self._sets is None:
            arns = await self._pages("sso-admin", "list_permission_sets", "PermissionSets", InstanceArn=self._arn)
            sets: dict[str, str] = {}
            for arn in arns:

                def describe(arn: str = arn) -> Any:
                    return self._client("sso-admin").describe_permission_set(
                        InstanceArn=self._arn, PermissionSetArn=arn
                    )

                desc = await self._call("DescribePermissionSet failed", describe)
                sets[desc["PermissionSet"]["Name"]] = arn
            self._sets = sets
        return self._sets

    @property
    def _arn(self) -> str:
        return self.config.instance_arn

    async def _permission_set(self, name: str) -> str:
        if name not in self.config.permission_sets:
            raise IntegrationError(f"{self.config.id}: permission set {name!r} is not offered", retryable=False)
        arn = (await self.permission_sets()).get(name)
        if arn is None:
            raise IntegrationError(
                f"{self.config.id}: no permission set named {name!r} in {self._arn}", retryable=False
            )
        return arn

    async def user_id(self, email: str) -> str | None:
        """The Identity Store user whose email (else user name) is `email`, or None."""
        if email in self._users:
            return self._users[email]
        ids = self._client("identitystore")
        found: str | None = None
        for path in ("emails.value", "userName"):

            def get(path: str = path) -> Any:
                return ids.get_user_id(
                    IdentityStoreId=self.config.identity_store_id,
                    AlternateIdentifier={"UniqueAttribute": {"AttributePath": path, "AttributeValue": email}},
                )

            try:
                found = str((await asyncio.to_thread(get))["UserId"])
                break
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise self._error(exc, "GetUserId failed") from None
            except BotoCoreError as exc:
                raise self._error(exc, "GetUserId failed") from None
        self._users[email] = found
        return found

    def offered(self, account: str) -> bool:
        if self.config.include and not any(fnmatchcase(account, p) for p in self.config.include):
            return False
        return not any(fnmatchcase(account, p) for p in self.config.exclude)

    async def accounts(self) -> dict[str, str]:
        """The organization's active accounts: id -> name (organizations:ListAccounts)."""
        listed = await self._pages("organizations", "list_accounts", "Accounts")
        return {a["Id"]: a.get("Name", "") for a in listed if a.get("Status", "ACTIVE") == "ACTIVE"}

    async def _target(self, ctx: GrantContext) -> tuple[str, str, str]:
        """(account id, permission set ARN, user id) of an item; final errors for what cannot exist."""
        account = ctx.item.resource.strip()
        if ctx.item.resource_type not in self.config.resource_types:
            raise IntegrationError(
                f"{self.config.id}: resource type {ctx.item.resource_type!r} is not offered", retryable=False
            )
        if not ACCOUNT_ID.match(account) or not self.offered(account):
            raise IntegrationError(f"{self.config.id}: account {account!r} is not offered", retryable=False)
        arn = await self._permission_set(ctx.item.permission)
        user = await self.user_id(ctx.grantee)
        if user is None:
            raise IntegrationError(
                f"{self.config.id}: no IAM Identity Center user has the email {ctx.grantee}", retryable=False
            )
        return account, arn, user

    async def _assigned(self, account: str, arn: str, user: str) -> bool:
        rows = await self._pages(
            "sso-admin",
            "list_account_assignments",
            "AccountAssignments",
            InstanceArn=self._arn,
            AccountId=account,
            PermissionSetArn=arn,
        )
        return any(r.get("PrincipalType") == "USER" and r.get("PrincipalId") == user for r in rows)

    async def _wait(self, kind: str, request_id: str) -> None:
        """Poll a creation or deletion request until it succeeds; FAILED is final, slowness retryable."""
        sso = self._client("sso-admin")
        if kind == "creation":

            def describe() -> Any:
                return sso.describe_account_assignment_creation_status(
                    InstanceArn=self._arn, AccountAssignmentCreationRequestId=request_id
                )["AccountAssignmentCreationStatus"]
        else:

            def describe() -> Any:
                return sso.describe_account_assignment_deletion_status(
                    InstanceArn=self._arn, AccountAssignmentDeletionRequestId=request_id
                )["AccountAssignmentDeletionStatus"]

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.wait_timeout
        delay = POLL_FIRST
        while True:
            status = await self._call(f"DescribeAccountAssignment{kind.title()}Status failed", describe)
            if status.get("Status") == "SUCCEEDED":
                return
            if status.get("Status") == "FAILED":
                reason = status.get("FailureReason") or "no reason given"
                raise IntegrationError(f"{self.config.id}: assignment {kind} failed: {reason}", retryable=False)
            if loop.time() > deadline:
                raise IntegrationError(
                    f"{self.config.id}: assignment {kind} still {status.get('Status')} after "
                    f"{self.config.wait_timeout}s"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_MAX)

    # --- the interface --------------------------------------------------------------------------------

    async def grant(self, ctx: GrantContext) -> dict[str, Any]:
        account, arn, user = await self._target(ctx)
        if not await self._assigned(account, arn, user):
            created = await self._call(
                "CreateAccountAssignment failed",
                lambda: self._client("sso-admin").create_account_assignment(
                    InstanceArn=self._arn,
                    TargetId=account,
                    TargetType="AWS_ACCOUNT",
                    PermissionSetArn=arn,
                    PrincipalType="USER",
                    PrincipalId=user,
                ),
            )
            await self._wait("creation", created["AccountAssignmentCreationStatus"]["RequestId"])
        name = (await self.accounts()).get(account)
        if name is None:
            name = ""
        portal = self.config.portal_url or f"https://{self.config.identity_store_id}.awsapps.com/start"
        label = f"{name} ({account})" if name else account
        return {
            "portal_url": portal,
            "account_id": account,
            "account_name": name,
            "role": ctx.item.permission,
            "how": f"Sign in at {portal}, open account {label} and choose {ctx.item.permission}.",
        }

    async def extend(self, ctx: GrantContext) -> None:
        """An account assignment has no expiry at AWS: the workflow's timer is the only clock."""

    async def revoke(self, ctx: GrantContext) -> None:
        # No "is it offered" check here: access granted before a config change must still go.
        user = await self.user_id(ctx.grantee)
        if user is None:
            return  # the user is gone from the identity store: nothing of theirs can sign in
        await self.remove_assignment(handle_of(ctx.item.resource.strip(), ctx.item.permission, user))

    async def list_resources(self, resource_type: str) -> list[str]:
        if resource_type not in self.config.resource_types:
            raise IntegrationError(f"{self.config.id}: resource type {resource_type!r} is not offered", retryable=False)
        return sorted(a for a in await self.accounts() if self.offered(a))

    # --- reconcile ------------------------------------------------------------------------------------

    async def held_assignments(self) -> list[str]:
        """Handles of every user assignment of a managed permission set, in every active account."""
        prefix = self.config.managed_prefix
        if not prefix:
            raise IntegrationError(f"{self.config.id}: no managed_prefix, so no permission set is grantflow's")
        managed = {n: a for n, a in (await self.permission_sets()).items() if n.startswith(prefix)}
        handles: list[str] = []
        for account in sorted(await self.accounts()):
            for name, arn in sorted(managed.items()):
                rows = await self._pages(
                    "sso-admin",
                    "list_account_assignments",
                    "AccountAssignments",
                    InstanceArn=self._arn,
                    AccountId=account,
                    PermissionSetArn=arn,
                )
                for r in rows:
                    if r.get("PrincipalType") == "USER":
                        handles.append(handle_of(account, name, str(r["PrincipalId"])))
        return sorted(set(handles))

    async def remove_assignment(self, handle: str, arn: str | None = None) -> None:
        """Delete the assignment `<account>/<permission set>/<user id>` and wait; gone already is success."""
        account, name, user = handle.split("/", 2)
        if arn is None:
            arn = (await self.permission_sets()).get(name)
            if arn is None:
                return  # the permission set was deleted, and its assignments with it
        if not await self._assigned(account, arn, user):
            return
        try:
            deleted = await asyncio.to_thread(
                lambda: self._client("sso-admin").delete_account_assignment(
                    InstanceArn=self._arn,
                    TargetId=account,
                    TargetType="AWS_ACCOUNT",
                    PermissionSetArn=arn,
                    PrincipalType="USER",
                    PrincipalId=user,
                )
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return
            raise self._error(exc, "DeleteAccountAssignment failed") from None
        except BotoCoreError as exc:
            raise self._error(exc, "DeleteAccountAssignment failed") from None
        await self._wait("deletion", deleted["AccountAssignmentDeletionStatus"]["RequestId"])


async def held_by_requests(
    driver: AwsIdentityCenterDriver, integration_id: str, views: list[StatusView]
) -> tuple[list[HeldGrant], dict[tuple[str, str], str]]:
    """Reconcile's inventory of one integration: every managed assignment, each matched to the request
    (among `views`, those the index says hold access) whose grantee and item it is; and for each such
    request the handle of its first item here, for the `missing` check."""
    owner: dict[str, str] = {}
    first: dict[tuple[str, str], str] = {}
    for view in views:
        items = [g for g in view.grants if g.integration == integration_id]
        if not items:
            continue
        user = await driver.user_id(view.grantee)
        if user is None:
            continue
        handles = sorted(handle_of(i.resource.strip(), i.permission, user) for i in items)
        first[(view.request_id, integration_id)] = handles[0]
        for h in handles:
            owner.setdefault(h, view.request_id)
    held = [
        HeldGrant(integration=integration_id, handle=h, request_id=owner.get(h), managed=True)
        for h in await driver.held_assignments()
    ]
    return held, first

"""An AWS for tests: moto in server mode on a loopback port (a real HTTP endpoint boto3 talks to), with an
organization, an IAM Identity Center instance, permission sets and Identity Store users; fake credentials
and `AWS_ENDPOINT_URL` are set for the test only."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from tests.conftest import free_port

REGION = "eu-west-1"


@dataclass
class FakeAws:
    endpoint: str
    instance_arn: str
    identity_store_id: str
    accounts: dict[str, str] = field(default_factory=dict)  # name -> id
    users: dict[str, str] = field(default_factory=dict)  # email -> user id
    permission_sets: dict[str, str] = field(default_factory=dict)  # name -> arn

    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.session.Session(region_name=REGION).client(service)  # type: ignore[call-overload]
        return self.clients[service]

    def add_user(self, email: str) -> str:
        uid = self.client("identitystore").create_user(
            IdentityStoreId=self.identity_store_id,
            UserName=email,
            DisplayName=email,
            Name={"GivenName": email.split("@")[0], "FamilyName": "Test"},
            Emails=[{"Value": email, "Type": "work", "Primary": True}],
        )["UserId"]
        self.users[email] = uid
        return str(uid)

    def add_permission_set(self, name: str) -> str:
        arn = self.client("sso-admin").create_permission_set(InstanceArn=self.instance_arn, Name=name)["PermissionSet"][
            "PermissionSetArn"
        ]
        self.permission_sets[name] = arn
        return str(arn)

    def assignments(self, account: str, permission_set: str) -> list[str]:
        """User ids assigned `permission_set` (by name) in `account`, as ListAccountAssignments says."""
        rows = self.client("sso-admin").list_account_assignments(
            InstanceArn=self.instance_arn, AccountId=account, PermissionSetArn=self.permission_sets[permission_set]
        )["AccountAssignments"]
        return sorted(r["PrincipalId"] for r in rows if r["PrincipalType"] == "USER")

    def assign(self, account: str, permission_set: str, user_id: str) -> None:
        self.client("sso-admin").create_account_assignment(
            InstanceArn=self.instance_arn,
            TargetId=account,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=self.permission_sets[permission_set],
            PrincipalType="USER",
            PrincipalId=user_id,
        )

    def integration(self, **extra: Any) -> dict[str, Any]:
        return {
            "id": "aws",
            "type": "aws_identity_center",
            "region": REGION,
            "instance_arn": self.instance_arn,
            "identity_store_id": self.identity_store_id,
            "permission_sets": ["GrantflowReadOnly", "GrantflowAdmin"],
            "managed_prefix": "Grantflow",
            "wait_timeout": "30s",
            **extra,
        }


@pytest.fixture()
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[FakeAws]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its state in this process, across servers: start each test from an empty AWS.
    urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset", method="POST"), timeout=10).close()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    try:
        session = boto3.session.Session(region_name=REGION)
        org = session.client("organizations")  # type: ignore[call-overload]
        org.create_organization(FeatureSet="ALL")
        accounts = {}
        for name in ("prod", "staging"):
            status = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
            accounts[name] = status["AccountId"]
        [instance] = session.client("sso-admin").list_instances()["Instances"]  # type: ignore[call-overload]
        aws = FakeAws(endpoint, instance["InstanceArn"], instance["IdentityStoreId"], accounts)
        for ps in ("GrantflowReadOnly", "GrantflowAdmin", "BreakGlass"):
            aws.add_permission_set(ps)
        for email in ("alice@example.com", "bob@example.com"):
            aws.add_user(email)
        yield aws
    finally:
        server.stop()

"""Block Kit views are pure functions: snapshot them, and hold every one to Slack's limits.

Snapshots live in tests/slack_app/snapshots/; after an intended change, regenerate them with
`UPDATE_SNAPSHOTS=1 pytest tests/slack_app/test_views.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from grantflow import catalog
from grantflow.assist import suggest
from grantflow.domain.config import parse_config
from grantflow.domain.models import AccessStatus, Approval, GrantItem, RequestSpec, StatusView
from slack_app import views
from slack_app.forms import AssistPick, BundleForm, RequestForm, read_request_form
from slack_app.ids import ASSIST_OPEN
from tests.slack_app.conftest import CONFIG, filled

SNAPSHOTS = Path(__file__).parent / "snapshots"
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
NAMES = {"bob@example.com": "<@UBOB>"}


def status(**over: Any) -> StatusView:
    base: dict[str, Any] = dict(
        request_id="abc123xyz0",
        workflow_id="access-request-abc123xyz0",
        status=AccessStatus.PENDING_APPROVAL,
        requester="alice@example.com",
        grantee="alice@example.com",
        grants=[GrantItem(integration="files", resource_type="folder", resource="alpha", permission="read")],
        justification="incident 42",
        duration_seconds=3600,
        flow_id="read-folders",
        flow_name="Read folders",
        approvers=["bob@example.com", "carol@example.com"],
        approvals_required=1,
        submitted_at=T0,
        extension_enabled=True,
        max_extensions=2,
    )
    base.update(over)
    return StatusView(**base)


ACTIVE = status(
    status=AccessStatus.ACTIVE,
    approvals=[Approval(approver="bob@example.com", comment="ok", at=T0)],
    granted_at=T0,
    expires_at=T0 + timedelta(hours=1),
    extension_offered=True,
)
EXTEND_FAILED = ACTIVE.model_copy(
    update={
        "status_reason": "extension failed: files/folder:alpha (read): the target refuses to extend; "
        "access still ends at 2026-03-02 10:30 UTC"
    }
)
REJECTED = status(
    request_id="def456uvw1",
    status=AccessStatus.REJECTED,
    rejected_by="bob@example.com",
    status_reason="rejected by bob@example.com: use the dashboard",
    ended_at=T0,
)
CFG = parse_config(CONFIG)
SPEC = RequestSpec(
    requester="alice@example.com", grantee="alice@example.com", items=ACTIVE.grants, duration_seconds=3600
)


def surfaces() -> dict[str, tuple[views.SurfaceKind, Any]]:
    form = RequestForm(requester="alice@example.com", user_id="UALICE", integration="files", resource_type="folder")
    return {
        "approver_pending": ("message", views.request_message(status(), "approver", "bob@example.com", NAMES)[1]),
        "approver_decided": ("message", views.request_message(REJECTED, "approver", "carol@example.com", NAMES)[1]),
        "channel_pending": (
            "message",
            views.request_message(status(approval_channel="#db"), "channel", None, NAMES)[1],
        ),
        "owner_active": ("message", views.request_message(ACTIVE, "requester", "alice@example.com", NAMES)[1]),
        "owner_extend_failed": (
            "message",
            views.request_message(EXTEND_FAILED, "requester", "alice@example.com", NAMES)[1],
        ),
        "owner_rejected": ("message", views.request_message(REJECTED, "requester", "alice@example.com", NAMES)[1]),
        "request_modal": (
            "modal",
            views.request_modal(form, catalog.form_choices(CFG, "alice@example.com", "files", "folder")),
        ),
        "request_modal_type_ahead": (
            "modal",
            views.request_modal(
                RequestForm(requester="alice@example.com", user_id="UALICE", integration="files", resource_type="box"),
                catalog.form_choices(CFG, "alice@example.com", "files", "box"),
            ),
        ),
        "bundle_modal": (
            "modal",
            views.bundle_modal(
                BundleForm(requester="dan@example.com", user_id="UDAN", bundle="pair"),
                catalog.bundle_choices(CFG, "dan@example.com"),
                [catalog.Choice("alpha", "alpha"), catalog.Choice("beta", "beta")],
                catalog.bundle_durations(CFG, "dan@example.com", "pair"),
            ),
        ),
        "favorite_modal": ("modal", views.favorite_modal(7, "alpha (read)", SPEC)),
        "reject_modal": ("modal", views.reject_modal(status(), "DBOB", NAMES)),
        "details_modal": ("modal", views.details_modal(ACTIVE, {"files/folder:alpha (read)": {"path": "/srv/alpha"}})),
        "home": ("home", views.home_view("alice@example.com", [ACTIVE, REJECTED], [ACTIVE], [(7, "alpha", SPEC)], [])),
        "my_requests": ("message", views.my_requests_message([ACTIVE, REJECTED], "alice@example.com")),
        "favorites": ("message", views.favorites_message([(7, "alpha (read)", SPEC)])),
        "help": ("message", views.help_message()),
        "assist_modal": ("modal", views.assist_modal()),
        "assist_results": (
            "modal",
            views.assist_results_modal(
                "read the beta folder for 2 hours",
                suggest(CFG, "alice@example.com", "read the beta folder for 2 hours"),
            ),
        ),
    }


@pytest.mark.parametrize("name", sorted(surfaces()))
def test_snapshot(name: str) -> None:
    kind, surface = surfaces()[name]
    assert views.problems(surface, kind) == []
    rendered = json.dumps(surface, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(rendered)
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1"
    assert rendered == path.read_text()


def test_a_failed_extension_is_told_with_the_end_that_still_holds() -> None:
    text = views.note_text("extend_failed", EXTEND_FAILED)
    assert text is not None
    assert text.startswith(":warning: Your access could not be extended, so it still ends <!date^")
    assert f"<!date^{int(T0.timestamp()) + 3600}^" in text
    assert text.endswith("the target refuses to extend; access still ends at 2026-03-02 10:30 UTC")
    _, blocks = views.request_message(EXTEND_FAILED, "requester", "alice@example.com", NAMES)
    shown = json.dumps(blocks)
    assert ":warning: extension failed: files/folder:alpha (read)" in shown
    assert "gf_extend" in shown, "the extension can be asked for again"


def test_buttons_follow_the_lifecycle() -> None:
    def ids(v: StatusView, audience: views.Audience, viewer: str) -> list[str]:
        blocks = views.request_message(v, audience, viewer)[1]
        return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]

    assert ids(status(), "approver", "bob@example.com") == ["gf_approve", "gf_reject"]
    approved_once = status(approvals_required=2, approvals=[Approval(approver="bob@example.com", at=T0)])
    assert ids(approved_once, "approver", "bob@example.com") == []
    assert ids(approved_once, "approver", "carol@example.com") == ["gf_approve", "gf_reject"]
    assert ids(status(rejected_by="bob@example.com"), "approver", "carol@example.com") == []
    assert ids(ACTIVE, "grantee", "alice@example.com") == ["gf_details", "gf_extend", "gf_revoke", "gf_fav_add"]
    on_behalf = ACTIVE.model_copy(update={"grantee": "dan@example.com"})
    assert "gf_details" not in ids(on_behalf, "requester", "alice@example.com")
    used_up = ACTIVE.model_copy(update={"extensions_used": 2})
    assert "gf_extend" not in ids(used_up, "requester", "alice@example.com")
    not_offered = ACTIVE.model_copy(update={"extension_offered": False})
    assert "gf_extend" not in ids(not_offered, "requester", "alice@example.com")
    for final in (AccessStatus.EXPIRED, AccessStatus.REVOKED, AccessStatus.REJECTED, AccessStatus.FAILED):
        assert ids(status(status=final), "requester", "alice@example.com")[0] == "gf_again"


def test_huge_request_stays_within_limits() -> None:
    many = [
        GrantItem(integration="files", resource_type="box", resource=f"box-{i:03d}-" + "x" * 90, permission="read")
        for i in range(150)
    ]
    v = status(
        grants=many,
        justification="j" * 5000,
        approvers=[f"a{i}@example.com" for i in range(300)],
        approval_channel="#x",
    )
    for audience in ("approver", "channel", "requester"):
        assert views.problems(views.request_message(v, audience, "a1@example.com")[1], "message") == []
    vs = [v.model_copy(update={"request_id": f"r{i:09d}"}) for i in range(80)]
    favs = [(i, "n" * 300, SPEC) for i in range(40)]
    assert views.problems(views.my_requests_message(vs, "alice@example.com"), "message") == []
    assert views.problems(views.home_view("a1@example.com", vs[:5], vs[:40], favs, vs[40:]), "home") == []
    form = RequestForm(requester="alice@example.com", user_id="UALICE", integration="files", resource_type="box")
    choices = catalog.FormChoices(
        integrations=[catalog.Choice(f"i{i}", "long label " * 20) for i in range(150)],
        resource_types=[catalog.Choice("box", "box")],
        resources=[catalog.Choice(f"r{i}", "r" * 200) for i in range(150)],
        permissions=[catalog.Choice("read", "read")],
        durations=[catalog.Choice("3600", "1h")],
    )
    form.resources = [f"r{i}" for i in range(150)]
    assert views.problems(views.request_modal(form, choices), "modal") == []


def test_validator_catches_what_slack_refuses() -> None:
    long_option = {"text": {"type": "plain_text", "text": "o" * 76}, "value": "v"}
    select = {"type": "static_select", "action_id": "s", "options": [long_option] * 101}
    bad = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "t" * 3001}},
        {"type": "input", "block_id": "i", "label": {"type": "plain_text", "text": "l"}, "element": select},
    ] + [{"type": "divider"}] * 49
    found = views.problems(bad, "message")
    assert any("51 blocks" in p for p in found)
    assert any("3000" in p for p in found)
    assert any("101 options" in p for p in found)
    assert any("option label over 75" in p for p in found)
    assert any("input blocks belong in modals" in p for p in found)
    assert any("101 blocks" in p for p in views.problems({"blocks": [{"type": "divider"}] * 101}, "modal"))


def test_form_reads_back_and_drops_stale_choices() -> None:
    choices = catalog.form_choices(CFG, "alice@example.com", "files", "folder")
    form = RequestForm(requester="alice@example.com", user_id="UALICE", integration="files", resource_type="folder")
    view = filled(views.request_modal(form, choices), {"resources": ["alpha"], "permission": "read"})
    back = read_request_form(view)
    assert (back.integration, back.resource_type, back.resources, back.permission) == (
        "files",
        "folder",
        ["alpha"],
        "read",
    )
    assert back.duration == "3600" and back.on_behalf == "UALICE"
    # The type changed to box: resources chosen for folders must not survive.
    view["state"]["values"]["resource_type|files"]["req_resource_type"]["selected_option"]["value"] = "box"
    assert read_request_form(view).resources == []


def test_catalog_offers_only_what_flows_allow() -> None:
    assert catalog.form_choices(CFG, "mallory@example.com").integrations == []
    c = catalog.form_choices(CFG, "alice@example.com", "files", "folder")
    assert [p.value for p in c.permissions] == ["read"], "write is in the integration but in no flow of alice"
    assert c.durations[-1].value == str(8 * 3600), "nothing longer than the flow's maximum"
    assert catalog.form_choices(CFG, "alice@example.com", "files", "box").resources is None, "60 resources: type-ahead"
    assert [x.value for x in catalog.suggest_resources(CFG, "alice@example.com", "files", "box", "59")] == ["box-59"]


def test_assist_surfaces_carry_the_choice_and_the_sentence() -> None:
    found = suggest(CFG, "alice@example.com", "read the beta folder for 2 hours")
    modal = views.assist_results_modal("read the beta folder for 2 hours", found)
    picks = [b["accessory"]["value"] for b in modal["blocks"] if "accessory" in b]
    assert len(picks) == len(found) and picks
    first = AssistPick.parse(picks[0])
    assert first == AssistPick("files", "folder", ["beta"], "read", None, 7200)
    assert json.loads(modal["private_metadata"]) == {"text": "read the beta folder for 2 hours"}
    quotes = '"' * 2000
    meta = views.assist_results_modal(quotes, found)["private_metadata"]
    assert len(meta) <= views.MAX_METADATA and set(json.loads(meta)["text"]) == {'"'}
    for forged in ("", "[]", "{}", '{"i": "files"}', '{"b": 3}', '{"b": "pair", "d": "1h"}', "{not json"):
        assert AssistPick.parse(forged) is None, forged
    assert AssistPick.parse('{"b": "pair"}') == AssistPick(bundle="pair")
    assert ASSIST_OPEN in [
        e["action_id"] for e in views.home_view("a@example.com", [], [], [], [])["blocks"][1]["elements"]
    ]

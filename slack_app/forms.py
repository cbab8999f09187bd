"""The state of the request forms, read back from a Slack view payload (pure; no I/O).

Block ids carry the choices they depend on (`resources|files|folder`), so a block is a fresh one when
an earlier choice changes and Slack never keeps a value that no longer fits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from slack_app import ids


@dataclass
class RequestForm:
    requester: str
    user_id: str
    on_behalf: str | None = None
    integration: str | None = None
    resource_type: str | None = None
    resources: list[str] = field(default_factory=list)
    permission: str | None = None
    duration: str | None = None
    justification: str = ""
    again_of: str | None = None
    # The date-time picker's choice (Unix seconds), None for "as soon as approved".
    start_at: int | None = None

    def metadata(self) -> str:
        return json.dumps({"requester": self.requester, "user_id": self.user_id, "again_of": self.again_of})


@dataclass
class BundleForm:
    requester: str
    user_id: str
    on_behalf: str | None = None
    bundle: str | None = None
    # None: nothing chosen yet, so every resource of the bundle starts selected.
    resources: list[str] | None = None
    duration: str | None = None
    justification: str = ""
    start_at: int | None = None

    def metadata(self) -> str:
        return json.dumps({"requester": self.requester, "user_id": self.user_id})


def metadata_of(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _value(element: dict[str, Any]) -> Any:
    kind = element.get("type")
    if kind in ("static_select", "external_select"):
        opt = element.get("selected_option")
        return opt.get("value") if opt else None
    if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        return [o.get("value") for o in element.get("selected_options") or []]
    if kind == "users_select":
        return element.get("selected_user")
    if kind == "datetimepicker":
        return element.get("selected_date_time")
    return element.get("value")


def state_fields(view: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """{field name: (what it depends on, value)}, from block ids like `resources|files|folder`."""
    out: dict[str, tuple[str, Any]] = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        name, _, depends = block_id.partition("|")
        for element in actions.values():
            out[name] = (depends, _value(element))
    return out


def _get(values: dict[str, tuple[str, Any]], name: str, depends: str = "") -> Any:
    """A field's value, unless it was chosen for an earlier choice that has since changed."""
    if name not in values or values[name][0] != depends:
        return None
    return values[name][1]


def block_id_of(view: dict[str, Any], name: str) -> str:
    """The current block id of a field, for inline errors."""
    for block in view.get("blocks") or []:
        bid = str(block.get("block_id") or "")
        if bid.split("|", 1)[0] == name:
            return bid
    return name


def has_field(view: dict[str, Any], name: str) -> bool:
    return any(str(b.get("block_id") or "").split("|", 1)[0] == name for b in view.get("blocks") or [])


def refusal_block(view: dict[str, Any], field: str | None, fallback: str) -> str:
    """The block id of the input a refusal is about: its `field` (grantflow.requests.Field) where the form
    shows that input, else `fallback`'s block."""
    name = {"grantee": "on_behalf"}.get(field or "", field or "")
    return block_id_of(view, name if name and has_field(view, name) else fallback)


def missing_choices(view: dict[str, Any], form: RequestForm) -> dict[str, str]:
    """{block id: "Choose ..."} for every choice of the request form left empty (only blocks on show, else
    the first message on the integration block); empty when the form is complete."""
    missing = {
        name: f"Choose {label}"
        for name, label, value in (
            ("integration", "an integration", form.integration),
            ("resource_type", "a resource type", form.resource_type),
            ("resources", "at least one resource", form.resources),
            ("permission", "a permission", form.permission),
        )
        if not value
    }
    if not missing:
        return {}
    present = {block_id_of(view, n): m for n, m in missing.items() if block_id_of(view, n) != n or n == "integration"}
    return present or {block_id_of(view, "integration"): next(iter(missing.values()))}


def read_request_form(view: dict[str, Any]) -> RequestForm:
    meta = metadata_of(view)
    values = state_fields(view)
    integration = _get(values, "integration")
    resource_type = _get(values, "resource_type", integration or "")
    key = f"{integration}|{resource_type}"
    return RequestForm(
        requester=str(meta.get("requester") or ""),
        user_id=str(meta.get("user_id") or ""),
        on_behalf=_get(values, "on_behalf"),
        integration=integration,
        resource_type=resource_type,
        resources=[r for r in _get(values, "resources", key) or [] if r],
        permission=_get(values, "permission", key),
        duration=_get(values, "duration"),
        justification=str(_get(values, "justification") or ""),
        again_of=meta.get("again_of"),
        start_at=_start(values),
    )


def read_bundle_form(view: dict[str, Any]) -> BundleForm:
    meta = metadata_of(view)
    values = state_fields(view)
    bundle = _get(values, "bundle")
    resources = _get(values, "bundle_resources", bundle or "")
    return BundleForm(
        requester=str(meta.get("requester") or ""),
        user_id=str(meta.get("user_id") or ""),
        on_behalf=_get(values, "on_behalf"),
        bundle=bundle,
        resources=list(resources) if resources is not None else None,
        duration=_get(values, "duration"),
        justification=str(_get(values, "justification") or ""),
        start_at=_start(values),
    )


def _start(values: dict[str, tuple[str, Any]]) -> int | None:
    value = _get(values, "start_at")
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass
class AssistPick:
    """One assist suggestion as its Choose button carries it (the sentence travels in the modal's metadata)."""

    integration: str | None = None
    resource_type: str | None = None
    resources: list[str] = field(default_factory=list)
    permission: str | None = None
    bundle: str | None = None
    duration: int | None = None

    def value(self) -> str:
        data = {
            "i": self.integration,
            "t": self.resource_type,
            "r": self.resources,
            "p": self.permission,
            "b": self.bundle,
            "d": self.duration,
        }
        return json.dumps({k: v for k, v in data.items() if v}, separators=(",", ":"))

    @classmethod
    def parse(cls, value: str) -> AssistPick | None:
        """None for a value this version did not write (a forged or outdated button)."""
        try:
            data = json.loads(value)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        resources = data.get("r") or []
        duration = data.get("d")
        if not isinstance(resources, list) or not (duration is None or isinstance(duration, int)):
            return None
        texts = {k: data.get(k) for k in ("i", "t", "p", "b")}
        if any(v is not None and not isinstance(v, str) for v in texts.values()):
            return None
        if not (texts["b"] or (texts["i"] and texts["t"] and texts["p"] and resources)):
            return None
        return cls(texts["i"], texts["t"], [str(r) for r in resources], texts["p"], texts["b"], duration)


def read_assist_text(view: dict[str, Any]) -> str:
    return str(_get(state_fields(view), ids.ASSIST_TEXT) or "").strip()


def read_reason(view: dict[str, Any]) -> str:
    """The reason typed into the reject modal."""
    values = (view.get("state") or {}).get("values", {})
    return str(((values.get("reason") or {}).get("reason") or {}).get("value") or "")

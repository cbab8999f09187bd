from tests.workflows.conftest import Harness, settle


async def test_approve_then_expire(h: Harness) -> None:
    spec = h.client.build_spec(
        requester="alice@example.com",
        integration="files",
        resource_type="folder",
        resources=["alpha"],
        permission="read",
        duration="1h",
        justification="debug",
    )
    sub = await h.client.submit(spec)
    handle = h.env.client.get_workflow_handle(sub.workflow_id)
    await handle.signal("approve", {"approver": "bob@example.com"})
    view = await settle(h, sub.request_id, {"ACTIVE"})
    assert view["expires_at"]
    view = await settle(h, sub.request_id, {"EXPIRED"}, max_skip=7200)
    assert view["status_reason"] == "expired"

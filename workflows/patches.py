"""Every `workflow.patched` id of AccessRequestWorkflow that lives in workflows/access_request.py, with why it
exists (docs/contributing.md: how to change a workflow). The ids are in recorded histories: never rename one.
Helpers beside the workflow keep their own beside their code (refusals.py, escalation.py)."""

from __future__ import annotations

# Histories begun before local-first publishing replay with the remote-only publisher.
FAST_PUBLISH_PATCH = "publish-local-first"
# An extension the target refused keeps the old expiry and is not counted (before: counted, published as
# "extended" with the failure only in the audit trail).
EXTEND_FAILED_PATCH = "extend-failure-keeps-expiry"
# A waiting or holding request continues as new when the server suggests it (older histories as recorded).
CONTINUE_AS_NEW_PATCH = "continue-as-new"

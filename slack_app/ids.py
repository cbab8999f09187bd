"""Every action id and modal callback id the app puts on a surface and listens for, in one place.

An action id names one thing a person can do (the request or favorite id travels as the value); a callback
id names one modal. Listeners register by these names, views put them on buttons and modals.
"""

from __future__ import annotations

# --- action ids: buttons and selects -----------------------------------------------------------------
APPROVE = "gf_approve"
REJECT = "gf_reject"
REVOKE = "gf_revoke"
EXTEND = "gf_extend"
DETAILS = "gf_details"
AGAIN = "gf_again"
MORE = "gf_more"
FAV_ADD = "gf_fav_add"
FAV_USE = "gf_fav_use"
FAV_REMOVE = "gf_fav_remove"
NEW_REQUEST = "gf_new"
NEW_BUNDLE = "gf_new_bundle"
ASSIST_OPEN = "gf_assist_open"
ASSIST_PICK = "gf_assist_pick"
# Selects in the request forms whose choice reshapes the form.
PICK_INTEGRATION = "req_integration"
PICK_TYPE = "req_resource_type"
PICK_BUNDLE = "bundle_pick"
# The resources select: its options come from `app.options` (it sends no action of its own).
PICK_RESOURCES = "req_resources"

# Every action id a listener handles; a button outside this set is one an older version sent.
ACTIONS = frozenset(
    {
        APPROVE,
        REJECT,
        REVOKE,
        EXTEND,
        DETAILS,
        AGAIN,
        MORE,
        FAV_ADD,
        FAV_USE,
        FAV_REMOVE,
        NEW_REQUEST,
        NEW_BUNDLE,
        ASSIST_OPEN,
        ASSIST_PICK,
        PICK_INTEGRATION,
        PICK_TYPE,
        PICK_BUNDLE,
    }
)

# --- callback ids: modals ----------------------------------------------------------------------------
# No id is both an action id and a callback id (tests/slack_app/test_layout.py): a reader searching for one
# finds one listener. A reject modal opened before the rename (gf_reject) and submitted after a deploy is
# answered "not one I know"; the person clicks Reject again.
REQUEST_CALLBACK = "gf_request"
BUNDLE_CALLBACK = "gf_bundle"
FAVORITE_CALLBACK = "gf_favorite"
REJECT_CALLBACK = "gf_reject_modal"
ASSIST_CALLBACK = "gf_assist"
ASSIST_RESULTS_CALLBACK = "gf_assist_results"
# Modals without a submit button: nothing is ever submitted under these.
DETAILS_CALLBACK = "gf_details_modal"
STATUS_CALLBACK = "gf_status"
SUBMITTED_CALLBACK = "gf_submitted"

MODALS = frozenset(
    {
        REQUEST_CALLBACK,
        BUNDLE_CALLBACK,
        FAVORITE_CALLBACK,
        REJECT_CALLBACK,
        ASSIST_CALLBACK,
        ASSIST_RESULTS_CALLBACK,
        DETAILS_CALLBACK,
        STATUS_CALLBACK,
        SUBMITTED_CALLBACK,
    }
)

# The Assist question: block id and action id of its one input.
ASSIST_TEXT = "assist_text"

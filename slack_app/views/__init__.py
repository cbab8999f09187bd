"""Block Kit for every surface of the app, as pure functions of the models (no I/O, easy to snapshot).

Split by surface: `blocks` (primitives and Slack's limits), `messages` (request messages, notes, lists),
`modals`, `home` (the App Home tab). The names below are the ones listeners, the notifier and tests use.
"""

from slack_app.views.blocks import (
    MAX_MESSAGE_TEXT,
    MAX_METADATA,
    Block,
    SurfaceKind,
    clip,
    esc,
    option,
    problems,
    section,
    slack_date,
    what,
)
from slack_app.views.home import home_view
from slack_app.views.messages import (
    UNVERIFIED_ACTIONS,
    Audience,
    announcement,
    break_glass_note,
    favorites_message,
    help_message,
    my_requests_message,
    note_text,
    request_message,
    unverified_note,
)
from slack_app.views.modals import (
    assist_modal,
    assist_results_modal,
    bundle_modal,
    details_modal,
    favorite_modal,
    reject_modal,
    request_modal,
    status_modal,
    submitted_modal,
)

__all__ = [
    "MAX_MESSAGE_TEXT",
    "MAX_METADATA",
    "UNVERIFIED_ACTIONS",
    "Audience",
    "Block",
    "SurfaceKind",
    "announcement",
    "assist_modal",
    "assist_results_modal",
    "break_glass_note",
    "bundle_modal",
    "clip",
    "details_modal",
    "esc",
    "favorite_modal",
    "favorites_message",
    "help_message",
    "home_view",
    "my_requests_message",
    "note_text",
    "option",
    "problems",
    "reject_modal",
    "request_message",
    "request_modal",
    "section",
    "slack_date",
    "status_modal",
    "submitted_modal",
    "unverified_note",
    "what",
]

"""Revoke: remove the grantee's marker. Idempotent: a marker already gone is fine."""

import sys

from _folder import fail, marker

if len(sys.argv) != 5:
    fail("usage: revoke.py GRANTEE RESOURCE PERMISSION REQUEST_ID")
grantee, resource, _permission, _request_id = sys.argv[1:]
marker(grantee, resource).unlink(missing_ok=True)

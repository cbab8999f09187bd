"""Extend: move the expiry written in the grantee's marker."""

import json
import sys

from _folder import fail, marker, write

if len(sys.argv) != 5:
    fail("usage: extend.py GRANTEE RESOURCE REQUEST_ID EXPIRES_AT")
grantee, resource, request_id, expires_at = sys.argv[1:]
path = marker(grantee, resource)
if not path.exists():
    fail(f"{grantee} has no access to {resource}")
data = json.loads(path.read_text())
data["expires_at"] = expires_at
write(path, data)

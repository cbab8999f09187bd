"""Grant: create the grantee's marker in the folder. Idempotent; prints access details as JSON."""

import json
import sys

from _folder import fail, marker, write

if len(sys.argv) != 6:
    fail("usage: grant.py GRANTEE RESOURCE PERMISSION REQUEST_ID EXPIRES_AT")
grantee, resource, permission, request_id, expires_at = sys.argv[1:]
if resource not in ("finance", "sales"):
    fail(f"no such folder: {resource}")
path = marker(grantee, resource)
write(path, {"permission": permission, "request_id": request_id, "expires_at": expires_at})
print(json.dumps({"path": str(path.parent), "permission": permission, "expires_at": expires_at}))

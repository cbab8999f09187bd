"""The target of the upgrade test's script integration: access is a file, controls are files.

Everything comes from argv (the worker may pass scripts no environment beyond PATH, HOME, LANG and TZ):

    target.py ACTION TARGETS CONTROLS GRANTEE RESOURCE PERMISSION REQUEST_ID

- `grant` writes TARGETS/RESOURCE/GRANTEE.REQUEST_ID, `revoke` removes it (idempotent both ways).
- While CONTROLS/RESOURCE.hold exists, a grant waits: a slow target.
- While CONTROLS/RESOURCE.down exists, every call fails: a target that is down.
- Each call appends one line to TARGETS/calls.log, with the pid of the worker that ran it.
"""

import json
import os
import sys
import time
from pathlib import Path

action, targets, controls, grantee, resource, permission, request_id = sys.argv[1:8]
targets_dir, controls_dir = Path(targets), Path(controls)
access = targets_dir / resource / f"{grantee}.{request_id}"


def log(outcome: str) -> None:
    with (targets_dir / "calls.log").open("a") as f:
        f.write(f"{action} {request_id} {resource} {outcome} worker={os.getppid()}\n")


log("start")
while action == "grant" and (controls_dir / f"{resource}.hold").exists():
    time.sleep(0.1)
if (controls_dir / f"{resource}.down").exists():
    log("down")
    print(f"{resource} is down", file=sys.stderr)
    sys.exit(1)
if action == "grant":
    access.parent.mkdir(parents=True, exist_ok=True)
    access.write_text(json.dumps({"permission": permission}))
    print(json.dumps({"path": str(access)}))
elif action == "revoke":
    access.unlink(missing_ok=True)
log("ok")

"""The releases of grantflow whose in-flight requests the current worker must finish.

A release is named by the commit it was cut from, so the upgrade test finds it in any clone that carries
main's history, tags or not. Add a line here when a release is cut (and keep the previous ones while their
requests can still be running: up to 7 days pending plus the longest grant and its extensions).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Release:
    version: str
    commit: str


V0_1_0 = Release("v0.1.0", "2967e08c40c261e074d8bc34c3062e0ff937c057")
V0_2_0 = Release("v0.2.0", "656985cd95e296b78ca37e939a16e2c31c0c95a9")
V0_3_0 = Release("v0.3.0", "bb1fe3e97b60cbe90e027c7fcfbc729199a9f203")

# The release the upgrade test starts from: the one deployed before this checkout.
PREVIOUS_RELEASE = V0_3_0

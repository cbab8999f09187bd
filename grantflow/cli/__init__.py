"""`grantflow` — the command line front door: a thin layer over grantflow.client.

One module per command group (requests, audit, config, policy, ops, assist, processes), shared plumbing in
`common`, assembled by `app`. This package module stays empty of imports so that importing any of them
does not load the others; `main` (the console script) loads the app when it runs.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> None:
    """The `grantflow` console script (pyproject: `grantflow = "grantflow.cli:main"`)."""
    from grantflow.cli.app import main as run

    run(argv)

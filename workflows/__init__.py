"""Deterministic workflow code only: no I/O, no clocks but workflow.now()."""

from workflows.access_request import AccessRequestWorkflow

ALL_WORKFLOWS: list[type] = [AccessRequestWorkflow]

__all__ = ["ALL_WORKFLOWS", "AccessRequestWorkflow"]

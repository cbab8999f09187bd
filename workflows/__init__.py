"""Deterministic workflow code only: no I/O, no clocks but workflow.now()."""

from workflows.access_request import AccessRequestWorkflow
from workflows.reconcile import ReconcileWorkflow

ALL_WORKFLOWS: list[type] = [AccessRequestWorkflow, ReconcileWorkflow]

__all__ = ["ALL_WORKFLOWS", "AccessRequestWorkflow", "ReconcileWorkflow"]

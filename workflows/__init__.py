"""Deterministic workflow code only: no I/O, no clocks but workflow.now().

This package imports nothing itself: the workflow sandbox re-imports a workflow's module (and so its
package) for every new run, and each extra module here would be paid once per request.
The list of workflows the worker runs is `worker.ALL_WORKFLOWS`.
"""

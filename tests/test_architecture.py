"""The shape of the code, checked: no import cycle, no upward import, no E402 suppression, no module over 450 lines.

Imports are read from the source (ast), not by importing anything. Each check reports every violation it
finds, with the file and line to look at. The layers (docs/architecture.md):

    front doors (slack_app, grantflow.cli, grantflow.mcp, worker) -> grantflow.client -> workflows
        -> activities -> activities.integrations / activities.notifiers ; everything -> grantflow.domain

- grantflow.domain imports none of the layers above it.
- workflows import only workflows and grantflow.domain; activities only inside
  `with workflow.unsafe.imports_passed_through():` (for typed activity-method references).
- activities never import workflows, worker, the CLI, the MCP server, or Slack's app and listeners.
- grantflow never imports worker or slack_app, except the entry points under grantflow.cli and grantflow.dev,
  and only inside a function body (imported when the command runs).
"""

from __future__ import annotations

import ast
import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("grantflow", "workflows", "activities", "slack_app")
TOP_MODULES = ("worker",)
MAX_LINES = 450
# Directories never looked at: tests and benchmarks may be long; the rest is not grantflow's code.
NOT_CODE = {"build", "dist", "node_modules", "__pycache__"}
LONG_OK = {"tests", "bench"}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (first-party: resolved to a module that exists)
    path: Path
    line: int
    in_function: bool
    type_checking: bool
    passed_through: bool

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Rule:
    sources: tuple[str, ...]
    forbidden: tuple[str, ...]
    why: str
    # Imports of a forbidden module allowed inside a function body, from modules under these prefixes.
    function_body_ok_in: tuple[str, ...] = ()
    # Imports of a forbidden module allowed inside `workflow.unsafe.imports_passed_through()`.
    passed_through_ok: tuple[str, ...] = ()
    # When set, every first-party module outside these prefixes is forbidden too.
    only: tuple[str, ...] = ()


FIRST_PARTY = (*PACKAGES, *TOP_MODULES)

RULES = (
    Rule(
        sources=("grantflow.domain",),
        forbidden=(
            "grantflow.storage",
            "grantflow.payloads",
            "grantflow.cli",
            "grantflow.mcp",
            "grantflow.dev",
            "grantflow.client",
            "grantflow.assist",
            "grantflow.catalog",
            "activities",
            "slack_app",
            "workflows",
            "worker",
        ),
        why="the domain imports nothing above it",
    ),
    Rule(
        sources=("workflows",),
        forbidden=(),
        only=("workflows", "grantflow.domain"),
        why="workflows import only grantflow.domain (activities only passed through, for method references)",
        passed_through_ok=("activities",),
    ),
    Rule(
        sources=("activities",),
        forbidden=("workflows", "worker", "grantflow.cli", "grantflow.mcp", "slack_app.listeners", "slack_app.app"),
        why="activities do not import the workflow, the worker or a front door",
    ),
    Rule(
        sources=("grantflow",),
        forbidden=("worker", "slack_app"),
        why="grantflow imports worker or slack_app only in entry points under grantflow/cli and grantflow/dev, "
        "inside a function body",
        function_body_ok_in=("grantflow.cli", "grantflow.dev"),
    ),
)


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def walk_py(root: Path, skip: set[str]) -> Iterator[Path]:
    """Python files under root, not descending into hidden folders (.venv, .git, ...) nor `skip`."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in skip and not d.endswith(".egg-info"))
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(folder) / name


def discover(root: Path) -> dict[str, Path]:
    """Every first-party module by dotted name (a package by its own name, for its __init__.py)."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    for name in TOP_MODULES:
        if (root / f"{name}.py").exists():
            modules[name] = root / f"{name}.py"
    return modules


def resolve(name: str, modules: dict[str, Path]) -> str:
    """The longest existing module a dotted name starts with (itself when it is not first-party)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return name


class _Collector(ast.NodeVisitor):
    def __init__(self, source: str, path: Path, is_package: bool, modules: dict[str, Path]):
        self.source, self.path, self.modules = source, path, modules
        self.package = source if is_package else source.rpartition(".")[0]
        self.found: list[Import] = []
        self.function_depth = 0
        self.type_checking = 0
        self.passed_through = 0

    def add(self, target: str, node: ast.AST) -> None:
        if not under(target, FIRST_PARTY):
            return
        self.found.append(
            Import(
                self.source,
                resolve(target, self.modules),
                self.path,
                getattr(node, "lineno", 0),
                self.function_depth > 0,
                self.type_checking > 0,
                self.passed_through > 0,
            )
        )

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            anchor = self.package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            self.add(sub if sub in self.modules else base, node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        dynamic = (isinstance(func, ast.Name) and func.id == "__import__") or (
            isinstance(func, ast.Attribute) and func.attr == "import_module"
        )
        if dynamic and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            self.add(node.args[0].value, node)
        self.generic_visit(node)

    def _in_function(self, node: ast.AST) -> None:
        self.function_depth += 1
        self.generic_visit(node)
        self.function_depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _in_function

    def visit_If(self, node: ast.If) -> None:
        test = ast.unparse(node.test)
        guarded = test in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        self.type_checking += guarded
        for child in node.body:
            self.visit(child)
        self.type_checking -= guarded
        for child in node.orelse:
            self.visit(child)
        self.visit(node.test)

    def visit_With(self, node: ast.With) -> None:
        passthrough = any(ast.unparse(item.context_expr).endswith("imports_passed_through()") for item in node.items)
        self.passed_through += passthrough
        self.generic_visit(node)
        self.passed_through -= passthrough


def collect(root: Path) -> tuple[dict[str, Path], list[Import]]:
    modules = discover(root)
    found: list[Import] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        collector = _Collector(name, path.relative_to(root), path.name == "__init__.py", modules)
        collector.visit(tree)
        found += collector.found
    return modules, found


def import_cycles(root: Path) -> list[str]:
    """Every strongly connected group of modules, with one cycle in it. Imports deferred into a function body
    count (they only postpone the cycle to run time); those under `if TYPE_CHECKING:` do not."""
    modules, found = collect(root)
    edges: dict[str, dict[str, Import]] = {name: {} for name in modules}
    for imp in found:
        if not imp.type_checking and imp.target in modules and imp.target != imp.source:
            edges[imp.source].setdefault(imp.target, imp)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for name in sorted(modules):
        if name not in index:
            connect(name)

    def shortest_cycle(start: str, members: set[str]) -> list[str]:
        paths: dict[str, list[str]] = {start: [start]}
        queue = [start]
        while queue:
            node = queue.pop(0)
            for nxt in sorted(edges[node]):
                if nxt == start:
                    return [*paths[node], start]
                if nxt in members and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    queue.append(nxt)
        raise AssertionError(f"{start} is in a strongly connected group but on no cycle")

    report: list[str] = []
    for group in sorted(groups):
        cycles: list[str] = []
        covered: set[str] = set()
        for start in group:  # cycles until every member of the group is on one
            if start not in covered:
                cycle = shortest_cycle(start, set(group))
                covered.update(cycle)
                cycles.append(", ".join(f"{a} -> {b} ({edges[a][b].where})" for a, b in itertools.pairwise(cycle)))
        steps = "; ".join(cycles)
        report.append(f"import cycle among {', '.join(group)}: {steps}")
    return report


def upward_imports(root: Path) -> list[str]:
    _, found = collect(root)
    report: list[str] = []
    for imp in found:
        for rule in RULES:
            outside = bool(rule.only) and not under(imp.target, rule.only)
            if not under(imp.source, rule.sources) or not (outside or under(imp.target, rule.forbidden)):
                continue
            if imp.in_function and under(imp.source, rule.function_body_ok_in):
                continue
            if imp.passed_through and under(imp.target, rule.passed_through_ok):
                continue
            report.append(f"{imp.where}: {imp.source} imports {imp.target}: {rule.why}")
    return sorted(set(report))


NOQA_E402 = re.compile(r"#\s*noqa\b[^\n]*\bE402\b")


def noqa_e402(root: Path) -> list[str]:
    report: list[str] = []
    for path in walk_py(root, NOT_CODE):
        rel = path.relative_to(root)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if NOQA_E402.search(line):
                report.append(f"{rel}:{number}: {line.strip()}")
    pyproject = root / "pyproject.toml"
    if pyproject.exists() and "E402" in pyproject.read_text(encoding="utf-8"):
        report.append("pyproject.toml: E402 is ignored in the ruff configuration")
    return report


def oversized(root: Path) -> list[str]:
    report: list[str] = []
    for path in walk_py(root, NOT_CODE | LONG_OK):
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > MAX_LINES:
            report.append(f"{path.relative_to(root)}: {count} lines (at most {MAX_LINES} outside tests/ and bench/)")
    return report


CHECKS = {
    "import cycles": import_cycles,
    "upward imports": upward_imports,
    "noqa E402": noqa_e402,
    "modules over 450 lines": oversized,
}


@pytest.mark.parametrize("check", list(CHECKS))
def test_the_tree_keeps_its_shape(check: str) -> None:
    violations = CHECKS[check](ROOT)
    assert not violations, f"{len(violations)} {check}:\n" + "\n".join(violations)


# --- the checks themselves, on a small made-up tree ------------------------------------------------------------


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


NOQA = "# no" + "qa: E402"  # not written out: this file would trip its own check
BAD_TREE = {
    "grantflow/__init__.py": "",
    "grantflow/domain/__init__.py": "",
    "grantflow/domain/models.py": "from grantflow.storage import store\n",
    "grantflow/storage/__init__.py": "",
    "grantflow/storage/store.py": "from grantflow.domain import models\n",
    "grantflow/cli/__init__.py": (
        "import worker\nfrom grantflow import client\n"
        "def serve() -> None:\n    from slack_app import app\n"
        "slack = __import__('slack_app.cli', fromlist=['slack'])\n"
    ),
    "grantflow/client.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from grantflow.cli import x\n",
    "grantflow/mcp.py": "def f() -> None:\n    import worker\n",
    "workflows/__init__.py": "",
    "workflows/flow.py": (
        "from temporalio import workflow\n"
        "with workflow.unsafe.imports_passed_through():\n    from activities import grants\n"
        "from activities import policy\nfrom grantflow.domain import models\nfrom grantflow import settings\n"
    ),
    "activities/__init__.py": "",
    "activities/grants.py": "from . import policy\nfrom slack_app.listeners import actions\n",
    "activities/policy.py": f"from .grants import x  {NOQA}\n",
    "slack_app/__init__.py": "",
    "slack_app/app.py": "",
    "slack_app/cli.py": "def run() -> None:\n    from grantflow.cli import CliError\n",
    "slack_app/listeners/__init__.py": "",
    "slack_app/listeners/actions.py": "\n" * 451,
    "tests/long.py": "\n" * 900,
    "worker.py": "import grantflow.cli\n",
}


def test_cycles_are_found_with_a_path(tmp_path: Path) -> None:
    write(tmp_path, BAD_TREE)
    assert import_cycles(tmp_path) == [
        "import cycle among activities.grants, activities.policy: "
        "activities.grants -> activities.policy (activities/grants.py:1), "
        "activities.policy -> activities.grants (activities/policy.py:1)",
        "import cycle among grantflow.cli, slack_app.cli, worker: "
        "grantflow.cli -> slack_app.cli (grantflow/cli/__init__.py:5), "
        "slack_app.cli -> grantflow.cli (slack_app/cli.py:2); "
        "worker -> grantflow.cli (worker.py:1), grantflow.cli -> worker (grantflow/cli/__init__.py:1)",
        "import cycle among grantflow.domain.models, grantflow.storage.store: "
        "grantflow.domain.models -> grantflow.storage.store (grantflow/domain/models.py:1), "
        "grantflow.storage.store -> grantflow.domain.models (grantflow/storage/store.py:1)",
    ]


def test_upward_imports_are_each_reported(tmp_path: Path) -> None:
    write(tmp_path, BAD_TREE)
    found = upward_imports(tmp_path)
    assert [line.split(": ")[1] for line in found] == [
        "activities.grants imports slack_app.listeners.actions",
        "grantflow.cli imports worker",
        "grantflow.cli imports slack_app.cli",
        "grantflow.domain.models imports grantflow.storage.store",
        "grantflow.mcp imports worker",
        "workflows.flow imports activities.policy",
        "workflows.flow imports grantflow",
    ]
    assert found[2].startswith("grantflow/cli/__init__.py:5: ")


def test_noqa_e402_and_long_modules_are_found(tmp_path: Path) -> None:
    write(tmp_path, BAD_TREE)
    assert noqa_e402(tmp_path) == [f"activities/policy.py:1: from .grants import x  {NOQA}"]
    assert oversized(tmp_path) == ["slack_app/listeners/actions.py: 451 lines (at most 450 outside tests/ and bench/)"]

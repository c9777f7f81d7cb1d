"""The services app's layering: no import circle between selectors, actions and tasks (the
usual action ↔ task pair excepted), selectors never write, and every module imports on its own
in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("accounts", "breact", "services")
# services.execution.actions queues services.tasks.run_process after commit; the task calls
# the action back: the one circle allowed, as the brief and Celery's usual layout have it.
# The same pair in the alerts and webhooks domains (a webhook domain's writes are split in two:
# `events` records what happened, `actions` delivers; both queue and are called by its tasks).
ALLOWED_CYCLES = [
    {"services.execution.actions", "services.tasks"},
    {"accounts.alerts.actions", "accounts.alerts.tasks"},
    {"services.webhooks.actions", "services.webhooks.events", "services.webhooks.tasks"},
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            modules[_module_name(path)] = path
    return modules


def _imports(path: Path, known: set[str]) -> set[str]:
    """Project modules that `path` imports anywhere in it (function-level imports included:
    a lazy import still ties the two modules together)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name in known:
                found.add(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.add(item)
                if item == node:
                    break
            if len(component) > 1:
                out.append(component)

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def _services_graph() -> dict[str, set[str]]:
    modules = _project_modules()
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        # A package's own __init__ is imported with any of its modules; it imports nothing here.
        graph[name] = {target for target in _imports(path, known) if target != name}
    return graph


def test_no_import_circle_between_selectors_actions_and_tasks():
    cycles = [c for c in _cycles(_services_graph()) if any(m.startswith("services") for m in c)]

    assert [sorted(c) for c in cycles if c not in ALLOWED_CYCLES] == []


def test_the_cycle_finder_sees_a_circle():
    graph = {"a.selectors": {"a.actions"}, "a.actions": {"a.tasks"}, "a.tasks": {"a.selectors"}}

    assert _cycles(graph) == [{"a.selectors", "a.actions", "a.tasks"}]


def test_selectors_do_not_import_actions():
    graph = _services_graph()
    readers = [name for name in graph if name.startswith("services") and "selectors" in name]

    assert readers
    for name in readers:
        writers = sorted(t for t in graph[name] if t.endswith("actions") or t.endswith("tasks"))
        assert writers == [], name


def test_every_module_imports_in_a_fresh_interpreter():
    """One fresh interpreter imports every module of the project after django.setup(), the
    services app's first: none meets a half-initialised module on the way (how a circle shows
    at run time). The static check above finds the circles that import order would hide."""
    names = sorted(_project_modules(), key=lambda n: (not n.startswith("services."), n))
    code = (
        "import django, importlib, sys; django.setup()\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(len(sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )

    assert result.returncode == 0, result.stderr[-2000:]

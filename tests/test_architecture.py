"""The shape of the code, checked from its imports (parsed with `ast`, nothing imported): services
never import views, `model` never imports `bot`, and no bot modules import each other in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (functions and TYPE_CHECKING blocks too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            # `from bot.views import pulse` imports the module bot.views.pulse
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def graph(package: str) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in (ROOT / package).rglob("*.py")}
    return {
        name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def without_packages(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """Package __init__ modules are namespaces here; importing bot.views.pulse is not importing bot.views."""
    packages = {name for name in edges if (ROOT / name.replace(".", "/")).is_dir()}
    return {n: {m for m in targets if m not in packages} for n, targets in edges.items() if n not in packages}


def test_services_never_import_views():
    offenders = sorted(
        f"{name} imports {target}"
        for name, targets in graph("bot").items()
        if name.startswith("bot.services")
        for target in targets
        if target == "bot.views" or target.startswith("bot.views.")
    )
    assert offenders == []


def test_no_import_cycles_among_bot_modules():
    assert cycles(without_packages(graph("bot"))) == []


def test_model_never_imports_bot():
    offenders = sorted(
        f"{module_name(p)} imports {m}"
        for p in (ROOT / "model").rglob("*.py")
        for m in imports_of(p)
        if m == "bot" or m.startswith("bot.")
    )
    assert offenders == []


def test_the_checks_can_fail():
    """The cycle finder and the import parser see what they should (so the tests above can fail)."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert "bot.views.pulse" in imports_of(ROOT / "bot" / "presenters" / "pulse.py")
    assert "bot.storage.pulse_repository" in graph("bot")["bot.services.pulse"]

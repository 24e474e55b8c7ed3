"""The import graph of our own code, read with ``ast``: every ``import`` statement at any depth
(inside functions too), relative imports resolved. ``python tests/import_graph.py`` prints its
summary: modules, edges, upward imports (against ``LAYERS``) and cycles."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("nn", "app")

# Each package's floor: a module may import from its own floor or any lower one (README, "How the
# code is laid out"). Longest prefix wins.
LAYERS = {
    "nn.core": 0,
    "nn.hosting": 1, "nn.data": 1, "nn.files": 1,
    "nn.views": 2, "nn.runs": 2,
    "nn.sweep": 3,
    "nn.cli": 4, "nn.__main__": 4, "nn": 4,
    "app": 5,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            files[module_name(path)] = path
    return files


def imported_names(module: str, path: Path) -> list[str]:
    """Every module name ``module`` imports, at any depth; ``from a import b`` gives ``a.b`` when
    that is a module of ours, else ``a``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it names in an import. (Python also runs the parents'
    ``__init__`` first; a parent package is not counted as imported unless named.)"""
    files = source_files()
    return {module: {name for name in imported_names(module, path) if name in files and name != module}
            for module, path in files.items()}


def external_imports() -> dict[str, set[str]]:
    """Module -> every name it imports that is not ours (for ``streamlit``, ``streamlit.runtime``)."""
    files = source_files()
    return {m: {n for n in imported_names(m, p) if n.split(".")[0] not in PACKAGES}
            for m, p in files.items()}


def layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def upward_imports(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a lower floor to a higher one."""
    return sorted((source, target) for source, targets in edges.items() for target in targets
                  if layer(target) > layer(source))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm), ignoring
    a package's imports of its own submodules (``nn.core`` -> ``nn.core.arch`` is how a package
    gathers its names, not a cycle when the child does not import the parent back)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main() -> None:
    edges = graph()
    up = upward_imports(edges)
    found = cycles(edges)
    print(f"{len(edges)} modules, {sum(map(len, edges.values()))} imports of our own modules")
    print(f"{len(up)} upward imports:")
    for source, target in up:
        print(f"  {source} -> {target}")
    print(f"{len(found)} cycles:")
    for component in found:
        print(f"  {len(component)} modules: {', '.join(component)}")


if __name__ == "__main__":
    main()

"""The two stages stay apart: ``models.face`` and ``models.motion`` import nothing from each other (checked on the
import statements of every module, type-only imports included), and ``sdk`` has no import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _imports(path: Path, package: str) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved against ``package``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def _modules(top: str) -> dict[str, Path]:
    found = {}
    for path in (ROOT / top.replace(".", "/")).rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def test_face_and_motion_do_not_import_each_other():
    for stage, other in (("models.face", "models.motion"), ("models.motion", "models.face")):
        for name, path in _modules(stage).items():
            bad = {m for m in _imports(path, _package_of(name, path)) if m == other or m.startswith(other + ".")}
            assert not bad, f"{name} imports {sorted(bad)}"


def test_models_root_modules_import_no_stage():
    for name, path in _modules("models").items():
        if name.count(".") == 1 and not name.startswith(("models.face", "models.motion")):
            imported = _imports(path, _package_of(name, path))
            if name == "models":  # the package root re-exports lazily, by name
                continue
            assert not {m for m in imported if m.startswith(("models.face", "models.motion"))}, name


def test_sdk_has_no_import_cycle():
    mods = _modules("sdk")
    graph = {
        n: {m for m in _imports(p, _package_of(n, p)) if m in mods and m != n and m != "sdk"} for n, p in mods.items()
    }
    state: dict[str, int] = {}

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        for m in graph[n]:
            assert state.get(m) != 1, f"import cycle: {' -> '.join([*stack, n, m])}"
            if m not in state:
                visit(m, [*stack, n])
        state[n] = 2

    for n in graph:
        if n not in state:
            visit(n, [])

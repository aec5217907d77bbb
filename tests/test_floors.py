"""The floors: each app imports only from its own floor and the floors below it.

Bottom to top: icbt (users, tenancy, encryption, audit) <- programs (treatment content) <-
patients (one patient's treatment) <- messaging (conversations, feedback, waiting work) <-
therapists (the workbench) <- devtools (demo data, bench). Every import statement counts, at
module level or inside a function, in migrations too (a migration of a moved model names the
old app only as a string). No exceptions.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ["icbt", "programs", "patients", "messaging", "therapists", "devtools"]
FLOOR = {app: number for number, app in enumerate(FLOORS)}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level == 0:
            return [node.module or ""]
        base = module.split(".")
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        return [".".join([*base, node.module] if node.module else base)]
    return []


def imports_of(app: str):
    """(file, line, imported module) for every import statement in ``app``."""
    for path in sorted((ROOT / app).rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for name in _imported(node, module, path.name == "__init__.py"):
                yield path.relative_to(ROOT), node.lineno, name


def upward_imports() -> list[str]:
    found = []
    for app in FLOORS:
        for path, line, name in imports_of(app):
            target = name.split(".")[0]
            if FLOOR.get(target, -1) > FLOOR[app]:
                found.append(f"{path}:{line} imports {name} ({app} is below {target})")
    return found


def test_no_app_imports_from_a_higher_floor():
    assert upward_imports() == []


def test_the_checker_sees_imports_at_every_level(tmp_path):
    """The checker itself: module level, inside functions, relative and aliased imports."""
    source = (
        "import therapists.worklist as w\n"
        "def f():\n"
        "    from messaging.pending import waiting_work\n"
        "class C:\n"
        "    def g(self):\n"
        "        from .demo import seed_patient_demo\n"
    )
    tree = ast.parse(source)
    names = [
        name for node in ast.walk(tree) for name in _imported(node, "devtools.management.commands.x", False)
    ]
    assert sorted(names) == [
        "devtools.management.commands.demo",
        "messaging.pending",
        "therapists.worklist",
    ]
    assert _imported(ast.parse("from . import models").body[0], "icbt.models", True) == ["icbt.models"]
    assert _imported(ast.parse("from .. import x").body[0], "patients.services.work", False) == ["patients"]


def test_every_app_is_on_a_floor():
    apps = {p.parent.name for p in ROOT.glob("*/apps.py")}
    assert apps == set(FLOORS)

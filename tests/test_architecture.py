"""The import rules of ARCHITECTURE.md, checked on the source."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "kvnode": ROOT / "kvnode",
    "kvcheck": ROOT / "properties",
    "kvcheck.models": ROOT / "models",
}


def modules() -> Iterator[tuple[str, Path]]:
    """(module name, path) of every module, by its installed name."""
    for package, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join([package, *parts]), path


def imports(path: Path) -> list[set[str]]:
    """Each import of the project's modules, as the names it could mean: `from a.b import c`
    is `a.b` or `a.b.c` (a module or a name in one); allowed if either is."""
    found: list[set[str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [{alias.name} for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [{node.module, f"{node.module}.{alias.name}"} for alias in node.names]
    ours = ("kvnode", "kvcheck", "models", "properties")
    return [names for names in found if min(names).split(".")[0] in ours]


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "kvnode":
        return "kvnode"
    return ".".join(parts[:2]) if len(parts) > 1 else "kvcheck"


ALLOWED = {
    "kvnode": {"kvnode"},
    "kvcheck.models": {"kvnode.dependency", "kvnode.errors", "kvnode.limits", "kvcheck.models"},
    "kvcheck.machine": {"kvnode", "kvcheck.models", "kvcheck.machine"},
    "kvcheck.crash": {"kvnode", "kvcheck.models", "kvcheck.machine", "kvcheck.crash"},
    "kvcheck.concurrency": {"kvnode", "kvcheck.models", "kvcheck.machine", "kvcheck.concurrency"},
    "kvcheck.codecs": {"kvnode", "kvcheck.models", "kvcheck.machine", "kvcheck.codecs",
                       "kvcheck.evidence.patched", "kvcheck.evidence.planted_codecs"},
    # Of the front ends, only Hypothesis's configuration: the profiles, and keeping a patched
    # copy out of the constants Hypothesis draws from.
    "kvcheck.evidence": {"kvnode", "kvcheck.models", "kvcheck.machine", "kvcheck.crash",
                         "kvcheck.concurrency", "kvcheck.codecs", "kvcheck.evidence",
                         "kvcheck.frontends.profiles", "kvcheck.frontends.constants"},
    "kvcheck.adapters": {"kvcheck.machine.directory", "kvcheck.adapters"},
    "kvcheck.frontends": {"kvnode", "kvcheck"},
    "kvcheck": {"kvcheck.machine"},
}  # fmt: skip


def allowed(rule: set[str], name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in rule)


@pytest.mark.parametrize(("module", "path"), list(modules()), ids=lambda v: str(v))
def test_each_module_imports_only_what_its_layer_may(module: str, path: Path) -> None:
    rule = ALLOWED[layer(module)]
    wrong = [min(names) for names in imports(path) if not any(allowed(rule, n) for n in names)]
    assert not wrong, f"{module} imports {wrong}, outside {sorted(rule)}"


def test_no_module_uses_the_folder_names_as_imports() -> None:
    for module, path in modules():
        stray = [
            names for names in imports(path) if min(names).split(".")[0] in ("models", "properties")
        ]
        assert not stray, f"{module} imports {stray}: use kvcheck and kvcheck.models"

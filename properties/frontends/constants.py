"""Derandomized runs that do not depend on what the process imported.

Hypothesis draws about one value in twenty from a pool of constants it collects from the
source of every *local* module loaded (anything outside the standard library and
site-packages: an editable install of this project, a user's own package, and the patched
copies of the node that the bug catalog writes to a temporary directory). The pool grows as
modules are imported, so a derandomized test drew different examples alone than after another
test had imported more of the toolkit or planted a bug: a planted-bug test could pass alone and
fail in the suite.

`settle()` imports every module of `kvnode` and `kvcheck` once, when the profiles are
registered, so the pool holds all of their constants before any example is drawn whatever is
imported later; `exclude(module)` keeps a module out of the pool (a patched copy: its constants
are the node's, plus the planted bug's). Both touch Hypothesis's collection through names it
does not document (`hypothesis.internal.conjecture.providers`); where they are missing (an
older Hypothesis without constant collection, or a newer one that moved it) they do nothing,
and `tests/test_constants.py` fails, so the dependence cannot come back unnoticed.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from types import ModuleType

#: Modules that need an optional dependency or are loaded only by another tool.
_SKIP = frozenset({"kvcheck.codecs.crosshair_plugin"})


def _providers() -> ModuleType | None:
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:
        return None
    has = all(hasattr(providers, name) for name in ("_seen_modules", "_get_local_constants"))
    return providers if has else None


def supported() -> bool:
    """Whether this Hypothesis collects constants where `settle` and `exclude` reach them."""
    return _providers() is not None


def settle() -> None:
    """Import every module of `kvnode` and `kvcheck`, and let Hypothesis collect their
    constants now."""
    for package_name in ("kvnode", "kvcheck"):
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            if info.name in _SKIP:
                continue
            try:
                importlib.import_module(info.name)
            except ImportError:  # an optional dependency is missing: its constants are moot
                continue
    providers = _providers()
    if providers is not None:
        providers._get_local_constants()


def exclude(module: ModuleType) -> None:
    """Keep `module` and its submodules out of Hypothesis's pool of constants."""
    providers = _providers()
    if providers is None:
        return
    prefix = f"{module.__name__}."
    for name, loaded in list(sys.modules.items()):
        if name == module.__name__ or name.startswith(prefix):
            providers._seen_modules.add(id(loaded))

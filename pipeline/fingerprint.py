"""A fingerprint of the project code a component runs, for its cache key.

User code is referenced by module path, which TFX does not fingerprint: after an edit to the
preprocessing module, Transform and the Trainer were served from the cache and the old model was
pushed again. Each component that runs project code gets the sha256 of the source files it
imports from this repository (the module and everything it imports from the project's packages,
followed through the import statements), so an edit reruns what it affects and nothing else.
"""

from __future__ import annotations

import ast
import hashlib
import os

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_PACKAGES = ("core", "startup", "models", "components", "pipeline", "petunet")


def _source(module: str, root: str) -> str | None:
    """The file of a project module (a package's __init__.py), None for anything else."""
    if module.split(".")[0] not in PROJECT_PACKAGES:
        return None
    base = os.path.join(root, *module.split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return path
    return None


def _imports(path: str, module: str) -> set[str]:
    """Modules named by the import statements of one file (packages' __init__ included)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    parents = set()
    for name in found:  # importing a.b.c runs a/__init__ and a/b/__init__ first
        pieces = name.split(".")
        parents.update(".".join(pieces[:i]) for i in range(1, len(pieces)))
    return found | parents


def source_files(modules: list[str], root: str = PROJECT_ROOT) -> list[str]:
    """Every project source file the modules import, directly or not (sorted)."""
    seen: dict[str, str] = {}
    pending = list(modules)
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        path = _source(module, root)
        if path is None:
            continue
        seen[module] = path
        pending.extend(_imports(path, module))
        pieces = module.split(".")  # a module's packages run their __init__ first
        pending.extend(".".join(pieces[:i]) for i in range(1, len(pieces)))
    return sorted(set(seen.values()))


def code_fingerprint(modules: list[str], root: str = PROJECT_ROOT) -> str:
    """sha256 over the relative paths and contents of `source_files(modules)`."""
    digest = hashlib.sha256()
    for path in source_files(modules, root):
        digest.update(os.path.relpath(path, root).encode())
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()

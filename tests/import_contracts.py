"""An import-linter contract the built-in ones cannot state: these modules take no given names from an outside package.

import-linter sees an outside package only as a whole (`flask`), so "the domain does
not import flask.request" needs its own contract: this one reads each source module's
code and fails on `from flask import request` or `flask.request`, while leaving
`from flask import current_app` alone. `.importlinter` names it as `forbidden_names`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output
from importlinter.domain.helpers import module_expressions_to_modules


def _path(module: str) -> Path:
    base = Path.cwd().joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _uses(tree: ast.AST, package: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, name) for each forbidden name this code imports from `package` or reads off it."""
    aliases = set()  # what `import flask` / `import flask as f` binds
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == package:
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names if a.name in names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == package:
                    aliases.add(a.asname or a.name)
                elif a.name.split(".")[0] == package and a.name.split(".")[1] in names:
                    found.append((node.lineno, a.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases and node.attr in names:
            found.append((node.lineno, f"{package}.{node.attr}"))
    return sorted(found)


class ForbiddenNamesContract(Contract):
    """source_modules (and their submodules) may not use `names` of the outside package `package`."""

    type_name = "forbidden_names"

    source_modules = fields.SetField(subfield=fields.ModuleExpressionField())
    package = fields.StringField()
    names = fields.SetField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        modules = set()
        for module in module_expressions_to_modules(graph, self.source_modules):
            modules.add(module.name)
            modules |= graph.find_descendants(module.name)
        found = []
        for name in sorted(modules):
            path = _path(name)
            for line, what in _uses(ast.parse(path.read_text(encoding="utf-8")), self.package, set(self.names)):
                found.append({"module": name, "line": line, "name": what})
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for f in check.metadata["found"]:
            output.print_error(f"{f['module']}:{f['line']} uses {f['name']}")
            output.new_line()

"""Every error code the server can send, read from its source (not from a list kept by hand).

Walks server/**/*.py with `ast` and collects the code argument of each call that makes a
refusal: the domain's problems (`server/problems.py`, positional 2nd or `code=`),
`Invalid.field` (4th or `code=`, and its field's own `field_code=`), a field's
`FieldMessage` (2nd or `code=`), `ApiError` (3rd or `code=`), `error_response` (3rd or
`code=`), sync's `Rejection` and `_rejected` (1st or `code=`), plus every class's
`default_code` and `server.errors.CODES`. A code given as a module-level constant (sync's
`UNKNOWN_TASK = "unknown_task"`) is resolved by name. A call whose code is not a literal or a
known constant is returned in `unresolved`, so a test can insist there is none.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from server import errors, problems

SERVER = Path(__file__).resolve().parents[2] / "server"

# call name -> index of the positional code argument
PROBLEM_CLASSES = {name for name, obj in vars(problems).items() if isinstance(obj, type) and issubclass(obj, problems.Problem)}
CODE_ARG = {**{name: 1 for name in PROBLEM_CLASSES}, "field": 3, "ApiError": 2, "error_response": 2, "Rejection": 0, "_rejected": 0,
            "FieldMessage": 1}


@dataclass
class Found:
    codes: dict[str, list[str]] = field(default_factory=dict)  # code -> where ("path:line")
    unresolved: list[str] = field(default_factory=list)


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        # Invalid.field(...) but not any other .field(); problems.Conflict(...), errors.ApiError(...)
        if func.attr == "field":
            return "field" if isinstance(func.value, ast.Name) and func.value.id in PROBLEM_CLASSES else None
        return func.attr
    return None


def _constants(trees: dict[Path, ast.Module]) -> dict[str, str]:
    out = {}
    for tree in trees.values():
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id.isupper():
                        out[target.id] = node.value.value
    return out


def collect() -> Found:
    trees = {p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(SERVER.rglob("*.py"))}
    consts = _constants(trees)
    found = Found()

    def add(code: str, where: str) -> None:
        found.codes.setdefault(code, []).append(where)

    for path, tree in trees.items():
        rel = path.relative_to(SERVER.parent).as_posix()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _name(node.func)
            if name not in CODE_ARG:
                continue
            arg = next((k.value for k in node.keywords if k.arg == "code"), None)
            if arg is None and len(node.args) > CODE_ARG[name]:
                arg = node.args[CODE_ARG[name]]
            args = [arg, next((k.value for k in node.keywords if k.arg == "field_code"), None) if name == "field" else None]
            for arg in args:
                if arg is None or (isinstance(arg, ast.Constant) and arg.value is None):
                    continue  # the class's default code, collected below
                where = f"{rel}:{node.lineno}"
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    add(arg.value, where)
                elif isinstance(arg, ast.Name) and arg.id in consts:
                    add(consts[arg.id], where)
                elif isinstance(arg, ast.IfExp) and all(isinstance(b, ast.Constant) for b in (arg.body, arg.orelse)):
                    add(arg.body.value, where)
                    add(arg.orelse.value, where)
                else:
                    found.unresolved.append(f"{where}: {ast.unparse(arg)}")
    for cls in vars(problems).values():
        if isinstance(cls, type) and issubclass(cls, problems.Problem) and cls is not problems.Problem:
            add(cls.default_code, f"server/problems.py:{cls.__name__}")
    for code in errors.CODES.values():
        add(code, "server/errors.py:CODES")
    return found

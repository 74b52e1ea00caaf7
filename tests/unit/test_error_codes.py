"""Every error code the core raises has an explicit HTTP status in ``api.errors`` (ast only).

The codes are read from the source, not listed by hand: every construction of an error class of
``commands/`` or ``domain/`` that takes a ``code`` (``CommandError``, ``RegistryError``,
``EvDomainError``, ``FlexModelError``, ...), and every ``CommandError`` raised anywhere in the
project, plus the codes error classes carry as a class attribute (``UnitError.code``). A code
argument must be a literal, a name bound to literals (in the function or at module level), a
literal dict or conditional of literals, or the ``code`` of a caught error (passed on, counted
where it was raised); anything else fails :func:`test_every_code_argument_can_be_read`, so a
new code cannot reach the API without a row in :data:`api.errors.COMMAND_ERROR_STATUS`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import COMMAND_ERROR_STATUS, command_error_status, install_error_handlers
from commands.context import CommandError
from domain.ports.event_store import EventStoreUnavailable, WrongExpectedRevision

ROOT = Path(__file__).resolve().parents[2]
CORE = ("commands", "domain")
EVERYWHERE = ("domain", "commands", "projections", "streams", "api", "infra")


def _trees(packages: tuple[str, ...]) -> dict[Path, ast.Module]:
    return {
        path: ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for package in packages
        for path in sorted((ROOT / package).rglob("*.py"))
    }


CORE_TREES = _trees(CORE)
ALL_TREES = _trees(EVERYWHERE)


def _assigns_code(item: ast.stmt) -> bool:
    """``code = "LITERAL"`` in a class body."""
    return (
        isinstance(item, ast.Assign)
        and isinstance(item.value, ast.Constant)
        and any(isinstance(t, ast.Name) and t.id == "code" for t in item.targets)
    )


def _error_classes() -> tuple[dict[str, int], dict[str, str]]:
    """(class -> index of its ``code`` argument, class -> its class-level ``code``) in commands/ and domain/."""
    by_argument: dict[str, int] = {}
    by_attribute: dict[str, str] = {}
    for tree in CORE_TREES.values():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    names = [a.arg for a in item.args.args][1:]
                    if "code" in names:
                        by_argument[node.name] = names.index("code")
                elif _assigns_code(item):
                    by_attribute[node.name] = item.value.value
    return by_argument, by_attribute


def _module_bindings(tree: ast.Module) -> dict[str, list[ast.expr]]:
    bindings: dict[str, list[ast.expr]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bindings.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            bindings.setdefault(node.target.id, []).append(node.value)
    return bindings


MODULE_BINDINGS = {path: _module_bindings(tree) for path, tree in ALL_TREES.items()}
CORE_CONSTANTS: dict[str, list[ast.expr]] = {}
"""Module-level bindings of commands/ and domain/, by name (for codes imported as constants)."""
for _path in CORE_TREES:
    for _name, _values in MODULE_BINDINGS[_path].items():
        CORE_CONSTANTS.setdefault(_name, []).extend(_values)


def _local_bindings(function: ast.AST | None, name: str) -> list[ast.expr]:
    if function is None:
        return []
    return [
        node.value
        for node in ast.walk(function)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    ]


class Unreadable(Exception):
    """A code argument that is not made of literals."""


def _codes(expr: ast.expr, function: ast.AST | None, path: Path, depth: int = 0) -> set[str]:
    """The literal codes ``expr`` can evaluate to (empty for a caught error's ``code``, passed on)."""
    if depth > 5:
        raise Unreadable(ast.unparse(expr))
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.Attribute) and expr.attr == "code":
        return set()  # re-raised with the caught error's code: counted where that one was raised
    if isinstance(expr, ast.IfExp):
        return _codes(expr.body, function, path, depth + 1) | _codes(expr.orelse, function, path, depth + 1)
    if isinstance(expr, ast.Dict):
        return set().union(*(_codes(v, function, path, depth + 1) for v in expr.values))
    if isinstance(expr, ast.Subscript):
        return _codes(expr.value, function, path, depth + 1)
    if isinstance(expr, ast.Name):
        bound = _local_bindings(function, expr.id) or MODULE_BINDINGS[path].get(expr.id) or CORE_CONSTANTS.get(expr.id)
        if bound:
            return set().union(*(_codes(v, None, path, depth + 1) for v in bound))
    raise Unreadable(ast.unparse(expr))


def _calls(scope: ast.AST):
    """The calls in ``scope``'s own body (not in the functions defined inside it)."""
    for child in ast.iter_child_nodes(scope):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(child, ast.Call):
            yield child
        yield from _calls(child)


def _code_arguments() -> list[tuple[str, ast.expr | None, ast.AST | None, Path]]:
    """(where, code argument, enclosing function, module) of every code-carrying error built."""
    by_argument, _ = _error_classes()
    found = []
    for path, tree in ALL_TREES.items():
        core = path in CORE_TREES
        scopes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))]
        for scope in scopes:
            for call in _calls(scope):
                func = call.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if name not in by_argument or not (core or name == "CommandError"):
                    continue
                index = by_argument[name]
                argument = call.args[index] if len(call.args) > index else None
                argument = argument or next((k.value for k in call.keywords if k.arg == "code"), None)
                where = f"{path.relative_to(ROOT)}:{call.lineno}"
                found.append((where, argument, None if scope is tree else scope, path))
    return found


def raised_codes() -> dict[str, str]:
    """Every code raised by the project's code-carrying errors -> one place that raises it."""
    codes: dict[str, str] = {}
    for where, argument, function, path in _code_arguments():
        if argument is None:
            continue
        try:
            for code in _codes(argument, function, path):
                codes.setdefault(code, where)
        except Unreadable:
            continue  # reported by test_every_code_argument_can_be_read
    _, by_attribute = _error_classes()
    for cls, code in by_attribute.items():
        codes.setdefault(code, f"class {cls}")
    return codes


def test_every_code_argument_can_be_read() -> None:
    unreadable = []
    for where, argument, function, path in _code_arguments():
        try:
            if argument is None:
                raise Unreadable("no code argument")
            _codes(argument, function, path)
        except Unreadable as exc:
            unreadable.append(f"{where}: {exc}")
    assert unreadable == [], "write these codes as literals (or a name bound to literals)"


def test_the_scan_sees_the_codes() -> None:
    """The scanner reads literals, module constants, local names, dict subscripts and class attributes."""
    codes = raised_codes()
    assert {"UNRECOGNIZED_SENSOR", "DUPLICATE_EMAIL"} <= set(codes)  # literals (commands/)
    assert {"SESSION_EXISTS", "FROZEN_FIELD", "INVALID_ACTION"} <= set(codes)  # domain errors
    assert {"MISSING_FIELD", "UNRESOLVED_SENSOR"} <= set(codes)  # module constants (FlexModelError)
    assert {"API.INVALID_TARIFF_BLOCK_PRICING", "UNRECOGNIZED_ASSET"} <= set(codes)  # local names
    assert {"UNKNOWN_REGION_ID", "UNKNOWN_CHARGING_MODE_IDS"} <= set(codes)  # a module-level table
    assert {"INVALID_UNIT", "WRONG_EXPECTED_REVISION"} <= set(codes)  # class attributes
    assert {"UNKNOWN_FORMAT"} <= set(codes)  # a CommandError raised outside the core (infra/)


def test_every_raised_code_has_a_status() -> None:
    missing = {code: where for code, where in raised_codes().items() if code not in COMMAND_ERROR_STATUS}
    assert missing == {}, "add these codes to api.errors.COMMAND_ERROR_STATUS"


def test_the_table_holds_no_code_nothing_raises() -> None:
    assert sorted(set(COMMAND_ERROR_STATUS) - set(raised_codes())) == []


def test_statuses_are_client_errors_but_an_unavailable_store() -> None:
    server_side = {code for code, status in COMMAND_ERROR_STATUS.items() if not 400 <= status < 500}
    assert server_side == {"EVENT_STORE_UNAVAILABLE"}
    assert COMMAND_ERROR_STATUS["EVENT_STORE_UNAVAILABLE"] == 503


def test_the_status_comes_from_the_table_not_from_the_name() -> None:
    assert command_error_status(CommandError("UNKNOWN_REGION_ID", "no region")) == 404
    assert command_error_status(CommandError("API.TARIFF_NOT_FOUND", "no tariff")) == 404
    assert command_error_status(CommandError("UNKNOWN_FIELD", "no such field")) == 422  # a name, not a lookup
    assert command_error_status(CommandError("DUPLICATE_EMAIL", "exists")) == 409


def test_the_handlers_answer_with_the_table() -> None:
    """Through a real app: a refused command, a concurrent write, an unavailable store."""
    app = FastAPI()
    install_error_handlers(app)
    errors = {
        "command": CommandError("UNKNOWN_REGION_ID", "no region 7 in this account", "region_id"),
        "race": WrongExpectedRevision("asset-1", 3, 4),
        "store": EventStoreUnavailable("timed out"),
    }

    @app.get("/{kind}")
    def fail(kind: str) -> None:
        raise errors[kind]

    client = TestClient(app)
    command = client.get("/command")
    assert (command.status_code, command.json()["status"], command.json()["field"]) == (
        404, "UNKNOWN_REGION_ID", "region_id"
    )  # fmt: skip
    assert (client.get("/race").status_code, client.get("/race").json()["status"]) == (409, "WRONG_EXPECTED_REVISION")
    store = client.get("/store")
    assert (store.status_code, store.json()["status"]) == (503, "EVENT_STORE_UNAVAILABLE")
    assert store.headers["Retry-After"] == "5"

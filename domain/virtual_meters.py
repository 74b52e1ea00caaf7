"""Virtual meters (MyEMS ``virtualmeters``): a meter computed from an expression over meters.

Stream ``myemsvirtualmeter-<id>``: defined (name, the equation over variables, each variable a
meter id), redefined (the whole definition), deleted. The expression is evaluated by a projection
(:mod:`projections.myems_virtual_meters`) for every interval where all its meters have a value,
again whenever late data changes an input. Equations use numbers, variables, ``+ - * /`` and
parentheses only (parsed with :mod:`ast`, never ``eval``).
"""

from __future__ import annotations

import ast
import operator
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.events import DomainEvent, register_event

_OPERATORS: dict[type, Any] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                               ast.Div: operator.truediv}
_ALLOWED_NODES = (ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Load, ast.USub, ast.UAdd, *_OPERATORS)
MAX_EQUATION_LENGTH = 1024


def virtual_meter_stream(virtual_meter_id: int) -> str:
    return f"myemsvirtualmeter-{virtual_meter_id}"


class Variable(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
    meter_type: Literal["meter"] = "meter"
    meter_id: int = Field(gt=0)


class Expression(BaseModel):
    equation: str = Field(min_length=1, max_length=MAX_EQUATION_LENGTH)
    variables: list[Variable] = Field(min_length=1, max_length=64)


class VirtualMeterDefinition(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    energy_category_id: int = 1
    is_counted: bool = True
    energy_item_id: int | None = None
    description: str | None = Field(default=None, max_length=1024)
    expression: Expression


@register_event
class MyEmsVirtualMeterDefined(DomainEvent):
    virtual_meter_id: int
    account_id: int
    uuid: uuid.UUID
    definition: VirtualMeterDefinition


@register_event
class MyEmsVirtualMeterRedefined(DomainEvent):
    virtual_meter_id: int
    definition: VirtualMeterDefinition


@register_event
class MyEmsVirtualMeterDeleted(DomainEvent):
    virtual_meter_id: int


def evolve(state: MyEmsVirtualMeterDefined | None, event: DomainEvent) -> MyEmsVirtualMeterDefined | None:
    if isinstance(event, MyEmsVirtualMeterDefined):
        return event
    if isinstance(event, MyEmsVirtualMeterRedefined) and state is not None:
        return state.model_copy(update={"definition": event.definition})
    if isinstance(event, MyEmsVirtualMeterDeleted):
        return None
    return state


class EquationError(ValueError):
    """The equation is not ``+ - * /`` over numbers and the declared variables."""


def parse_equation(equation: str, names: set[str]) -> ast.expr:
    """The checked syntax tree of an equation over ``names``; raises :class:`EquationError`."""
    try:
        tree = ast.parse(equation.strip(), mode="eval").body
    except SyntaxError as exc:
        raise EquationError(f"not an equation: {exc.msg}") from exc
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in names:
            raise EquationError(f"unknown variable {node.id!r}")
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or
                                               not isinstance(node.value, int | float)):
            raise EquationError(f"not a number: {node.value!r}")
        if not isinstance(node, _ALLOWED_NODES):
            raise EquationError(f"{type(node).__name__} is not allowed (numbers, variables, + - * / only)")
    return tree


def evaluate(tree: ast.expr, values: Mapping[str, float]) -> float | None:
    """The equation's value; ``None`` when a variable has no value or it divides by zero."""
    if isinstance(tree, ast.Constant):
        return float(tree.value)
    if isinstance(tree, ast.Name):
        return values.get(tree.id)
    if isinstance(tree, ast.UnaryOp):
        inner = evaluate(tree.operand, values)
        return None if inner is None else (-inner if isinstance(tree.op, ast.USub) else inner)
    assert isinstance(tree, ast.BinOp)
    left, right = evaluate(tree.left, values), evaluate(tree.right, values)
    if left is None or right is None or (isinstance(tree.op, ast.Div) and right == 0):
        return None
    return float(_OPERATORS[type(tree.op)](left, right))

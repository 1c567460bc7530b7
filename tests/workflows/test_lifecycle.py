"""The lifecycle reads in one place: `JointBuyWorkflow.run()` takes the stages in order, each
through one stage object, and every stage a buy can wait in has exactly one."""

from __future__ import annotations

import ast
import inspect
import textwrap

from procurement.models import Stage
from workflows.joint_buy import JointBuyWorkflow
from workflows.stage import StageWindow

LIFECYCLE = [
    Stage.DEMAND,
    Stage.SIGN_UP,
    Stage.ASSURANCE,
    Stage.NEGOTIATION,
    Stage.EVALUATION,
    Stage.STANDSTILL,
    Stage.SUSPENDED,
]


def product_stages() -> list[type[StageWindow]]:
    found: list[type[StageWindow]] = []
    todo = list(StageWindow.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("workflows."):
            found.append(cls)
    return found


def test_every_waiting_stage_has_one_stage_object() -> None:
    stages = sorted((cls.stage for cls in product_stages()), key=list(Stage).index)
    assert stages == LIFECYCLE
    waiting = [s for s in Stage if not s.terminal and s != Stage.DRAFT]
    assert waiting == LIFECYCLE


def stage_attributes() -> dict[str, Stage]:
    """`_demand` -> Stage.DEMAND: the stage object each attribute `__init__` assigns runs."""
    init = textwrap.dedent(inspect.getsource(JointBuyWorkflow.__init__))
    classes = {cls.__name__: cls for cls in product_stages()}
    found: dict[str, Stage] = {}
    for node in ast.walk(ast.parse(init)):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id in classes
        ):
            [target] = node.targets
            assert isinstance(target, ast.Attribute)
            found[target.attr] = classes[node.value.func.id].stage
    return found


def test_run_goes_through_the_stages_in_order() -> None:
    """The stage objects `run()` hands to `_through`, in the order a reader meets them, are the
    lifecycle, each once."""
    source = textwrap.dedent(inspect.getsource(JointBuyWorkflow.run))
    calls = sorted(
        (node.lineno, node.args[0].attr)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "_through"
        and node.args
        and isinstance(node.args[0], ast.Attribute)
    )
    attributes = stage_attributes()
    assert [attributes[name] for _, name in calls] == LIFECYCLE

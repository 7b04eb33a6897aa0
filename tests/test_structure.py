"""The package's shape: layers point down (no import cycle, function-level imports included), and task
behaviour lives on the task registry, not in comparisons with task names elsewhere."""

from __future__ import annotations

import ast
from pathlib import Path

from taiyi_utils import tasks
from taiyi_utils.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "taiyi_utils"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``name`` imports anywhere in its body (not its own parent packages)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            targets |= {f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names}
        elif isinstance(node, ast.Import):
            targets |= {a.name for a in node.names}
    found = set()
    for target in targets:
        while target not in modules and "." in target:
            target = target.rsplit(".", 1)[0]
        if target in modules and target != name and not name.startswith(target + "."):
            found.add(target)
    return found


def test_no_import_cycle_in_the_package():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert "taiyi_utils.evaluation.vllm_backend" in graph["taiyi_utils.evaluation.engines"]  # the checker sees
    state: dict[str, str] = {}  # function-level imports too: engines imports the vLLM backend inside a function

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            assert state.get(target) != "open", " -> ".join([*path, target])
            if target not in state:
                visit(target, [*path, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_evaluation_viz_and_curation_hold_no_task_names():
    """What a task's gold looks like, its macro-F1 labels, the CLI's options and the display choices are fields
    of its registry entry (taiyi_utils/tasks.py): a new task is one entry, not a hunt for string comparisons."""
    names = set(tasks.TASKS)
    files = [*(PACKAGE / "evaluation").glob("*.py"), *(PACKAGE / "viz").glob("*.py"), PACKAGE / "curation.py"]
    found = [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.value!r}"
        for path in files
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert found == []


def test_every_scored_task_is_written_by_one_entry():
    from taiyi_utils.data.instruct import WRITERS
    from taiyi_utils.tasks import TASKS

    written_as = {task.rows_as or name for name, task in TASKS.items()}  # multi-label prompts are curated as cls
    assert written_as <= set(WRITERS) and all(WRITERS[name].family for name in written_as)

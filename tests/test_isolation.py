"""The isolation layer's primitives: the supervisor ends whole process trees, the worker's
handshake only moves as named, and the package's modules import one another without a cycle."""

import ast
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from autograder.isolation.judge_client import MOVES, Fork, Handshake, InvalidMove
from autograder.isolation.supervisor import ChannelClosed, Supervised

POSIX = os.name == "posix"

# A process that starts a child in a session of its own (out of its group, as learner code can),
# writes both numbers on its stdout, then waits.
ESCAPING_TREE = r"""
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                         start_new_session=True)
print(os.getpid(), child.pid, flush=True)
time.sleep(600)
"""


def is_gone(pid: int, grace_s: float = 2.0) -> bool:
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not POSIX, reason="sessions and groups: POSIX")
def test_ending_a_supervised_process_ends_a_child_that_left_its_group(tmp_path):
    """Killing the process group (what batch did) missed a child in a session of its own."""
    output = tmp_path / "pids"
    with open(output, "w") as handle:
        process = Supervised([sys.executable, "-c", ESCAPING_TREE], stdout=handle)
        deadline = time.monotonic() + 30
        while not output.read_text().strip():
            assert time.monotonic() < deadline, "the tree never started"
            time.sleep(0.05)
        assert process.wait(0.1) is None  # still running: a timeout
        process.end()
    parent, child = map(int, output.read_text().split())
    assert is_gone(parent) and is_gone(child)


def test_a_supervised_channel_drops_lines_that_are_not_messages_and_reports_its_end():
    echo = (
        "import json, sys\n"
        "print('noise', flush=True)\n"
        "for line in sys.stdin:\n"
        "    print(json.dumps({'echo': json.loads(line)['n']}), flush=True)\n"
    )
    process = Supervised([sys.executable, "-c", echo], channel=True)
    try:
        process.send({"n": 1})
        assert process.receive(30) == {"echo": 1}
        process.send({"n": 2})
        assert process.receive(2, lambda message: message.get("echo") == 3) is None
        process.send({"n": 3})
        assert process.receive(30, lambda message: message.get("echo") == 3) == {"echo": 3}
    finally:
        process.end()
    with pytest.raises(ChannelClosed):
        process.receive(5)


def test_a_supervised_receive_gives_up_when_asked_before_its_limit():
    process = Supervised([sys.executable, "-c", "import time; time.sleep(600)"], channel=True)
    try:
        started = time.monotonic()
        assert process.receive(60, give_up=lambda: True) is None
        assert time.monotonic() - started < 10
    finally:
        process.end()


def test_the_handshake_follows_a_notebook_then_the_next_student():
    handshake = Handshake()
    assert not handshake.ready and not handshake.touched
    handshake.move("ready")
    assert handshake.state is Fork.CLEAN and not handshake.touched
    handshake.move("request")
    handshake.move("notebook_ended", ended=1)
    assert handshake.state is Fork.REPLACING and handshake.ended == 1 and not handshake.ready
    handshake.move("ready")
    assert handshake.state is Fork.REPLACED and handshake.ended == 1 and handshake.touched
    handshake.move("request")
    assert handshake.ended is None  # the fresh fork ran code: it is the one to end
    handshake.move("synced")
    assert handshake.state is Fork.CLEAN and not handshake.touched


@pytest.mark.parametrize(
    "event, state",
    [
        (event, state)
        for event in ("ready", "request", "died", "notebook_ended")
        for state in Fork
        if (event, state) not in MOVES
    ],
)
def test_a_move_the_handshake_does_not_allow_raises(event, state):
    handshake = Handshake(state)
    with pytest.raises(InvalidMove):
        handshake.move(event)
    assert handshake.state is state


REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("autograder", "digits")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The package's modules that `path` imports, anywhere in it (a function's own imports
    too: a cycle through one still ties the two modules together)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # a name from a module: the module
                target = target.rpartition(".")[0]
            # A module's own packages are imported before it anyway: no edge of its making.
            if target and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = [
        path
        for package in PACKAGES
        for path in (REPO / package).rglob("*.py")
        if not path.name.startswith("test_")
    ]
    known = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, known) for path in paths}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph`, one per strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_package_modules_import_one_another_without_a_cycle():
    """The last cycle ran through mistakes (CheckFailed looked its id up in the registry) and
    config (the check ids [points] may name): a check now raises the Mistake itself, and the
    grader gives config the check ids."""
    assert cycles(import_graph()) == []


GRADING_CORE = ("runner", "exercises", "mistakes", "report", "results", "grader", "isolation")


def test_the_grading_core_imports_nothing_from_the_instructor_tools():
    graph = import_graph()
    core = [
        module
        for module in graph
        if module.split(".")[:2][-1] in GRADING_CORE and module.startswith("autograder.")
    ]
    reaching = {
        module: sorted(target for target in graph[module] if ".instructor" in target)
        for module in core
    }
    assert {module: found for module, found in reaching.items() if found} == {}


# --- the protocol: one schema per message, arrays included ------------------------------------


def test_an_array_a_graded_function_returns_crosses_back_whole(tmp_path):
    """A function returning an array (not only a number) reaches the judge's checks as that
    array, through the worker's answer, with no change to the isolation modules."""
    from autograder.isolation.judge_client import SandboxLearner, WorkerSupply
    from autograder.submission import GradedCell

    source = (
        "import numpy as np\n\ndef confusion(n):\n    return np.arange(n * n).reshape(n, n) / 2\n"
    )
    cell = GradedCell("confusion", source, "<cell>")
    with open(tmp_path / "worker.log", "w+") as log:
        supply = WorkerSupply(log, str(tmp_path), preload=False)
        try:
            answer = SandboxLearner({"confusion": cell}, supply).call(
                "confusion", [{"kind": "list", "data": 3}]
            )
        finally:
            supply.close()
    assert answer["shape"] == [3, 3] and answer["value"] is None
    assert np.array_equal(answer["array"], np.arange(9).reshape(3, 3) / 2)


@pytest.mark.parametrize(
    "forged",
    [
        {"shape": [2, 2], "data": "AAAA"},  # too few bytes for its shape
        {"shape": [True], "data": ""},
        {"shape": [10**9, 10**9], "data": ""},
        "not an array",
    ],
)
def test_a_forged_array_in_an_answer_reads_as_no_array(forged):
    from autograder.isolation.protocol import returned_value

    answer = returned_value({"type": "numpy.ndarray", "shape": [2, 2], "array": forged})
    assert answer["array"] is None and answer["shape"] == [2, 2]


def test_a_model_request_crosses_a_folder_unchanged(tmp_path):
    from autograder.isolation.protocol import ModelRequest

    images = np.random.default_rng(0).random((4, 28, 28), dtype=np.float32)
    request = ModelRequest(tmp_path / "handwritten.h5", {"test": images}, ("test",), None, None)
    message = request.to_folder(tmp_path, 4096)
    read = ModelRequest.from_folder(json.loads(json.dumps(message)), tmp_path)
    assert read.path == tmp_path / "model.h5" and read.resave == ("test",)
    assert np.array_equal(read.inputs["test"], images) and read.save_as is None


def test_checks_written_against_the_old_hidden_module_still_load():
    """checks.py files written before hidden checks moved to autograder.hidden import them from
    autograder.instructor.hidden: the same objects."""
    import autograder.hidden
    from autograder.instructor.hidden import HiddenCheckFailed, hidden_check

    assert hidden_check is autograder.hidden.hidden_check
    assert HiddenCheckFailed is autograder.hidden.HiddenCheckFailed

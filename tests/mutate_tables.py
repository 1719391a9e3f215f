"""Mutation testing of a module's tables: what mutmut 3 leaves alone (it mutates function bodies).

Every module-level constant of the target (sets, tuples, lists, dicts, numbers, the character set of
``frozenset("...")``, regular expressions inside ``re2.compile(...)`` or in a dict named with
``--regex-dict``) yields mutants, one change each: an entry deleted, a number moved one step, a
regular-expression alternative deleted, a character-class member deleted, a repetition bound moved
by one. Each mutant is written into a scratch copy of ``harness/`` and the given tests run against
it (``pytest -x``); it survives when they pass. Nothing is printed but the table's own source text.

    python -m tests.mutate_tables harness/secrets.py --regex-dict _SHAPES --jobs 2 \\
        tests/test_secrets.py tests/test_secrets_strict.py tests/test_secrets_edges.py
"""

from __future__ import annotations

import argparse
import ast
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import re2

REPO = Path(__file__).resolve().parent.parent
LINKED = ("tests", "fixtures", "scenarios", "pyproject.toml")


@dataclass(frozen=True)
class Mutant:
    node: int  # index of the changed node in ast.walk order
    what: str  # how to change it: drop (an entry), step (a number), regex or text (a string)
    arg: object
    describe: str


def _regex_units(pattern: str) -> Iterator[tuple[str, int, int, str]]:
    """(kind, start, end, replacement) for each one-step change of ``pattern``: a deleted
    alternative, a deleted class member, a repetition bound one up or down."""
    stack: list[list[int]] = [[-1]]  # per open group: positions of its "|" separators (and its start)
    opens: list[int] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            j = i + 1 + (pattern[i + 1 : i + 2] == "^")
            members: list[tuple[int, int]] = []
            first = True
            while j < len(pattern) and (pattern[j] != "]" or first):
                k = j + (2 if pattern[j] == "\\" else 1)
                if pattern[k : k + 1] == "-" and pattern[k + 1 : k + 2] not in ("]", ""):
                    k += 2 if pattern[k + 1] != "\\" else 3
                members.append((j, k))
                j, first = k, False
            if len(members) > 1:
                for a, b in members:
                    yield "class member", a, b, ""
            i = j + 1
            continue
        if ch == "(":
            start = i + 1  # where the group's alternatives begin: after "(?:" / "(?i:", none in "(?i)"
            if pattern[i + 1 : i + 2] == "?":
                colon, close = pattern.find(":", i), pattern.find(")", i)
                start = colon + 1 if 0 <= colon < close else close
            stack.append([start - 1])
            opens.append(i)
        elif ch == "|":
            stack[-1].append(i)
        elif ch == ")" and opens:
            yield from _alternatives(stack.pop(), i)
            opens.pop()
        elif ch == "{" and (close := pattern.find("}", i)) > i:
            bounds = pattern[i + 1 : close].split(",")
            if bounds[0].isdigit() and all(b.isdigit() or b == "" for b in bounds[1:]):
                low, high = int(bounds[0]), bounds[1] if len(bounds) > 1 else None
                tail = "" if high is None else f",{high}"
                yield "bound up", i + 1, close, f"{low + 1}{tail}"
                if low > 0:
                    yield "bound down", i + 1, close, f"{low - 1}{tail}"
                if high:
                    yield "upper bound up", i + 1, close, f"{low},{int(high) + 1}"
                    if int(high) > low:
                        yield "upper bound down", i + 1, close, f"{low},{int(high) - 1}"
            i = close
        i += 1
    yield from _alternatives(stack.pop(), len(pattern))


def _alternatives(marks: list[int], end: int) -> Iterator[tuple[str, int, int, str]]:
    if len(marks) < 2:
        return
    cuts = [*marks, end]
    for n in range(len(cuts) - 1):
        start, stop = cuts[n] + 1, cuts[n + 1]
        # Drop the alternative with one neighbouring "|" (the following one, or the preceding one last).
        yield (
            ("alternative", start, stop + 1, "") if n < len(cuts) - 2 else ("alternative", cuts[n], stop, "")
        )


def _regex_nodes(tree: ast.Module, regex_dicts: set[str]) -> set[int]:
    """ids of the string constants that are regular expressions."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "compile":
            found |= {id(n) for arg in node.args for n in ast.walk(arg) if isinstance(n, ast.Constant)}
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        dict_value = isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict)
        if dict_value and any(isinstance(t, ast.Name) and t.id in regex_dicts for t in targets):
            found |= {id(n) for v in node.value.values for n in ast.walk(v) if isinstance(n, ast.Constant)}
    return found


def mutants(source: str, regex_dicts: set[str]) -> Iterator[Mutant]:
    tree = ast.parse(source)
    regexes = _regex_nodes(tree, regex_dicts)
    tables = set()
    for stmt in tree.body:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) else getattr(stmt, "target", None)
        assigned = isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None
        if assigned and isinstance(target, ast.Name) and target.id != "__all__":
            tables |= {id(n) for n in ast.walk(stmt.value)}
    for index, node in enumerate(ast.walk(tree)):
        if id(node) not in tables:
            continue
        where = f"line {node.lineno}" if hasattr(node, "lineno") else "?"
        if isinstance(node, ast.Tuple) and isinstance(node.ctx, ast.Store):
            continue  # a loop target, not a table
        if isinstance(node, ast.Set | ast.List | ast.Tuple | ast.Dict):
            items = node.keys if isinstance(node, ast.Dict) else node.elts
            for n, item in enumerate(items):
                if len(items) > 1 or not isinstance(node, ast.Set):
                    yield Mutant(index, "drop", n, f"{where}: delete {ast.unparse(item)[:60]}")  # type: ignore[arg-type]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
        ):
            for step in (1, -1):
                yield Mutant(
                    index, "step", step, f"{where}: {node.value} {'+' if step > 0 else '-'} one step"
                )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in regexes:
                for kind, a, b, new in _regex_units(node.value):
                    text = node.value[:a] + new + node.value[b:]
                    yield Mutant(
                        index, "regex", text, f"{where}: regex {kind} {node.value[a:b]!r} -> {new!r}"
                    )
            elif _charset_of(tree, node):
                for n, ch in enumerate(node.value):
                    yield Mutant(index, "text", node.value[:n] + node.value[n + 1 :], f"{where}: drop {ch!r}")


def _charset_of(tree: ast.Module, node: ast.Constant) -> bool:
    return any(
        isinstance(c, ast.Call) and getattr(c.func, "id", "") == "frozenset" and node in c.args
        for c in ast.walk(tree)
    )


def apply(source: str, mutant: Mutant) -> str | None:
    tree = ast.parse(source)
    node = list(ast.walk(tree))[mutant.node]
    if mutant.what == "drop":
        assert isinstance(mutant.arg, int)
        if isinstance(node, ast.Dict):
            del node.keys[mutant.arg], node.values[mutant.arg]
        else:
            del node.elts[mutant.arg]  # type: ignore[attr-defined]
    elif mutant.what == "step":
        assert isinstance(node, ast.Constant) and isinstance(mutant.arg, int)
        value = node.value
        node.value = (
            value + mutant.arg if isinstance(value, int) else round(value * (1 + mutant.arg / 100), 6)
        )
    else:
        assert isinstance(node, ast.Constant) and isinstance(mutant.arg, str)
        if mutant.what == "regex" and re2_invalid(mutant.arg):
            return None
        node.value = mutant.arg
    return ast.unparse(tree)


def re2_invalid(pattern: str) -> bool:
    try:
        re2.compile(pattern)
    except re2.error:
        return True
    return False


def _workspace() -> Path:
    work = Path(tempfile.mkdtemp(prefix="mutate-tables-"))
    shutil.copytree(REPO / "harness", work / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    for name in LINKED:
        if (REPO / name).exists():
            (work / name).symlink_to(REPO / name)
    return work


def _run(work: Path, tests: list[str], timeout: float) -> str:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout"
    return {0: "survived", 1: "killed"}.get(done.returncode, f"error {done.returncode}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", help="the module to mutate, relative to the repository (harness/...)")
    parser.add_argument("tests", nargs="+", help="test files or node ids to run per mutant")
    parser.add_argument("--regex-dict", action="append", default=[], help="a dict whose values are regexes")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--only", action="append", default=[], help="run only mutants whose line says this")
    args = parser.parse_args(argv)
    source = (REPO / args.module).read_text(encoding="utf-8")
    baseline = ast.unparse(ast.parse(source))
    seen, todo = {baseline}, []
    for mutant in mutants(source, set(args.regex_dict)):
        text = apply(source, mutant)
        wanted = not args.only or any(part in mutant.describe for part in args.only)
        if text is not None and text not in seen and wanted:
            seen.add(text)
            todo.append((mutant, text))
    if args.list:
        print("\n".join(m.describe for m, _ in todo))
        return 0
    workspaces: queue.Queue[Path] = queue.Queue()
    for _ in range(args.jobs):
        workspaces.put(_workspace())
    started = time.perf_counter()
    first = workspaces.get()
    if _run(first, args.tests, 3600) != "survived":
        print("the tests fail on the unmutated module", file=sys.stderr)
        return 2
    workspaces.put(first)
    timeout = 10 * (time.perf_counter() - started) + 30

    def one(item: tuple[Mutant, str]) -> tuple[Mutant, str]:
        work = workspaces.get()
        try:
            (work / args.module).write_text(item[1], encoding="utf-8")
            return item[0], _run(work, args.tests, timeout)
        finally:
            (work / args.module).write_text(source, encoding="utf-8")
            workspaces.put(work)

    results = Counter[str]()
    with ThreadPoolExecutor(args.jobs) as pool:
        for mutant, status in pool.map(one, todo):
            results[status] += 1
            if status != "killed":
                print(f"{status}: {mutant.describe}", flush=True)
    while not workspaces.empty():
        shutil.rmtree(workspaces.get(), ignore_errors=True)
    total = sum(results.values())
    print(
        f"{args.module}: {total} table mutants, " + ", ".join(f"{k} {v}" for k, v in sorted(results.items()))
    )
    print(f"score {100 * (results['killed'] + results['timeout']) / max(total, 1):.1f}% killed or timed out")
    return 0


if __name__ == "__main__":
    sys.exit(main())

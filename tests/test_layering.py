"""The package's imports point one way: core → geometry → reference → ops → data, models → evaluation → engine →
methods → cli (docs/ARCHITECTURE.md). Parses every module's imports (top-level *and* inside functions), so a
cycle cannot hide behind a function-local import. Run alone: ``pytest tests/test_layering.py``."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "posefast"

# Lowest first. A module may import modules of its own group or of a lower rank; groups that share a rank (data and
# models) are peers and import neither each other.
LAYERS: list[tuple[int, str, tuple[str, ...]]] = [
    (0, "core", ("posefast._C", "posefast._ext", "posefast.skeleton", "posefast.errors", "posefast.seeds")),
    (1, "geometry", ("posefast.geometry",)),
    (2, "reference", ("posefast.reference",)),  # the pure-torch twins, which the ops fall back to
    (3, "ops", ("posefast.ops",)),
    (4, "facade", ("posefast",)),  # the package's own __init__: re-exports the ops
    (5, "data", ("posefast.data",)),
    (5, "models", ("posefast.models",)),
    (6, "evaluation", ("posefast.evaluation",)),
    (7, "engine", ("posefast.engine",)),
    (8, "methods", ("posefast.methods",)),
    (9, "cli", ("posefast.cli", "posefast.train", "posefast.lift", "posefast.evaluate",
                "posefast.convert_checkpoint")),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    base = PACKAGE.parent.joinpath(*name.split("."))
    compiled = name == "posefast._C"  # the extension: in the tree after an in-place build, elsewhere after an install
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file() or compiled


def layer_of(module: str) -> tuple[int, str]:
    best = None
    for rank, group, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), rank, group)
    if best is None:
        raise AssertionError(f"{module}: in no layer of tests/test_layering.py; add it to LAYERS")
    return best[1], best[2]


def imports_of(path: Path):
    """``(line, target module, inside a function)`` for every import of a posefast module in ``path``."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            local = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            targets = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([child.module] if child.module else []))
                # ``from pkg import sub`` imports the submodule ``pkg.sub``; other names come from ``pkg``
                targets = [f"{base}.{a.name}" if is_module(f"{base}.{a.name}") else base for a in child.names]
            for target in targets:
                if target == "posefast" or target.startswith("posefast."):
                    found.append((child.lineno, target, local))
            visit(child, local)

    visit(tree, False)
    return found


def graph():
    edges = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        edges[module_name(path)] = (path, imports_of(path))
    return edges


def test_every_module_is_in_a_layer():
    for module in graph():
        layer_of(module)


def test_imports_point_down_the_layers():
    bad = []
    for module, (path, found) in graph().items():
        rank, group = layer_of(module)
        for line, target, _ in found:
            if target == "posefast" and module != "posefast":
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports the posefast facade; import from the "
                           "module that defines the name (e.g. posefast.ops)")
                continue
            t_rank, t_group = layer_of(target)
            if t_group != group and t_rank >= rank:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {group} imports {target} ({t_group}, "
                           f"{'a peer' if t_rank == rank else 'a higher layer'})")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_function_local_imports_of_posefast():
    """A function-local import of a posefast module is how a cycle hides; the layering needs none."""
    bad = [f"{path.relative_to(PACKAGE.parent)}:{line}: imports {target} inside a function"
           for module, (path, found) in graph().items() for line, target, local in found if local]
    assert not bad, "\n".join(bad)


def strongly_connected(edges: dict) -> list[list[str]]:
    """Tarjan's strongly connected components of ``{node: [successors]}`` with more than one node (or a self-loop)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def connect(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v), on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                out.append(sorted(component))

    for v in list(edges):
        if v not in index:
            connect(v)
    return out


def test_no_import_cycles():
    edges = {m: sorted({t for _, t, _ in found}) for m, (_, found) in graph().items()}
    cycles = strongly_connected(edges)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("edges, expected", [
    ({"a": ["b"], "b": ["c"], "c": []}, []),
    ({"a": ["b"], "b": ["a"], "c": ["a"]}, [["a", "b"]]),
    ({"a": ["a"]}, [["a"]]),
    ({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["d", "a"]}, [["a", "b", "c"], ["d"]]),
])
def test_the_cycle_finder_finds_cycles(edges, expected):
    assert sorted(strongly_connected(edges)) == expected


def test_the_scanner_sees_local_and_upward_imports(tmp_path, monkeypatch):
    """The checks above can fail: a function-local upward import in a data module is seen as both."""
    fake = tmp_path / "posefast"
    (fake / "data").mkdir(parents=True)
    (fake / "methods").mkdir()
    for init in (fake / "__init__.py", fake / "data" / "__init__.py", fake / "methods" / "__init__.py"):
        init.write_text("")
    (fake / "methods" / "run.py").write_text("X = 1\n")
    (fake / "data" / "loader.py").write_text("def f():\n    from posefast.methods import run\n    return run.X\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    found = imports_of(fake / "data" / "loader.py")
    assert found == [(2, "posefast.methods.run", True)]
    assert layer_of("posefast.data.loader")[0] < layer_of(found[0][1])[0]


def _fenced_block_under(text: str, heading: str) -> str:
    start = text.index(heading)
    opening = text.index("```", start)
    return text[opening: text.index("```", opening + 3)]


def test_layout_names_every_package_and_layer():
    """docs/ARCHITECTURE.md's layout block and its layer table name every first-level package and module of
    posefast and describe every layer; the README points to it."""
    architecture = (PACKAGE.parent / "docs" / "ARCHITECTURE.md").read_text()
    block = _fenced_block_under(architecture, "## Layout")
    table = architecture[: architecture.index("## Layout")]
    names = sorted(p.name + "/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    names += sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    for name in names:
        assert name in block, f"docs/ARCHITECTURE.md's Layout block does not name posefast/{name}"
        assert name.rstrip("/") in table, f"docs/ARCHITECTURE.md's layer table does not name posefast/{name}"
    for _, group, _ in LAYERS:
        assert group in table or group == "facade", f"docs/ARCHITECTURE.md does not describe the {group} layer"
    assert "docs/ARCHITECTURE.md" in (PACKAGE.parent / "README.md").read_text(), "README must link the architecture"


# -- one job runner -------------------------------------------------------------------------------------------------
RUNNER = "posefast.engine.jobs"  # the one module that runs comparison jobs (seeds × stages × variants)
POOL_MODULES = ("multiprocessing", "concurrent.futures", "torch.multiprocessing")
SUMMARY_NAMES = ("summary.md", "summary.json")


def runner_violations(path: Path, module: str) -> list[str]:
    """What in ``path`` only the job runner may do: create worker processes (import a process-pool module),
    name a summary file (the literal ``summary.md`` / ``summary.json``: whoever writes one is running a job),
    name a seed folder (an f-string ``f"seed{...}"``), or call the stage scheduler ``run_staged`` itself.
    Docstrings may mention all of it."""
    if module == RUNNER:
        return []
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    where = path.relative_to(path.parents[len(module.split(".")) - 1])  # posefast/...
    bad = []
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            if any(name == m or name.startswith(m + ".") for m in POOL_MODULES):
                bad.append(f"{where}:{node.lineno}: imports {name} (worker processes are the job runner's)")
        if isinstance(node, ast.Constant) and node.value in SUMMARY_NAMES and id(node) not in docstrings:
            bad.append(f"{where}:{node.lineno}: names {node.value} (summaries are written by the job runner)")
        if isinstance(node, ast.JoinedStr) and len(node.values) >= 2 and isinstance(node.values[0], ast.Constant) \
                and str(node.values[0].value).endswith("seed") and isinstance(node.values[1], ast.FormattedValue):
            bad.append(f"{where}:{node.lineno}: builds a seed folder name (use posefast.engine.jobs.seed_dir)")
        if isinstance(node, (ast.Name, ast.Attribute)) and (getattr(node, "id", None) == "run_staged"
                                                            or getattr(node, "attr", None) == "run_staged"):
            bad.append(f"{where}:{node.lineno}: calls run_staged (describe a Job and run it with run_job)")
        if isinstance(node, ast.alias) and node.name == "run_staged":
            bad.append(f"{where}: imports run_staged (describe a Job and run it with run_job)")
    return bad


def test_one_job_runner():
    """Every comparison job is a description run by posefast.engine.jobs; no second runner grows elsewhere."""
    bad = [v for path in sorted(PACKAGE.rglob("*.py")) for v in runner_violations(path, module_name(path))]
    assert not bad, "a second job runner:\n" + "\n".join(bad)


@pytest.mark.parametrize("source, expected", [
    ("from concurrent.futures import ProcessPoolExecutor\n", "imports concurrent.futures"),
    ("import multiprocessing as mp\n", "imports multiprocessing"),
    ("def f(out):\n    (out / 'summary.md').write_text('x')\n", "names summary.md"),
    ("SUMMARY = 'summary.json'\n", "names summary.json"),
    ("def d(out, s):\n    return out / f'seed{s}'\n", "builds a seed folder name"),
    ("from posefast.engine.jobs import run_staged\n", "imports run_staged"),
    ("from posefast.engine import jobs\nR = jobs.run_staged(1, 2, [0], [])\n", "calls run_staged"),
])
def test_the_runner_check_finds_a_second_runner(tmp_path, source, expected):
    """The check above can fail: a fake methods module that runs its own job is caught, and a docstring that only
    mentions summary.md is not."""
    fake = tmp_path / "posefast" / "methods"
    fake.mkdir(parents=True)
    path = fake / "my_job.py"
    path.write_text('"""Writes OUT/summary.md."""\n' + source)
    found = runner_violations(path, "posefast.methods.my_job")
    assert found and all(expected in f or "run_staged" in f for f in found), found
    assert any(expected in f for f in found)
    path.write_text('"""Writes OUT/summary.md in seed<S> folders."""\nX = 1\n')
    assert runner_violations(path, "posefast.methods.my_job") == []

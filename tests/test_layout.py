"""The architecture as the tree shows it: no import cycle, no workload special cases in shared code."""
import ast
import os
import re

from conftest import REPO

PACKAGE = "bigmodel_jax"
# Folders whose code every workload shares: none of it may name a workload.
SHARED = ("engine", "config", "data", "models")


def _modules() -> dict:
  """Dotted module name -> path, for every file of the package."""
  found = {}
  for folder, _, files in os.walk(os.path.join(REPO, PACKAGE)):
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(folder, name)
        dotted = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
        found[dotted.removesuffix(".__init__")] = path
  return found


def _imported(path: str, modules: dict) -> set:
  """Modules of the package that `path` imports anywhere (functions included), with the packages
  Python runs first to import them (their __init__)."""
  named = set()
  for node in ast.walk(ast.parse(open(path).read())):
    if isinstance(node, ast.Import):
      named.update(a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module:
      named.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                   for a in node.names)
  with_parents = {".".join(n.split(".")[:i]) for n in named for i in range(2, n.count(".") + 2)}
  return {m for m in with_parents if m in modules}


def import_graph() -> dict:
  modules = _modules()
  graph = {}
  for name, path in modules.items():
    # Importing a module runs its own parent packages first; those edges are not cycles.
    graph[name] = {m for m in _imported(path, modules) if m != name and not name.startswith(m + ".")}
  return graph


def find_cycle(graph: dict):
  """One import cycle as a list of modules, or None (depth-first search with colours)."""
  state, stack = {}, []

  def visit(node):
    state[node] = "open"
    stack.append(node)
    for nxt in sorted(graph[node]):
      if state.get(nxt) == "open":
        return stack[stack.index(nxt):] + [nxt]
      if nxt not in state:
        found = visit(nxt)
        if found:
          return found
    stack.pop()
    state[node] = "done"
    return None

  for node in sorted(graph):
    if node not in state:
      found = visit(node)
      if found:
        return found
  return None


def test_the_package_has_no_import_cycle():
  cycle = find_cycle(import_graph())
  assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
  assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
  assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_shared_code_imports_no_workload_and_names_none():
  graph, names = import_graph(), ("supervised", "gan", "vae", "lm", "rl", "kmeans")
  contract = {f"{PACKAGE}.workloads", f"{PACKAGE}.workloads.base"}   # The registry and the contract.
  for module, imports in graph.items():
    if module.count(".") and module.split(".")[1] in SHARED:
      assert not [m for m in imports if m.startswith(f"{PACKAGE}.workloads.") and m not in contract], module
  for folder in SHARED:
    for root, _, files in os.walk(os.path.join(REPO, PACKAGE, folder)):
      for name in files:
        text = open(os.path.join(root, name)).read() if name.endswith(".py") else ""
        assert not re.search(r"workload\s*[!=]=", text), f"{name} branches on a workload"
        for workload in names:
          assert f'== "{workload}"' not in text and f"== '{workload}'" not in text, (name, workload)


def test_the_launcher_defines_no_flag_of_one_workload():
  text = open(os.path.join(REPO, "launch", "main.py")).read()
  for flag in ("prompt", "num_tokens", "num_samples", "num_episodes", "input"):
    assert not re.search(rf"DEFINE_\w+\(\s*[\"']{flag}[\"']", text), flag


def test_the_package_root_holds_only_its_parts():
  entries = sorted(e for e in os.listdir(os.path.join(REPO, PACKAGE)) if not e.startswith("__pycache__"))
  assert entries == ["__init__.py", "config", "data", "engine", "errors.py", "models", "workloads"]

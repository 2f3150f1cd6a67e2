"""The package's layers import only downwards, and nothing imports the CLIs.

Every import in export/ (module level or inside functions) is read with
`ast`, so lazy imports count too.
"""

import ast
import os
import sys

import pytest

from tests.conftest import REPO

EXPORT = os.path.join(REPO, "export")
# Lowest first. A module may import its own package and packages of lower
# layers; packages of one layer do not import each other.
LAYERS = [
    ["export"],                   # __version__ only.
    ["export.core"],              # What was published; no TensorFlow.
    ["export.sources", "export.nets", "export.cards", "export.publishing"],
    ["export.formats", "export.destinations"],
    ["export.pipeline"],
    ["export.serving"],           # Serving and caching an output directory.
    ["export.cli"],
]
# The command lines: on top of everything, imported by nothing.
# Thin modules calling export.cli (cards and family: export.cli.cards and
# export.cli.family).
ENTRY_POINTS = {"export.one", "export.export_all",
                "export.synthetic_checkpoint", "export.family", "export.kaggle",
                "export.new_config", "export.verify", "export.serve",
                "export.cache",
                "export.cards.__main__"}


def _modules():
  """{dotted module name: file path} of every module under export/."""
  modules = {}
  for directory, dirs, files in os.walk(EXPORT):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(directory, name)
        dotted = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
        modules[dotted.removesuffix(".__init__")] = path
  return modules


def _imports(path, modules):
  """The export modules `path` imports (a `from p import m` of a module
  counts as importing m)."""
  with open(path, encoding="utf-8") as f:
    tree = ast.parse(f.read(), path)
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in
               modules else node.module for a in node.names]
    else:
      continue
    found.update(n for n in names if n == "export" or
                 n.startswith("export."))
  return found


def _package(module):
  """The layer package of a module (entry points: None)."""
  if module in ENTRY_POINTS:
    return None
  for layer in reversed(LAYERS):
    for package in layer:
      if module == package or module.startswith(package + "."):
        if package == "export" and module != "export":
          continue
        return package
  raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def _layer(package):
  return next(i for i, layer in enumerate(LAYERS) if package in layer)


def import_problems():
  modules = _modules()
  problems = []
  for module, path in sorted(modules.items()):
    package = _package(module)
    for imported in sorted(_imports(path, modules)):
      if imported in ENTRY_POINTS:
        problems.append(f"{module} imports the command line {imported}")
        continue
      if package is None:
        continue  # Entry points may import anything else.
      target = _package(imported)
      if target == package:
        continue
      if _layer(target) >= _layer(package):
        problems.append(f"{module} ({package}) imports {imported} "
                        f"({target}), which is not a lower layer")
  return problems


def import_cycles():
  modules = _modules()
  graph = {m: _imports(p, modules) & set(modules) for m, p in modules.items()}
  cycles, state = [], {}

  def visit(module, stack):
    state[module] = "open"
    stack.append(module)
    for imported in sorted(graph[module]):
      if state.get(imported) == "open":
        cycles.append(stack[stack.index(imported):] + [imported])
      elif imported not in state:
        visit(imported, stack)
    stack.pop()
    state[module] = "done"

  for module in sorted(graph):
    if module not in state:
      visit(module, [])
  # A package's __init__ importing its own modules is not a cycle of layers.
  return [c for c in cycles if len({_package(m) for m in c}) > 1 or
          not any(m == _package(m) for m in c)]


def test_layers_import_only_downwards():
  assert import_problems() == []


def test_no_import_cycles():
  assert import_cycles() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
  # A library module importing the CLI layer, as export.runner once did
  # through export.synthetic_checkpoint: reported, and so is the cycle.
  core = tmp_path / "export" / "core"
  core.mkdir(parents=True)
  (tmp_path / "export" / "__init__.py").write_text("")
  (core / "__init__.py").write_text("")
  (core / "a.py").write_text("def f():\n  from export.cli import b\n")
  cli = tmp_path / "export" / "cli"
  cli.mkdir()
  (cli / "__init__.py").write_text("")
  (cli / "b.py").write_text("from export.core import a\n")
  monkeypatch.setattr(sys.modules[__name__], "EXPORT", str(tmp_path / "export"))
  monkeypatch.setattr(sys.modules[__name__], "REPO", str(tmp_path))
  assert import_problems() == [
      "export.core.a (export.core) imports export.cli.b (export.cli), which "
      "is not a lower layer"]
  assert import_cycles() == [["export.cli.b", "export.core.a",
                              "export.cli.b"]]


@pytest.mark.parametrize("module", ["export.core.family",
                                    "export.sources.synthetic",
                                    "export.pipeline.runner"])
def test_library_modules_define_no_flags(module):
  # Importing a library module must not register command-line flags.
  import importlib
  from absl import flags
  before = set(flags.FLAGS)
  importlib.import_module(module)
  assert set(flags.FLAGS) == before


def test_subpackages_shadow_no_installed_package():
  # Bazel's Python launcher puts the script's directory, export/, first on
  # sys.path: a subpackage named like an installed top-level package (as
  # export/packaging once was, shadowing the `packaging` TensorFlow imports)
  # breaks every `bazel run` target.
  import importlib.util
  names = [n for n in os.listdir(EXPORT)
           if os.path.isfile(os.path.join(EXPORT, n, "__init__.py"))]
  assert "core" in names
  clashes = []
  for name in names:
    spec = importlib.util.find_spec(name)
    if spec is not None:
      clashes.append(f"{name}: {spec.origin}")
  assert clashes == []

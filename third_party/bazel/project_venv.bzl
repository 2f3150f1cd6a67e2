"""Makes the project virtualenv Bazel's Python toolchain.

The repository it creates holds a py_runtime running
`<workspace>/.venv/bin/python3` through a launcher, `legacy_python`, a launcher of the legacy
consumer venv (`.venv-legacy`) for the interop tests, and `lite_python`, one
of the TFLite support library's venv (`.venv-lite`), which writes Lite model
metadata, and `node`, Node with the TF.js runtime that scripts/setup.sh
installs into `<workspace>/node_modules` (which runfiles do not hold). The venvs are made by scripts/setup.sh; `local = True` re-evaluates this when Bazel restarts.
"""

# Launchers find the workspace through the `workspace` symlink beside them
# (resolving their own path), so their bytes, and with them every action's
# key, are the same in every clone: a remote cache serves one clone's
# exports to another.
_LAUNCHER = """#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
exec "$here/workspace/{target}" "$@"
"""

def _launcher(ctx, name, target):
    ctx.file(name, _LAUNCHER.format(target = target), executable = True)

def _project_venv_impl(ctx):
    root = ctx.path(Label("//:WORKSPACE")).dirname
    python = root.get_child(".venv").get_child("bin").get_child("python3")
    if not python.exists:
        fail("%s is missing: run scripts/setup.sh first" % python)
    ctx.symlink(root, "workspace")
    _launcher(ctx, "venv_python", ".venv/bin/python3")
    _launcher(ctx, "legacy_python", ".venv-legacy/bin/python")
    _launcher(ctx, "lite_python", ".venv-lite/bin/python")
    ctx.file("node", """#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
NODE_PATH="$here/workspace/node_modules" exec node "$@"
""", executable = True)
    ctx.file("BUILD", """
load("@bazel_tools//tools/python:toolchain.bzl", "py_runtime_pair")

py_runtime(
    name = "python3",
    # The launcher of the venv's Python, by its runfiles path (no absolute
    # path of this clone in any action's inputs).
    interpreter = "venv_python",
    # The stub only finds the runfiles and runs the interpreter: the
    # system's python3 (on the strict action PATH) does.
    stub_shebang = "#!/usr/bin/env python3",
    python_version = "PY3",
)



py_runtime_pair(
    name = "runtime_pair",
    py3_runtime = ":python3",
)

toolchain(
    name = "python_toolchain",
    toolchain = ":runtime_pair",
    toolchain_type = "@bazel_tools//tools/python:toolchain_type",
)

exports_files(["legacy_python", "lite_python", "node"], visibility = ["//visibility:public"])
""")

project_venv = repository_rule(
    implementation = _project_venv_impl,
    local = True,
)

"""Makes the project virtualenv Bazel's Python toolchain.

The repository it creates holds a py_runtime at the absolute path of
`<workspace>/.venv/bin/python3`, `legacy_python`, a launcher of the legacy
consumer venv (`.venv-legacy`) for the interop tests, and `lite_python`, one
of the TFLite support library's venv (`.venv-lite`), which writes Lite model
metadata, and `node`, Node with the TF.js runtime that scripts/setup.sh
installs into `<workspace>/node_modules` (which runfiles do not hold). The venvs are made by scripts/setup.sh; `local = True` re-evaluates this when Bazel restarts.
"""

def _project_venv_impl(ctx):
    root = ctx.path(Label("//:WORKSPACE")).dirname
    python = root.get_child(".venv").get_child("bin").get_child("python3")
    legacy = root.get_child(".venv-legacy").get_child("bin").get_child("python")
    lite = root.get_child(".venv-lite").get_child("bin").get_child("python")
    if not python.exists:
        fail("%s is missing: run scripts/setup.sh first" % python)
    ctx.file("legacy_python", "#!/bin/sh\nexec '%s' \"$@\"\n" % legacy, executable = True)
    ctx.file("lite_python", "#!/bin/sh\nexec '%s' \"$@\"\n" % lite, executable = True)
    node_modules = root.get_child("node_modules")
    ctx.file("node", "#!/bin/sh\nNODE_PATH='%s' exec node \"$@\"\n" % node_modules, executable = True)
    ctx.file("BUILD", """
load("@bazel_tools//tools/python:toolchain.bzl", "py_runtime_pair")

py_runtime(
    name = "python3",
    interpreter_path = "{python}",
    # The launcher stub runs on it too; the test PATH has no "python".
    stub_shebang = "#!{python}",
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
""".format(python = python))

project_venv = repository_rule(
    implementation = _project_venv_impl,
    local = True,
)

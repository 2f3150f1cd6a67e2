"""One Bazel target per variant config, whose output is its exported modules.

    load("//export:modules.bzl", "exported_modules")
    exported_modules(name = "v1_050_160", config = "v1_050_160.yaml")

`bazel build //configs:v1_050_160` runs `export.one` on the config and
yields the tree `bazel-bin/configs/v1_050_160/` holding every module
(`<handle>/`, `<handle>.tar.gz`) and `manifest.json`. The action's inputs are
the config and the exporter's sources, so Bazel's action cache (and a disk or
remote cache) rebuilds only the variants whose config or exporter changed.

Checkpoints: synthetic by default, so builds are offline and hermetic. With
`--define=checkpoints=published` the action downloads the published archive
instead (tagged requires-network; share a download cache between actions
with `--action_env=EXPORT_CACHE_DIR=/path`).
"""

def _exported_modules_impl(ctx):
    out = ctx.actions.declare_directory(ctx.label.name)
    # Synthetic checkpoints and worker logs: declared, so the action may write
    # them, but kept apart from the modules.
    work = ctx.actions.declare_directory(ctx.label.name + ".work")
    args = ctx.actions.args()
    args.add("--config", ctx.file.config)
    args.add("--output_dir", out.path)
    args.add("--jobs", "1")
    if ctx.attr.synthetic:
        args.add("--synthetic")
        args.add("--cache_dir", work.path)
    else:
        args.add("--require_hashes=false")
    ctx.actions.run(
        executable = ctx.executable._exporter,
        arguments = [args],
        inputs = [ctx.file.config],
        outputs = [out, work],
        mnemonic = "ExportModules",
        progress_message = "Exporting the modules of %s" % ctx.file.config.short_path,
        execution_requirements = {} if ctx.attr.synthetic else {"requires-network": "1"},
        use_default_shell_env = not ctx.attr.synthetic,
    )
    return [DefaultInfo(files = depset([out]))]

_exported_modules = rule(
    implementation = _exported_modules_impl,
    attrs = {
        "config": attr.label(allow_single_file = [".yaml"], mandatory = True),
        "synthetic": attr.bool(default = True),
        "_exporter": attr.label(
            default = "//export:one",
            executable = True,
            cfg = "exec",
        ),
    },
)

def exported_modules(name, config, **kwargs):
    _exported_modules(
        name = name,
        config = config,
        synthetic = select({
            "//export:published_checkpoints": False,
            "//conditions:default": True,
        }),
        **kwargs
    )

"""Exports the modules of one variant: checkpoint in, published modules out.

This is the library behind `export.one` and `export.export_all`; it never
exits the process. Config problems raise `config.ConfigError` before anything
is read or written; a checkpoint that cannot be had or does not fit, a failed
download and file system errors raise one of `EXPORT_ERRORS`, naming the
cause.
"""

import dataclasses
import os
import shutil
import tempfile

from export import architecture
from export import checkpoint as checkpoint_lib
from export import config as config_lib
from export import fetch
from export import publish
from export import signatures

FORMAT_NAMES = {config_lib.FORMAT_HUB: "TF1 Hub format",
                config_lib.FORMAT_SAVED_MODEL_2: "TF2 SavedModel"}


# What an export can fail with for reasons outside the program.
EXPORT_ERRORS = (checkpoint_lib.CheckpointError, fetch.FetchError, OSError)


@dataclasses.dataclass(frozen=True)
class Planned:
  module: config_lib.Module
  dest: str  # Directory the module is published to.


def module_layout(cfg, module):
  """{variable name: shape} that `module` holds."""
  return architecture.variable_layout(
      cfg.architecture, cfg.depth_multiplier,
      signatures.interface(module).num_classes, quantized=cfg.quantized)


def select(cfg, only=None):
  """The config's modules, or those whose handles are in `only`."""
  if not only:
    return list(cfg.modules)
  handles = {m.handle for m in cfg.modules}
  unknown = [h for h in only if h not in handles]
  if unknown:
    raise config_lib.ConfigError(
        cfg.path, "--only", unknown[0],
        f"handles of this config: {', '.join(sorted(handles))}")
  return [m for m in cfg.modules if m.handle in only]


def plan(cfg, output_dir, only=None):
  return [Planned(m, os.path.join(output_dir, m.handle))
          for m in select(cfg, only)]


def describe(cfg, module):
  """One line of what a module is, for --dry_run and logs."""
  size = (f"{cfg.input_size}x{cfg.input_size} "
          f"{'default, variable' if module.variable_input_size else 'fixed'}")
  if module.is_tf1_hub:
    iface = signatures.interface(module)
    tags = " ".join("{" + ", ".join(f'"{t}"' for t in sorted(s)) + "}"
                    for s in signatures.tf1_tag_sets(iface))
    sigs = ", ".join(signatures.tf1_signatures(iface))
    return (f"{FORMAT_NAMES[module.format]}; tags {tags}; signatures {sigs}; "
            f"input {size}")
  return f"{FORMAT_NAMES[module.format]}; input {size}"


def _writer(fmt):
  # Imported on use: TensorFlow loads only when something is really exported.
  if fmt == config_lib.FORMAT_HUB:
    from export import hub_v1_writer  # pylint: disable=g-import-not-at-top
    return hub_v1_writer
  from export import saved_model_writer  # pylint: disable=g-import-not-at-top
  return saved_model_writer


def resolve_checkpoint(cfg, checkpoint, cache_dir, require_hashes=False,
                       log=print):
  """Returns a checkpoint prefix for `cfg`.

  Args:
    checkpoint: `--checkpoint` (prefix, directory or .tgz), or None to fetch
      the config's published archive through the cache.
  """
  if checkpoint and not checkpoint.endswith((".tgz", ".tar.gz")):
    return checkpoint_lib.find_prefix(checkpoint)
  if checkpoint:
    if not os.path.isfile(checkpoint):
      raise checkpoint_lib.CheckpointError(f"{checkpoint}: no such archive")
    return _extracted(checkpoint, cfg.checkpoint.prefix, cache_dir)
  archive = fetch.fetch(cfg.checkpoint.url, cache_dir, cfg.checkpoint.sha256,
                        require_hash=require_hashes, log=log)
  try:
    return _extracted(archive, cfg.checkpoint.prefix, cache_dir)
  except checkpoint_lib.CheckpointError:
    fetch.evict(archive, cache_dir)  # Unusable: keep it out of the cache.
    raise


def _extracted(archive, prefix, cache_dir):
  """Extracts the checkpoint once per archive content, atomically."""
  dest = os.path.join(cache_dir, "checkpoints", fetch.sha256_of(archive))
  if not os.path.isfile(os.path.join(dest, prefix + ".index")):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".extract-", dir=os.path.dirname(dest))
    try:
      checkpoint_lib.extract_checkpoint(archive, prefix, tmp)
      if os.path.exists(dest):
        shutil.rmtree(dest)
      os.rename(tmp, dest)
    finally:
      shutil.rmtree(tmp, ignore_errors=True)
  return os.path.join(dest, prefix)


def identical_groups(modules):
  """Groups a config's `modules` that have the same files, in order.

  Returns:
    [[module, ...]]: modules with equal signatures.Interface, in the order
    of their first member. The first of a group is exported, the others are
    copies of it.
  """
  groups = {}
  for module in modules:
    groups.setdefault(signatures.interface(module), []).append(module)
  return list(groups.values())


def export_modules(cfg, prefix, planned, output_dir, log=print):
  """Writes each planned module from checkpoint `prefix`; returns their dirs.

  The checkpoint is checked against every planned module before the first is
  written, so a mismatched checkpoint writes nothing. Modules with the same
  files (see `identical_groups`) are written once and copied.
  """
  layouts = {p.module.handle: module_layout(cfg, p.module) for p in planned}
  needed = {}
  for layout in layouts.values():
    needed.update(layout)
  values = checkpoint_lib.read_values(prefix, needed)
  publish.remove_stale_staging(output_dir)
  written = {}
  for group in identical_groups([p.module for p in planned]):
    first = group[0]
    group_values = {name: values[name] for name in layouts[first.handle]}
    for module, dest in export_group(cfg, group, group_values, output_dir):
      written[module.handle] = dest
      log(f"exported {module.handle} -> {dest} " + (
          f"({FORMAT_NAMES[module.format]})" if module is first
          else f"(the files of {first.handle})"))
  return [written[p.module.handle] for p in planned]


def export_group(cfg, group, values, output_dir):
  """Writes the first of `group` (see `identical_groups`) from `values`, then
  copies it as the others; yields (module, its directory) as each is
  published."""
  first = group[0]
  yield first, _write(cfg, first, values, output_dir)
  for module in group[1:]:
    with publish.staged_directory(output_dir, module.handle) as staging:
      shutil.copytree(os.path.join(output_dir, first.handle), staging)
    yield module, os.path.join(output_dir, module.handle)


def export_module(cfg, module, prefix, output_dir):
  """Writes one module from checkpoint `prefix`; returns its directory."""
  values = checkpoint_lib.read_values(prefix, module_layout(cfg, module))
  return _write(cfg, module, values, output_dir)


def _write(cfg, module, values, output_dir):
  # Built aside and renamed into place: never a partial module.
  with publish.staged_directory(output_dir, module.handle) as staging:
    _writer(module.format).write(cfg, signatures.interface(module), values,
                                 staging)
  return os.path.join(output_dir, module.handle)

"""What to export of a config, and writing one group of identical modules.

`plan` lists a config's modules (or those named) with their destinations;
`export_group` writes the first module of a group with the same files and
copies it as the others, each published atomically. The runner
(`pipeline.runner`) is the one caller that exports: the CLIs, Bazel targets,
tests and benchmarks all go through it. Config problems raise
`config.ConfigError` before anything is read or written.
"""

import dataclasses
import os
import shutil

from export import formats
from export.core import architecture
from export.core import config as config_lib
from export.core import signatures
from export.publishing import publish
from export.sources import source

# What an export can fail with for reasons outside the program.
EXPORT_ERRORS = source.SOURCE_ERRORS


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
    return (f"{formats.NAMES[module.format]}; tags {tags}; signatures {sigs}; "
            f"input {size}")
  return f"{formats.NAMES[module.format]}; input {size}"


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


def _write(cfg, module, values, output_dir):
  # Built aside and renamed into place: never a partial module.
  with publish.staged_directory(output_dir, module.handle) as staging:
    formats.write(cfg, signatures.interface(module), values, staging)
  return os.path.join(output_dir, module.handle)

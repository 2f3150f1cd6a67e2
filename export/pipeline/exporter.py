"""What to export of a config, and writing one group of modules.

`plan` lists a config's modules (or those named) with their destinations;
`export_group` writes a group of modules from one built network (copying
those with the same files), each published atomically. The runner
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
from export.core import published
from export.core import signatures
from export.publishing import publish
from export.publishing import signing
from export.sources import source

# What an export can fail with for reasons outside the program.
EXPORT_ERRORS = source.SOURCE_ERRORS + (signing.SigningError,)


@dataclasses.dataclass(frozen=True)
class Planned:
  module: config_lib.Module
  dest: str  # Directory the module is published to.


def module_layout(cfg, module):
  """{variable name: shape} that `module` holds (a quantized ONNX model:
  what the Lite classifier it is converted from holds)."""
  iface = signatures.interface(module)
  if iface.network.format == published.FORMAT_LITE:
    iface = iface.network
  return architecture.variable_layout(
      cfg.architecture, cfg.depth_multiplier, iface.num_classes,
      quantized=cfg.quantized)


def group_layout(cfg, modules):
  """{variable name: shape} that any of `modules` holds: what to read of
  the checkpoint for a group of `network_groups`."""
  layout = {}
  for module in modules:
    layout.update(module_layout(cfg, module))
  return layout


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
  iface = signatures.interface(module)
  if module.is_lite:
    if iface.post_training_quantized:
      types = (f"uint8 (post-training quantized, calibrated on the images "
               f"in {cfg.calibration})")
    elif iface.quantized:
      scale, zero_point = published.LITE_QUANTIZED_INPUT
      types = f"uint8 (scale 1/{1 / scale:g}, zero point {zero_point})"
    else:
      types = "float32 in [-1, 1]"
    variant = ("with model metadata and labels" if iface.lite_metadata
               else "bare model")
    return (f"{formats.NAMES[module.format]} ({variant}); "
            f"input {types} [1, {cfg.input_size}, {cfg.input_size}, 3]")
  if module.is_onnx:
    outputs = "logits, feature_vector" if iface.num_classes else (
        "feature_vector")
    source = ""
    if iface.network.format == published.FORMAT_LITE:  # Converted from it.
      source = "uint8 QDQ of " + published.deployment_handle(
          module.parent, published.FORMAT_LITE, published.LITE_VARIANTS[0],
          published.ONNX_VERSION) + ", "
    return (f"{formats.NAMES[module.format]} ({source}opset "
            f"{published.ONNX_OPSET}); input {signatures.IMAGES_INPUT} "
            f"float32 NHWC in [0, 1], {size} -> {outputs}")
  if module.is_tfjs:
    height = cfg.input_size if not module.variable_input_size else -1
    return (f"{formats.NAMES[module.format]} of {module.parent} (signature "
            f"default); input {signatures.IMAGES_INPUT} float32 "
            f"[-1, {height}, {height}, 3] in [0, 1]")
  signature = (f"; signature {signatures.SERVING_SIGNATURE}"
               if iface.serving_signature else "")
  return f"{formats.NAMES[module.format]}{signature}; input {size}"


def network_groups(modules):
  """Groups a config's `modules` that are written from one network, in order.

  Returns:
    [[module, ...]]: modules with equal `signatures.Interface.network`
    (e.g. versions 4 and 5 of a TF2 module, a TF1 version's classification
    and feature vector modules, or MobileNet V2's versions 1 and 2, whose
    changelog is about their cards), in the order of their first member.
    `export_group` builds the network once for each.
  """
  groups = {}
  for module in modules:
    groups.setdefault(signatures.interface(module).network, []).append(module)
  return list(groups.values())


def graph_key(cfg, group):
  """`signatures.graph_key` of a `network_groups` group: equal for groups
  of other configs written from the same graph, else None."""
  return signatures.graph_key(cfg, signatures.interface(group[0]).network)


def export_group(cfg, group, values, output_dir, signer=None):
  """Writes the modules of `group` (see `network_groups`) from `values`
  (at least `group_layout`),
  building their network once; a module with the same Interface as one
  written before is a copy of it. Yields (module, its directory, the
  writer's report or None) as each is published (atomically): a writer
  reports what it measured, e.g. a post-training quantized Lite file's
  top-1 agreement with the float model."""
  write = formats.writer(cfg, signatures.interface(group[0]).network, values)
  written = {}  # Interface -> (directory of the module written, report).
  for module in group:
    iface = signatures.interface(module)
    with publish.staged_directory(output_dir, module.handle) as staging:
      if iface in written:
        shutil.copytree(written[iface][0], staging)
        report = written[iface][1]
      else:
        report = write(iface, staging)
      if signer:  # Signed as staged: published and packed with it.
        signer.sign(staging, module.format)
    written.setdefault(iface, (os.path.join(output_dir, module.handle),
                               report))
    yield module, os.path.join(output_dir, module.handle), report

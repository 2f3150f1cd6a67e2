r"""Writes a deterministic random checkpoint with a variant's published layout.

For tests and the offline demo: same variable names, shapes and dtypes as the
published checkpoint of the config's variant (plus `global_step`), values drawn
from a generator seeded by the config name and variable name, so the same
config always gives the same bytes of values. The weights are random: modules
exported from it compute nothing meaningful.

(`python -m export.synthetic_checkpoint` writes one from the command line.)
"""

import hashlib
import os

import numpy as np

from export.core import architecture


def _rng(seed_text):
  seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "big")
  return np.random.default_rng(seed)


def synthetic_value(config_name, name, shape):
  """A plausible random value: He-scaled kernels, BN stats near identity."""
  rng = _rng(f"{config_name}/{name}")
  leaf = name.rsplit("/", 1)[-1]
  if leaf == "moving_variance":
    value = rng.uniform(0.5, 1.5, shape)
  elif leaf == "gamma":
    value = rng.uniform(0.8, 1.2, shape)
  elif leaf in ("beta", "moving_mean", "biases"):
    value = rng.normal(0.0, 0.1, shape)
  else:  # Convolution kernels [h, w, in, out]; depthwise fan-in is h*w.
    fan_in = shape[0] * shape[1] * (1 if leaf == "depthwise_weights"
                                    else shape[2])
    value = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
  return value.astype(np.float32)


def synthetic_values(cfg):
  layout = architecture.variable_layout(cfg.architecture, cfg.depth_multiplier,
                                        quantized=cfg.quantized)
  values = {name: synthetic_value(cfg.name, name, shape)
            for name, shape in layout.items() if shape}
  if cfg.quantized:
    values.update(_quant_ranges(cfg, values))
  return {name: values[name] for name in layout}


def _quant_ranges(cfg, values):
  """Ranges as quantization-aware training records them: those of the folded
  weights, [0, 6] after ReLU6, and a symmetric range around the logits."""
  arch = architecture.get(cfg.architecture)
  ranges = {}
  for layer in architecture.layers(cfg.architecture, cfg.depth_multiplier):
    prefix = f"{arch.scope}/{layer.scope}"
    weights = values[architecture.kernel_name(cfg.architecture, layer)]
    if layer.batch_norm:
      bn = {p: values[f"{prefix}/BatchNorm/{p}"]
            for p in architecture.BATCH_NORM_PARAMS}
      multiplier = bn["gamma"] / np.sqrt(bn["moving_variance"] +
                                         arch.batch_norm_epsilon)
      weights = weights * (multiplier[:, None] if layer.op == "depthwise"
                           else multiplier)
    act = (0.0, 6.0) if layer.activation else (-8.0, 8.0)
    names = architecture.quant_range_names(cfg.architecture, layer)
    for name, (low, high) in (("weights_quant", (weights.min(), weights.max())),
                              ("act_quant", act)):
      min_name, max_name = names[name]
      ranges[min_name] = np.float32(low)
      ranges[max_name] = np.float32(high)
  return ranges


def write(cfg, output_prefix):
  """Writes the checkpoint; its files appear only when complete."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  values = synthetic_values(cfg)
  values["global_step"] = np.array(0, np.int64)
  names = sorted(values)
  directory = os.path.dirname(os.path.abspath(output_prefix))
  os.makedirs(directory, exist_ok=True)
  tmp_prefix = os.path.join(directory,
                            f".tmp-{os.getpid()}-{os.path.basename(output_prefix)}")
  with tf.device("/cpu:0"):
    tf.raw_ops.SaveV2(prefix=tmp_prefix, tensor_names=names,
                      shape_and_slices=[""] * len(names),
                      tensors=[values[n] for n in names])
  # The .index makes it a checkpoint, so it is renamed into place last.
  suffixes = [p[len(tmp_prefix):] for p in tf.io.gfile.glob(tmp_prefix + ".*")]
  for suffix in sorted(suffixes, key=lambda s: s == ".index"):
    os.replace(tmp_prefix + suffix, output_prefix + suffix)
  return output_prefix

r"""Writes a deterministic random checkpoint with a variant's published layout.

For tests and the offline demo: same variable names, shapes and dtypes as the
published checkpoint of the config's variant (plus `global_step`), values drawn
from a generator seeded by the config name and variable name, so the same
config always gives the same bytes of values. The weights are random: modules
exported from it compute nothing meaningful.

(`python -m export.synthetic_checkpoint` writes one from the command line.)
"""

import hashlib

import numpy as np

from export.core import architecture
from export.sources import checkpoint


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
                                        cfg.num_classes,
                                        quantized=cfg.quantized)
  values = {name: synthetic_value(cfg.name, name, shape)
            for name, shape in layout.items() if shape}
  _calm_bottlenecks(cfg, values)
  if cfg.quantized:
    values.update(_quant_ranges(cfg, values))
  return {name: values[name] for name in layout}


# Random inverted residual blocks make MobileNet V2 chaotic where trained
# ones are not: a one-step rounding difference in a bottleneck grows ~30x
# over 17 blocks (13 logit steps between the quantized Lite model and its
# fake-quant graph, measured), and so do float32 rounding differences
# between runtimes (TF.js against TF: 1.0e-5 of the output's magnitude),
# which would hide what the exports are tested for. Synthetic V2 checkpoints
# halve the bottlenecks' batch norm scale (3 logit steps then, as for V1).
BOTTLENECK_GAMMA_SCALE = 0.5


def _calm_bottlenecks(cfg, values):
  arch = architecture.get(cfg.architecture)
  for block in arch.blocks(cfg.depth_multiplier):
    if len(block.layers) > 1:  # An inverted residual block.
      name = f"{arch.scope}/{block.layers[-1].scope}/BatchNorm/gamma"
      values[name] = values[name] * np.float32(BOTTLENECK_GAMMA_SCALE)


def _quant_ranges(cfg, values):
  """Ranges as quantization-aware training records them: those of the folded
  weights, [0, 6] after ReLU6, and for the linear outputs (V2's bottlenecks,
  their residual sums, the logits) the range they take on a few images
  (`_linear_output_ranges`), so that the ranges fit the random weights as
  trained ranges fit trained ones."""
  arch = architecture.get(cfg.architecture)
  linear = _linear_output_ranges(cfg, values)
  ranges = {}
  for layer in architecture.layers(cfg.architecture, cfg.depth_multiplier,
                                   cfg.num_classes):
    weights = _folded(arch, layer, values)[0]
    act = (0.0, 6.0) if layer.activation else linear[layer.scope]
    names = architecture.quant_range_names(cfg.architecture, layer)
    for name, (low, high) in (("weights_quant", (weights.min(), weights.max())),
                              ("act_quant", act)):
      min_name, max_name = names[name]
      ranges[min_name] = np.float32(low)
      ranges[max_name] = np.float32(high)
  for block in arch.blocks(cfg.depth_multiplier):
    if block.residual:
      min_name, max_name = architecture.bypass_quant_range_names(
          cfg.architecture, block)
      low, high = linear[_block_key(block)]
      ranges[min_name], ranges[max_name] = np.float32(low), np.float32(high)
  return ranges


def _folded(arch, layer, values):
  """(kernel, bias) with batch norm folded in, as the quantized graph has
  them."""
  prefix = f"{arch.scope}/{layer.scope}"
  weights = values[f"{prefix}/{architecture.KERNEL_NAMES[layer.op]}"]
  if not layer.batch_norm:
    return weights, values[f"{prefix}/biases"]
  bn = {p: values[f"{prefix}/BatchNorm/{p}"]
        for p in architecture.BATCH_NORM_PARAMS}
  multiplier = bn["gamma"] / np.sqrt(bn["moving_variance"] +
                                     arch.batch_norm_epsilon)
  weights = weights * (multiplier[:, None] if layer.op == "depthwise"
                       else multiplier)
  return weights, bn["beta"] - bn["moving_mean"] * multiplier


def _block_key(block):
  return block.layers[-1].scope.rsplit("/", 1)[0] + "/add"


def _same_padded(x, kernel, stride):
  """x [n, h, w, c] padded as TensorFlow's "SAME" pads it."""
  def pads(size):
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2
  return np.pad(x, ((0, 0), pads(x.shape[1]), pads(x.shape[2]), (0, 0)))


def _apply(x, layer, weights, bias):
  kh, kw = layer.kernel_shape[:2]
  padded = _same_padded(x, kh, layer.stride)
  out_h, out_w = -(-x.shape[1] // layer.stride), -(-x.shape[2] // layer.stride)
  out = 0.0
  for i in range(kh):
    for j in range(kw):
      window = padded[:, i:i + layer.stride * out_h:layer.stride,
                      j:j + layer.stride * out_w:layer.stride]
      out = out + (window * weights[i, j, :, 0] if layer.op == "depthwise"
                   else window @ weights[i, j])
  out = out + bias
  return np.clip(out, 0.0, 6.0) if layer.activation else out


def _linear_output_ranges(cfg, values, images=2):
  """{layer scope or "<block>/add": (min, max)} of the outputs without
  ReLU6, from the float network (batch norm folded) on deterministic random
  images, widened to a multiple of 1/16 (so float noise cannot move them)."""
  arch = architecture.get(cfg.architecture)
  x = _rng(f"{cfg.name}/calibration").uniform(
      -1.0, 1.0, (images, cfg.input_size, cfg.input_size, 3))
  observed = {}
  for block in arch.blocks(cfg.depth_multiplier):
    block_input = x
    for layer in block.layers:
      x = _apply(x, layer, *_folded(arch, layer, values))
      if not layer.activation:
        observed[layer.scope] = x
    if block.residual:
      x = x + block_input
      observed[_block_key(block)] = x
  pooled = x.mean(axis=(1, 2), keepdims=True)
  head = architecture.logits_layer(x.shape[-1], cfg.num_classes)
  observed[head.scope] = _apply(pooled, head, *_folded(arch, head, values))
  return {key: (np.floor(min(v.min(), 0.0) * 16) / 16,
                np.ceil(max(v.max(), 0.0) * 16) / 16)
          for key, v in observed.items()}


def write(cfg, output_prefix):
  """Writes the checkpoint; its files appear only when complete."""
  values = synthetic_values(cfg)
  values["global_step"] = np.array(0, np.int64)
  return checkpoint.write_values(values, output_prefix)

"""Writes ONNX models, for ONNX Runtime (CPU, web, mobile).

Built with the `onnx` package's own graph API (no converter): tf2onnx, the
usual path, supports neither this TensorFlow nor Keras 3 (tests/testdata/
onnx/README.md). Every model takes what the other formats here take, images
float32 [batch, height, width, 3] (NHWC, RGB) in [0, 1], with a dynamic
batch (and dynamic height and width where the version 5 SavedModel takes
other sizes), and outputs what the version 5 SavedModel's `default` does:
classification models `logits` [batch, classes] (then also
`feature_vector`), feature vector models `feature_vector` [batch, depth].

* Float models (`writer`) walk `core.architecture`'s layer tables as the
  Slim builder does (`nets.mobilenet`), from the same checkpoint values: the
  input scaled to the config's `input_range` (the same Mul and Sub as
  `nets.common.scale_images`), transposed to NCHW; each layer a Conv
  (depthwise: grouped, one group per channel) with TensorFlow's "SAME"
  padding (`auto_pad` SAME_UPPER: the odd pixel at the end, as TensorFlow
  pads) and batch norm folded into its weights and bias, ReLU6 as Clip;
  V2's residual Adds; the head's pool as the SavedModel pools (V1: a mean,
  V2: an AveragePool over the whole map at its fixed size).
* Quantized models (`converter`) are converted from the module's quantized
  Lite file (`formats.CONVERTED_FROM`), so they compute what it computes:
  every quantization parameter, uint8 weight and int32 bias is the Lite
  file's, and each of its ops becomes the float op between
  DequantizeLinear and QuantizeLinear (QDQ, uint8 throughout; a post-
  training quantized file's int8 tensors are shifted to the same grid in
  uint8), which ONNX Runtime fuses into its integer kernels.

A model's bytes are a function of its inputs (`onnx_graph`): fixed names,
producer and initializer order, metadata sorted, no time stamps. Its
`metadata_props` say what it takes and is (`onnx_graph.metadata`); a
classification model's labels are written beside it (`labels.txt`).
"""

import os
import tempfile

import numpy as np

from export.core import architecture
from export.core import published
from export.formats import network
from export.formats import onnx_graph
from export.formats import onnx_lite

MODEL_FILE = onnx_graph.MODEL_FILE


# --- Float models, from the checkpoint values --------------------------------


def folded(architecture_name, layer, values):
  """(kernel, bias) of `layer` with batch norm folded in with its moving
  statistics (inference), float32, in TensorFlow's layout.

  Folded rather than BatchNormalization ops: ONNX Runtime folds those into
  the Conv anyway ("Conv BatchNorm Fusion"), so it computes the same; the
  file is smaller and is what runs.
  """
  arch = architecture.get(architecture_name)
  prefix = f"{arch.scope}/{layer.scope}"
  kernel = values[architecture.kernel_name(architecture_name, layer)]
  if not layer.batch_norm:
    return kernel, values[f"{prefix}/biases"]
  bn = {p: values[f"{prefix}/BatchNorm/{p}"]
        for p in architecture.BATCH_NORM_PARAMS}
  multiplier = bn["gamma"] / np.sqrt(
      bn["moving_variance"] + np.float32(arch.batch_norm_epsilon))
  # A depthwise kernel is [h, w, in, 1]: its channels are the inputs.
  kernel = kernel * (multiplier[:, None] if layer.op == "depthwise"
                     else multiplier)
  bias = bn["beta"] - bn["moving_mean"] * multiplier
  return kernel.astype(np.float32), bias.astype(np.float32)


def onnx_kernel(layer, kernel):
  """A TensorFlow kernel [h, w, in, out] (depthwise: [h, w, channels, 1])
  as ONNX's Conv takes it: [out, in / group, h, w]."""
  perm = (2, 3, 0, 1) if layer.op == "depthwise" else (3, 2, 0, 1)
  return np.ascontiguousarray(kernel.transpose(perm))


def _float_layer(graph, x, cfg, layer, values):
  kernel, bias = folded(cfg.architecture, layer, values)
  out = graph.conv(
      x, graph.constant(f"{layer.scope}/kernel", onnx_kernel(layer, kernel)),
      graph.constant(f"{layer.scope}/bias", bias), f"{layer.scope}/Conv",
      layer.kernel_shape[:2], layer.stride,
      layer.depth if layer.op == "depthwise" else 1)
  return graph.activation(out, layer.activation, f"{layer.scope}/Relu6")


class _Reads(dict):
  """Checkpoint values that remember which were read."""

  def __init__(self, values):
    super().__init__(values)
    self.read = {}

  def __getitem__(self, name):
    value = super().__getitem__(name)
    self.read[name] = tuple(value.shape)
    return value


def feature_map_size(cfg, size):
  """The last feature map's height (or width) for an input of `size`:
  each stride s makes it ceil(size / s) ("SAME")."""
  for layer in architecture.layers(cfg.architecture, cfg.depth_multiplier,
                                   None):
    size = -(-size // layer.stride)
  return size


def _pool(graph, x, cfg, fixed_size):
  """The head's global pool as the SavedModel pools (nets.common): V1 a
  mean; V2 an AveragePool whose window is the whole map where its size is
  fixed, else a mean."""
  pool = architecture.get(cfg.architecture).pool
  if pool == architecture.AVG_POOL and fixed_size:
    side = feature_map_size(cfg, fixed_size)
    return graph.op("AveragePool", [x], "Logits/AvgPool",
                    kernel_shape=[side, side], strides=[1, 1],
                    pads=[0, 0, 0, 0])
  return graph.op("ReduceMean", [x], "Logits/global_pool", axes=[2, 3],
                  keepdims=1)


def float_model(cfg, iface, values):
  """The float ModelProto of `iface` from checkpoint `values`."""
  size = None if iface.variable_input_size else cfg.input_size
  values = _Reads(values)
  graph = onnx_graph.Graph()
  net = onnx_graph.scaled_input(graph, *cfg.input_range)
  arch = architecture.get(cfg.architecture)
  for block in arch.blocks(cfg.depth_multiplier):
    block_input = net
    for layer in block.layers:
      net = _float_layer(graph, net, cfg, layer, values)
    if block.residual:
      net = graph.op("Add", [net, block_input],
                     f"{architecture.block_scope(block)}/add")
  pooled = _pool(graph, net, cfg, size)
  depth = architecture.num_features(cfg.architecture, cfg.depth_multiplier)
  outputs = []
  if iface.num_classes:
    head = architecture.logits_layer(depth, iface.num_classes)
    logits = _float_layer(graph, pooled, cfg, head, values)
    graph.op("Flatten", [logits], "Logits/SpatialSqueeze",
             output=onnx_graph.LOGITS, axis=1)
    outputs.append(onnx_graph.output(onnx_graph.LOGITS, iface.num_classes))
  graph.op("Flatten", [pooled], "feature_vector/SpatialSqueeze",
           output=onnx_graph.FEATURES, axis=1)
  outputs.append(onnx_graph.output(onnx_graph.FEATURES, depth))
  network.check_variables(values.read,
                          {n: tuple(v.shape) for n, v in values.items()})
  return graph.model(f"{cfg.model_name}_{iface.kind}",
                     [onnx_graph.image_input(size or onnx_graph.HEIGHT,
                                             size or onnx_graph.WIDTH)],
                     outputs, onnx_graph.metadata(cfg, iface))


def writer(cfg, network_iface, values):
  """Returns `write(iface, export_dir)` writing the float ONNX model of a
  module with `network_iface` (format onnx) from checkpoint `values`."""
  if network_iface.quantized or network_iface.post_training_quantized:
    raise ValueError("quantized ONNX models are converted from their Lite "
                     f"file (formats.CONVERTED_FROM), not written from "
                     f"values: {network_iface}")

  def write(iface, export_dir):
    onnx_graph.save(float_model(cfg, iface, values), iface, cfg,
                    export_dir)
  return write


# --- Quantized models, from the quantized Lite file ---------------------------


def converter(cfg, lite_writer):
  """Returns `write(iface, export_dir)` for the quantized ONNX models of
  the modules whose Lite file `lite_writer` writes."""
  models = {}  # Lite interface -> its flatbuffer.

  def write(iface, export_dir):
    if not (iface.quantized or iface.post_training_quantized):
      raise ValueError(f"only quantized ONNX models are converted from a "
                       f"Lite file: {iface}")
    # The config's quantized Lite classifier (bare): the Interface of the
    # network this module is written with (`Interface.network`).
    source = iface.network
    if source not in models:
      with tempfile.TemporaryDirectory() as tmp:
        lite_dir = os.path.join(tmp, "lite")
        lite_writer(source, lite_dir)
        with open(os.path.join(lite_dir, published.LITE_MODEL_FILE),
                  "rb") as f:
          models[source] = f.read()
    model = onnx_lite.qdq_model(cfg, iface, models[source])
    onnx_graph.save(model, iface, cfg, export_dir)
  return write

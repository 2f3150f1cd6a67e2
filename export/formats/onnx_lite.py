"""Quantized ONNX models converted from quantized TensorFlow Lite files.

The Lite file is the reference: a quantization-aware config's is converted
from its fake-quant graph (every range from the checkpoint), a model of
one's own with `quantization: post_training` is calibrated on its images.
`qdq_model` reads the flatbuffer (TensorFlow's `flatbuffer_utils`) and
rebuilds each op of it as ONNX's QDQ form: the float op on
DequantizeLinear'd inputs (weights and int32 biases as the Lite file holds
them), followed by QuantizeLinear/DequantizeLinear with the scale and zero
point of the Lite op's output. A fused ReLU6 becomes a Clip before the
QuantizeLinear (LiteRT clamps the requantized value to the same bounds).
ONNX Runtime fuses these groups into its integer kernels (QLinearConv,
...); where it does not, it computes the same in float.

Activations are uint8, as in QAT files; a post-training quantized file's
int8 tensors (and weights) are moved to uint8 with the zero point plus 128,
the same grid. The conversion checks that the file's convolutions are the
network's (kernel shapes and strides of `core.architecture`'s tables, in
order) and refuses ops it does not know.
"""

import numpy as np

from export.core import architecture
from export.core import published
from export.formats import onnx_graph

# TensorFlow Lite's enums (tensorflow/lite/schema/schema.fbs).
_INT32, _UINT8, _INT8 = 2, 3, 9
_SAME, _VALID = 0, 1
# Fused activations: NONE, RELU6 (MobileNets have no other).
_ACTIVATIONS = {0: None, 3: architecture.RELU6}
_PADDING = {_SAME: onnx_graph.SAME, _VALID: "VALID"}
# What Lite ops become: the ops of the network, the ops that end it.
_CONVS = ("CONV_2D", "DEPTHWISE_CONV_2D")
_POOLS = ("MEAN", "AVERAGE_POOL_2D")
_SOFTMAX = "SOFTMAX"


class LiteFile:
  """A Lite flatbuffer's one subgraph: its ops in order ([(name, op)]),
  tensors and constant buffers."""

  def __init__(self, model_bytes):
    # TensorFlow's reader of its schema: a private module, but the one
    # that ships with the converter that writes these files.
    from tensorflow.lite.tools import flatbuffer_utils  # pylint: disable=g-import-not-at-top
    self.model = flatbuffer_utils.read_model_from_bytearray(
        bytearray(model_bytes))
    if len(self.model.subgraphs) != 1:
      raise ValueError(f"expected a Lite file with one subgraph, got "
                       f"{len(self.model.subgraphs)}")
    self.graph = self.model.subgraphs[0]
    self.ops = [(flatbuffer_utils.opcode_to_name(self.model, op.opcodeIndex),
                 op) for op in self.graph.operators]

  def tensor(self, index):
    return self.graph.tensors[index]

  def name(self, index):
    return self.tensor(index).name.decode()

  def shape(self, index):
    return tuple(int(d) for d in self.tensor(index).shape)

  def constant(self, index):
    """The data of a constant tensor (None if not constant)."""
    tensor = self.tensor(index)
    data = self.model.buffers[tensor.buffer].data
    if data is None or len(data) == 0:
      return None
    dtype = {_INT32: np.int32, _UINT8: np.uint8, _INT8: np.int8}[tensor.type]
    return np.frombuffer(bytes(np.asarray(data, np.uint8)), dtype).reshape(
        self.shape(index))

  def quantization(self, index):
    """(scale [n], zero point [n], axis) of a quantized tensor, in uint8 for
    activations and weights (int8 moved by 128); int32 stays."""
    tensor = self.tensor(index)
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
      raise ValueError(f"Lite tensor {self.name(index)} is not quantized")
    scale = np.asarray(q.scale, np.float32)
    zero_point = np.asarray(q.zeroPoint, np.int64)
    if tensor.type == _INT8:
      zero_point = zero_point + 128
    elif tensor.type not in (_UINT8, _INT32):
      raise ValueError(f"Lite tensor {self.name(index)} has type "
                       f"{tensor.type}, not uint8, int8 or int32")
    return scale, zero_point, q.quantizedDimension


def _as_uint8(data):
  if data.dtype == np.int8:
    return (data.astype(np.int16) + 128).astype(np.uint8)
  return data


class _Converter:
  """Builds the QDQ graph of a LiteFile, op by op."""

  def __init__(self, lite):
    self.lite = lite
    self.graph = onnx_graph.Graph()
    self.values = {}  # Lite tensor index -> ONNX name of its float value.
    self.grids = {}   # Lite tensor index -> (scale, uint8 zero point).

  def requantize(self, x, index, name):
    """`x` rounded to tensor `index`'s grid (QuantizeLinear then
    DequantizeLinear), as the Lite op writing that tensor rounds."""
    scale, zero_point, _ = self.lite.quantization(index)
    if scale.size != 1:
      raise ValueError(f"Lite activation {self.lite.name(index)} is "
                       "quantized per channel")
    grid = (float(scale[0]), int(zero_point[0]))
    self.grids[index] = grid
    s = self.graph.constant(f"{name}/scale", np.float32(grid[0]))
    z = self.graph.constant(f"{name}/zero_point", np.uint8(grid[1]))
    q = self.graph.op("QuantizeLinear", [x, s, z], f"{name}/quantize")
    self.values[index] = self.graph.op("DequantizeLinear", [q, s, z],
                                       f"{name}/dequantize")
    return self.values[index]

  def weights(self, index, perm, name):
    """A constant quantized tensor as DequantizeLinear of its Lite data
    transposed by `perm` (per-channel parameters on ONNX's axis 0)."""
    data = np.ascontiguousarray(self.lite.constant(index).transpose(perm))
    scale, zero_point, axis = self.lite.quantization(index)
    if data.dtype == np.int32:
      zero_point = zero_point.astype(np.int32)
    else:
      data, zero_point = _as_uint8(data), zero_point.astype(np.uint8)
    attributes = {}
    if scale.size > 1:
      if list(perm).index(axis) != 0:
        raise ValueError(f"Lite tensor {self.lite.name(index)} is quantized "
                         f"along axis {axis}, not its output channels")
      attributes["axis"] = 0
    else:
      scale, zero_point = scale[0], zero_point[0]
    return self.graph.op(
        "DequantizeLinear",
        [self.graph.constant(f"{name}/quantized", data),
         self.graph.constant(f"{name}/scale", scale),
         self.graph.constant(f"{name}/zero_point", zero_point)],
        f"{name}/dequantize", **attributes)

  def activation(self, x, options, name):
    if options.fusedActivationFunction not in _ACTIVATIONS:
      raise ValueError(f"Lite op {name} has fused activation "
                       f"{options.fusedActivationFunction}, not ReLU6")
    return self.graph.activation(
        x, _ACTIVATIONS[options.fusedActivationFunction], f"{name}/Relu6")

  def conv(self, op_name, op, name):
    options = op.builtinOptions
    if (options.dilationHFactor, options.dilationWFactor) != (1, 1) or (
        options.strideH != options.strideW):
      raise ValueError(f"Lite op {name}: dilated or anisotropic convolution")
    x, kernel, bias = op.inputs
    depthwise = op_name == "DEPTHWISE_CONV_2D"
    if depthwise and options.depthMultiplier != 1:
      raise ValueError(f"Lite op {name}: depth multiplier "
                       f"{options.depthMultiplier}")
    # Lite kernels: [out, h, w, in]; depthwise [1, h, w, channels].
    shape = self.lite.shape(kernel)
    perm = (3, 0, 1, 2) if depthwise else (0, 3, 1, 2)
    out = self.graph.conv(
        self.values[x], self.weights(kernel, perm, f"{name}/kernel"),
        self.weights(bias, (0,), f"{name}/bias"), f"{name}/Conv",
        shape[1:3], options.strideH, shape[3] if depthwise else 1,
        _PADDING[options.padding])
    return self.activation(out, options, name)

  def add(self, op, name):
    """V2's residual add of two activations."""
    if any(self.lite.constant(i) is not None for i in op.inputs):
      raise ValueError(f"Lite op {name}: ADD of a constant")
    out = self.graph.op("Add", [self.values[i] for i in op.inputs], name)
    return self.activation(out, op.builtinOptions, name)

  def global_pool(self, x, name):
    """The mean over the whole (fixed) feature map of Lite tensor `x`, as
    the AveragePool of that window: ONNX Runtime runs it as an integer
    kernel (QLinearAveragePool; it has none for ReduceMean)."""
    height, width = self.lite.shape(x)[1:3]
    return self.graph.op("AveragePool", [self.values[x]], name,
                         kernel_shape=[height, width], strides=[1, 1],
                         pads=[0, 0, 0, 0])

  def mean(self, op, name):
    """V1's head: a MEAN over height and width."""
    x, axes = op.inputs
    if (sorted(int(a) for a in self.lite.constant(axes)) != [1, 2] or
        not op.builtinOptions.keepDims):
      raise ValueError(f"Lite op {name}: MEAN other than the global pool")
    return self.global_pool(x, name)

  def average_pool(self, op, name):
    """V2's head: an AVERAGE_POOL_2D whose window is the whole map."""
    options = op.builtinOptions
    x = op.inputs[0]
    if ((options.filterHeight, options.filterWidth) !=
        self.lite.shape(x)[1:3] or options.padding != _VALID):
      raise ValueError(f"Lite op {name}: AVERAGE_POOL_2D other than the "
                       "global pool")
    return self.activation(self.global_pool(x, name), options, name)

  def squeeze(self, op, name):
    """A RESHAPE of [1, 1, 1, C] to [1, C]: NCHW's Flatten."""
    x, out = op.inputs[0], op.outputs[0]
    before, after = self.lite.shape(x), self.lite.shape(out)
    if len(before) != 4 or before[1:3] != (1, 1) or after != (before[0],
                                                              before[3]):
      raise ValueError(f"Lite op {name}: reshape of {before} to {after}")
    return self.graph.op("Flatten", [self.values[x]], name, axis=1)

  def apply(self, op_name, op, name):
    """Adds the ONNX ops of one Lite op; returns its output's ONNX value."""
    out = op.outputs[0]
    if op_name in _CONVS:
      return self.requantize(self.conv(op_name, op, name), out, name)
    if op_name == "ADD":
      return self.requantize(self.add(op, name), out, name)
    if op_name == "MEAN":
      return self.requantize(self.mean(op, name), out, name)
    if op_name == "AVERAGE_POOL_2D":
      return self.requantize(self.average_pool(op, name), out, name)
    if op_name == "RESHAPE":
      self.values[out] = self.squeeze(op, name)
      self.grids[out] = self.grids[op.inputs[0]]
      return self.values[out]
    if op_name == "QUANTIZE":  # A requantization (uint8 <-> int8).
      x = op.inputs[0]
      scale, zero_point, _ = self.lite.quantization(out)
      if self.grids[x] == (float(scale[0]), int(zero_point[0])):
        self.values[out], self.grids[out] = self.values[x], self.grids[x]
        return self.values[out]  # The same grid: nothing to do.
      return self.requantize(self.values[x], out, name)
    raise ValueError(f"Lite op {op_name} ({self.lite.name(out)}) has no "
                     "ONNX conversion here")


def check_network(cfg, lite):
  """Raises unless the Lite file's convolutions are the network's layers
  (kernel shapes and strides in table order) with one global pool."""
  want = [(layer.kernel_shape, layer.stride)
          for layer in architecture.layers(cfg.architecture,
                                           cfg.depth_multiplier,
                                           cfg.num_classes)]
  have = []
  for op_name, op in lite.ops:
    if op_name in _CONVS:
      shape = lite.shape(op.inputs[1])
      kernel = ((shape[1], shape[2], shape[3], 1) if op_name ==
                "DEPTHWISE_CONV_2D" else (shape[1], shape[2], shape[3],
                                          shape[0]))
      have.append((kernel, op.builtinOptions.strideH))
  if have != want:
    raise ValueError(f"the Lite file's convolutions are not those of "
                     f"{cfg.architecture} {cfg.depth_multiplier:g} with "
                     f"{cfg.num_classes} classes")
  pools = [n for n, _ in lite.ops if n in _POOLS]
  softmaxes = [n for n, _ in lite.ops if n == _SOFTMAX]
  if len(pools) != 1 or len(softmaxes) != 1:
    raise ValueError(f"expected one global pool and one softmax in the Lite "
                     f"file, got {pools + softmaxes}")


def qdq_model(cfg, iface, model_bytes):
  """The QDQ ModelProto of quantized module `iface` from its Lite file."""
  lite = LiteFile(model_bytes)
  check_network(cfg, lite)
  converter = _Converter(lite)
  graph = converter.graph
  # The Lite file's input is the image normalised as published (mean and
  # std 127.5: [0, 1] -> [-1, 1]), quantized.
  low = -published.LITE_INPUT_MEAN / published.LITE_INPUT_STD
  high = (255 - published.LITE_INPUT_MEAN) / published.LITE_INPUT_STD
  (image,) = lite.graph.inputs
  converter.requantize(onnx_graph.scaled_input(graph, low, high), image,
                       "input_quant")
  layers = iter(architecture.layers(cfg.architecture, cfg.depth_multiplier,
                                    cfg.num_classes))
  features = logits = None
  for i, (op_name, op) in enumerate(lite.ops):
    if op_name == _SOFTMAX:
      logits = converter.values[op.inputs[0]]
      break
    name = (next(layers).scope if op_name in _CONVS
            else f"lite_{i}_{op_name.lower()}")
    out = converter.apply(op_name, op, name)
    if op_name in _POOLS:
      features = out
      if not iface.num_classes:
        break
  outputs = []
  depth = architecture.num_features(cfg.architecture, cfg.depth_multiplier)
  if iface.num_classes:
    graph.op("Identity", [logits], "Logits/output", output=onnx_graph.LOGITS)
    outputs.append(onnx_graph.output(onnx_graph.LOGITS, iface.num_classes))
  graph.op("Flatten", [features], "feature_vector/SpatialSqueeze",
           output=onnx_graph.FEATURES, axis=1)
  outputs.append(onnx_graph.output(onnx_graph.FEATURES, depth))
  scale, zero_point = converter.grids[image]
  metadata = onnx_graph.metadata(cfg, iface)
  metadata["input_quantization"] = (f"after the scaling, uint8 with scale "
                                    f"{scale!r} and zero point {zero_point}")
  size = cfg.input_size
  return graph.model(f"{cfg.model_name}_{iface.kind}_quantized",
                     [onnx_graph.image_input(size, size)], outputs, metadata)

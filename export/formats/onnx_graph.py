"""What the ONNX models share: a graph builder, the image input, the
outputs, the metadata and writing a model (export/formats/onnx.py writes
float models, onnx_lite.py converts quantized Lite files).

A model's bytes are a function of its inputs: fixed names, producer and
initializer order, metadata sorted, no time stamps.
"""

import os
import shutil

import numpy as np
import onnx
from onnx import helper
from onnx import numpy_helper

from export import __version__
from export.core import architecture
from export.core import config as config_lib
from export.core import published
from export.formats import lite

MODEL_FILE = published.ONNX_MODEL_FILE
LABELS_FILE = published.ONNX_LABELS_FILE
# IR version 8 is opset 17's own (onnx's VERSION_TABLE), so runtimes that
# know opset 17 load the file.
OPSET = published.ONNX_OPSET
IR_VERSION = 8
PRODUCER = "tfhub-mobilenet-export"
INPUT = "images"
LOGITS = "logits"
FEATURES = "feature_vector"
# Symbolic dimensions.
BATCH, HEIGHT, WIDTH = "batch", "height", "width"
# TensorFlow's "SAME": output size ceil(input / stride), the odd padding
# pixel after the input; ONNX's SAME_UPPER is that (README of testdata).
SAME = "SAME_UPPER"
NHWC_TO_NCHW = [0, 3, 1, 2]


class Graph:
  """Nodes and initializers in creation order, under the names given (each
  name is used once: the graph's bytes do not depend on counters)."""

  def __init__(self):
    self.nodes, self.initializers, self._names = [], [], set()

  def _name(self, name):
    if name in self._names:
      raise ValueError(f"ONNX graph name {name} used twice")
    self._names.add(name)
    return name

  def constant(self, name, value):
    self.initializers.append(numpy_helper.from_array(np.asarray(value),
                                                     self._name(name)))
    return name

  def op(self, op_type, inputs, name, output=None, **attributes):
    """Adds one node named `name`; returns its output (named `output`, or
    as the node)."""
    output = self._name(output or name)
    self.nodes.append(helper.make_node(op_type, list(inputs), [output],
                                       name=name, **attributes))
    return output

  def conv(self, x, weights, bias, name, kernel_shape, stride, group,
           padding=SAME):
    """A 2-D convolution of NCHW `x` with ONNX [out, in / group, kh, kw]
    `weights` (names of tensors); `padding` SAME or VALID."""
    attributes = dict(kernel_shape=list(kernel_shape),
                      strides=[stride, stride], group=group, dilations=[1, 1])
    if padding == "VALID":
      attributes["pads"] = [0, 0, 0, 0]
    else:
      attributes["auto_pad"] = padding
    return self.op("Conv", [x, weights, bias], name, **attributes)

  def activation(self, x, activation, name):
    """ReLU6 as Clip over shared [0, 6] constants; None: `x`."""
    if activation is None:
      return x
    if activation != architecture.RELU6:
      raise ValueError(f"unsupported activation {activation}")
    if "relu6/min" not in self._names:
      self.constant("relu6/min", np.float32(0.0))
      self.constant("relu6/max", np.float32(6.0))
    return self.op("Clip", [x, "relu6/min", "relu6/max"], name)

  def model(self, name, inputs, outputs, metadata):
    graph = helper.make_graph(self.nodes, name, inputs, outputs,
                              initializer=self.initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER, producer_version=__version__)
    model.ir_version = IR_VERSION
    helper.set_model_props(model, dict(sorted(metadata.items())))
    return model


def image_input(height, width):
  return helper.make_tensor_value_info(
      INPUT, onnx.TensorProto.FLOAT, [BATCH, height, width, 3])


def output(name, width):
  return helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                       [BATCH, width])


def scaled_input(graph, low, high):
  """`images` in [0, 1] mapped linearly to [low, high] by the ops
  `nets.common.scale_images` uses (x * (high - low) - (-low)), then NCHW."""
  scaled = graph.op("Sub", [graph.op("Mul", [INPUT, graph.constant(
      "input_scaling/scale", np.float32(high - low))], "input_scaling/Mul"),
                            graph.constant("input_scaling/offset",
                                           np.float32(-low))],
                    "input_scaling/Sub")
  return graph.op("Transpose", [scaled], "to_nchw", perm=NHWC_TO_NCHW)


# --- Metadata and files -------------------------------------------------------


def source_checkpoint(cfg):
  """The checkpoint as the config names it: archive URL and prefix, or a
  local file's name (not its path, which is the exporting machine's)."""
  ckpt = cfg.checkpoint
  where = ckpt.url or os.path.basename(ckpt.path)
  return f"{where} ({ckpt.prefix})" if ckpt.prefix else where


def metadata(cfg, iface):
  """{key: value} of the model's `metadata_props`: what it takes and gives,
  and where it comes from."""
  if not iface.handle:
    raise ValueError(f"an ONNX model's metadata names its handle: {iface}")
  quantized = iface.quantized or iface.post_training_quantized
  # A quantized model takes the Lite file's input: pixels normalised to
  # [-1, 1] (LITE_INPUT_MEAN and _STD), then quantized.
  low, high = (-1.0, 1.0) if quantized else cfg.input_range
  side = "" if iface.variable_input_size else cfg.input_size
  depth = architecture.num_features(cfg.architecture, cfg.depth_multiplier)
  outputs = [f"{FEATURES}: float32 [{BATCH}, {depth}]"]
  if iface.num_classes:
    outputs.insert(0, f"{LOGITS}: float32 [{BATCH}, {iface.num_classes}]")
  facts = {
      "handle": iface.handle,
      "model": cfg.model_name,
      "architecture": (f"{cfg.architecture}, depth multiplier "
                       f"{cfg.depth_multiplier:g}"),
      "kind": iface.kind,
      "input": (f"{INPUT}: float32 [{BATCH}, {side or HEIGHT}, "
                f"{side or WIDTH}, 3], RGB"),
      "input_layout": "NHWC",
      "input_range": "[0, 1]",
      # (+ 0.0: no "-0" for low 0.)
      "input_scaling": (f"inside the model: x * {high - low:g} - "
                        f"{-low + 0.0:g}, "
                        f"to [{low:g}, {high:g}]"),
      "input_size": (f"{cfg.input_size} (other sizes possible)"
                     if iface.variable_input_size
                     else f"{cfg.input_size} (fixed)"),
      "outputs": ", ".join(outputs),
      "license": (cfg.model.license if cfg.custom
                  else config_lib.DEFAULT_LICENSE),
      "source_checkpoint": source_checkpoint(cfg),
      "quantization": ("uint8 QDQ, converted from the quantized TensorFlow "
                       "Lite file" if quantized else "none (float32)"),
  }
  if iface.num_classes:
    facts["labels"] = LABELS_FILE
  return facts


def save(model, iface, cfg, export_dir):
  """Checks `model` fully and writes it (and a classifier's labels) into
  `export_dir`, which must not exist."""
  onnx.checker.check_model(model, full_check=True)
  os.makedirs(export_dir)
  with open(os.path.join(export_dir, MODEL_FILE), "wb") as f:
    f.write(model.SerializeToString(deterministic=True))
  if iface.num_classes:
    shutil.copyfile(lite.labels_file(cfg),
                    os.path.join(export_dir, LABELS_FILE))

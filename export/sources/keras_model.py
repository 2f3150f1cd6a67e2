"""Keras model files as checkpoints: MobileNets fine-tuned with Keras.

A `.keras` file (Keras 3) or `.h5` file (tf-keras, or Keras 3's legacy
format) of an accepted shape (ACCEPTED) becomes a TF-Slim checkpoint: its
values are mapped onto the Slim variable layout once, here, and every format
writer reads them as it reads any checkpoint. The accepted shapes:

1. `keras.applications.MobileNet` / `MobileNetV2` with its own top
   (`include_top=True, classes=N`);
2. such a base with `include_top=False` (nested, or inline as
   `input_tensor=`), optionally after input scaling (`Rescaling`,
   `preprocess_input` applied to the input, which Keras records as
   divide/subtract operations) and augmentation layers, then
   `GlobalAveragePooling2D` (or the base's `pooling="avg"`), optionally
   `Dropout`, then `Dense(N)`;
3. TF Hub's tutorial shape: `hub.KerasLayer(<MobileNet feature vector
   module>)` then `Dense(N)`, saved by tf-keras as `.h5`.

Where Keras and Slim differ in form, the values carry the same computation:
the classifier `Dense(N)` on the pooled features is Slim's 1x1 convolution
logits (kernel [C, N] -> [1, 1, C, N]), with N classes (no background class);
a softmax at the end is not part of the logits (Lite files apply their own);
layers that pass their input unchanged at inference (augmentation, dropout)
are skipped; and the model's input scaling becomes the config's
`input_range`, what the network saw of images in [0, 1].

Reading runs no code from the file. Its config (JSON) is checked first,
layer by layer: only Keras' own layers of the accepted shapes, and no object
of a module outside Keras anywhere in it. Only then are the weights read: from
an `.h5` file directly (h5py; datasets named by layer and weight), from a
`.keras` archive by Keras 3's own loader in safe mode (its weights file is laid
out by Keras' object tracking, which only Keras knows), which then builds just
the checked layers. The backbone's layers are checked against the Slim layer
tables: names, classes, kernel sizes, strides, padding, batch norm epsilon and
ReLU6 (not their wiring, which keras.applications alone makes).
"""

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import zipfile

import numpy as np

from export.core import architecture as arch_lib
from export.core import config as config_lib
from export.sources import checkpoint as checkpoint_lib
from export.sources import fetch
from export.sources import inspect

SUFFIXES = (".keras", ".h5")
ACCEPTED = (
    "accepted: keras.applications MobileNet or MobileNetV2 with its top "
    "(include_top=True, classes=N); or such a base (include_top=False) after "
    "optional Rescaling, preprocess_input and augmentation layers, then "
    "GlobalAveragePooling2D, optional Dropout, Dense(N) with or without "
    "softmax; or hub.KerasLayer(a MobileNet feature vector module) then "
    "Dense(N), saved by tf-keras as .h5; square inputs of a multiple of 32 "
    "pixels")

# Layers that pass their input through unchanged at inference (tested
# against the installed Keras and tf-keras): augmentation, noise, dropout.
INACTIVE = frozenset({
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
    "RandomContrast", "RandomBrightness", "RandomSaturation", "RandomHue",
    "RandomGrayscale", "RandomShear", "RandomColorJitter", "GaussianNoise",
    "GaussianDropout", "Dropout"})
# Operations on a tensor and a number, as Keras records them in a model's
# config: Keras 3 as layers of `keras.src.ops.numpy`, tf-keras as
# TFOpLambda layers of the TensorFlow function (the number in kwargs `y`).
# Each maps (a, b) of x -> a * x + b, with constant c, to the result's.
_AFFINE = {
    "divide": lambda a, b, c: (a / c, b / c),
    "multiply": lambda a, b, c: (a * c, b * c),
    "subtract": lambda a, b, c: (a, b - c),
    "add": lambda a, b, c: (a, b + c),
}
_KERAS_OPS = {"TrueDivide": "divide", "Divide": "divide",
              "Multiply": "multiply", "Subtract": "subtract", "Add": "add"}
_KERAS_OPS_MODULE = "keras.src.ops.numpy"
_TF_OPS = {"math.truediv": "divide", "math.divide": "divide",
           "math.multiply": "multiply", "math.subtract": "subtract",
           "math.add": "add", "__operators__.add": "add"}
_MODELS = ("Functional", "Model")
# What TF Hub's image modules do to their input: [0, 1] -> [-1, 1].
_HUB_SCALING = (2.0, -1.0)
# Pixels: what a model with scaling layers of its own is fed.
_PIXEL_MAX = 255.0
_FIRST_CONV = {"mobilenet_v1": "conv1", "mobilenet_v2": "Conv1"}
_TITLES = {"mobilenet_v1": "MobileNet", "mobilenet_v2": "MobileNetV2"}


class KerasModelError(checkpoint_lib.CheckpointError):
  """The file is not a Keras model of an accepted shape; the message is one
  line naming the file and the layer."""


@dataclasses.dataclass(frozen=True)
class KerasModel:
  """What a Keras model file is, and its values in the Slim layout."""
  path: str
  shape: str               # Which accepted shape (one line, for the user).
  facts: inspect.Facts     # Architecture, multiplier, classes.
  input_size: int          # None: the model takes any size.
  input_range: tuple       # (low, high): what the network sees of [0, 1].
  softmax: bool            # The model ends in a softmax.
  values: dict             # {Slim variable name: float32 array}.


def is_keras_file(path):
  return path.endswith(SUFFIXES)


def _error(path, layer, problem):
  where = f"layer '{layer[0]}' ({layer[1]}) " if layer else ""
  return KerasModelError(f"{path}: {where}{problem}; {ACCEPTED}")


# --- The model's config, as a graph of layers --------------------------------


@dataclasses.dataclass
class _Node:
  name: str
  cls: str
  config: dict
  inputs: list        # Names of the layers it takes tensors from.
  # Non-tensor arguments of an operation layer: values (Keras 3), or
  # (keyword, value) pairs (tf-keras).
  constants: list
  module: str = None
  positions: tuple = ()  # Argument positions of its tensors (Keras 3).


@dataclasses.dataclass
class _Graph:
  nodes: dict         # name -> _Node, in config order.
  inputs: list
  outputs: list

  def consumers(self, name):
    return [n for n, node in self.nodes.items() if name in node.inputs]


def _tensor_name(value):
  """The layer name of a Keras 3 serialized tensor, else None."""
  if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
    return value["config"]["keras_history"][0]
  return None


def _node(path, layer):
  """A _Node of one layer entry of a Functional config."""
  cls, config = layer.get("class_name"), layer.get("config") or {}
  name = layer.get("name") or config.get("name")
  inbound = layer.get("inbound_nodes") or []
  if len(inbound) > 1:
    raise _error(path, (name, cls), "is applied more than once (a shared "
                 "layer)")
  inputs, constants, positions = [], [], []
  if inbound and isinstance(inbound[0], dict):  # Keras 3: args and kwargs.
    args = inbound[0].get("args", [])
    for position, arg in enumerate(args):
      for item in (arg if isinstance(arg, list) else [arg]):
        tensor = _tensor_name(item)
        if tensor is None:
          constants.append(item)
        else:
          inputs.append(tensor)
          positions.append(position)
  elif inbound:  # tf-keras: [[layer, node, tensor, kwargs], ...].
    entries = inbound[0]
    if entries and isinstance(entries[0], str):  # One entry, unwrapped.
      entries = [entries]
    for entry in entries:
      inputs.append(entry[0])
      kwargs = entry[3] if len(entry) > 3 else {}
      # An operation's other arguments, by keyword (`y` of x / y).
      constants.extend((k, v) for k, v in sorted(kwargs.items())
                       if k not in ("name", "training", "mask"))
  return _Node(name, cls, config, inputs, constants, layer.get("module"),
               tuple(positions))


def _refs(value):
  """Layer names in `input_layers` / `output_layers` of a config."""
  if isinstance(value, list) and value and isinstance(value[0], str):
    return [value[0]]
  if isinstance(value, list):
    return [n for v in value for n in _refs(v)]
  name = _tensor_name(value)
  return [name] if name else []


def _graph(path, model):
  """The _Graph of a Functional model's config entry."""
  config = model["config"]
  nodes = {}
  for layer in config.get("layers", []):
    node = _node(path, layer)
    nodes[node.name] = node
  return _Graph(nodes, _refs(config.get("input_layers")),
                _refs(config.get("output_layers")))


def _check_modules(path, value, layer=None):
  """Refuses any object in the config that is not Keras' own."""
  if isinstance(value, dict):
    inner = value.get("config")
    if "class_name" in value and isinstance(inner, dict) and "name" in inner:
      layer = (inner["name"], value["class_name"])  # A layer (or model).
    module = value.get("module")
    if isinstance(module, str) and not (module == "keras" or
                                        module.startswith("keras.")):
      raise _error(path, layer, f"refers to {module}.{value.get('class_name')}"
                   ", which is not part of Keras")
    for item in value.values():
      _check_modules(path, item, layer)
  elif isinstance(value, list):
    for item in value:
      _check_modules(path, item, layer)


# --- Reading files -----------------------------------------------------------


def _read_config(path):
  """(model config dict, "keras"|"h5") of the file at `path`."""
  if path.endswith(".keras"):
    try:
      with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        for needed in ("config.json", "model.weights.h5"):
          if needed not in names:
            raise _error(path, None, f"is not a complete .keras archive "
                         f"(no {needed})")
        metadata = json.loads(archive.read("metadata.json")) if (
            "metadata.json" in names) else {}
        config = json.loads(archive.read("config.json"))
        archive.testzip()  # Every member's CRC: a cut or damaged file.
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError,
            ValueError) as e:
      raise _error(path, None, f"is not a complete .keras archive ({e})"
                   ) from None
    except OSError as e:
      raise _error(path, None, f"cannot be read ({e.strerror})") from None
    version = str(metadata.get("keras_version", "3"))
    if not version.startswith("3"):
      raise _error(path, None, f"was saved by Keras {version} (tf-keras), "
                   "whose .keras files Keras 3 does not read; save it with "
                   "model.save('<name>.h5')")
    return config, "keras"
  import h5py  # pylint: disable=g-import-not-at-top
  try:
    with h5py.File(path, "r") as f:
      text = f.attrs.get("model_config")
  except OSError as e:
    raise _error(path, None, f"is not a readable HDF5 file ({e})") from None
  if text is None:
    raise _error(path, None, "holds weights only (no model_config): save "
                 "the model with model.save, not model.save_weights")
  try:
    config = json.loads(text.decode() if isinstance(text, bytes) else text)
  except ValueError as e:
    raise _error(path, None, f"has an unreadable model_config ({e})"
                 ) from None
  return config, "h5"


def _h5_weights(path):
  """{top layer name: {weight name without ':0': array}} of an .h5 file."""
  import h5py  # pylint: disable=g-import-not-at-top
  weights = {}
  try:
    with h5py.File(path, "r") as f:
      group = f["model_weights"] if "model_weights" in f else f
      for layer in group.attrs.get("layer_names", []):
        layer = layer.decode() if isinstance(layer, bytes) else layer
        names = group[layer].attrs.get("weight_names", [])
        weights[layer] = {}
        for name in names:
          name = name.decode() if isinstance(name, bytes) else name
          weights[layer][name.split(":")[0]] = np.asarray(
              group[layer][name], np.float32)
  except (OSError, KeyError) as e:
    raise _error(path, None, f"has unreadable weights ({e})") from None
  return weights


def _keras_weights(path):
  """A function (layer path) -> {weight name: array} over the model that
  Keras 3 loads from the .keras file (safe mode: no Python code from it)."""
  try:
    import keras  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise _error(path, None, "needs the keras 3 package to be read") from None
  try:
    model = keras.saving.load_model(path, compile=False, safe_mode=True)
  except Exception as e:  # pylint: disable=broad-except  # Keras' own errors.
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise _error(path, None, f"cannot be loaded by Keras ({first})") from None

  def get(layer_path):
    layer = model
    for name in layer_path:
      layer = layer.get_layer(name)
    return {w.path.rsplit("/", 1)[-1]: np.asarray(w.numpy(), np.float32)
            for w in layer.weights}
  return get


# --- The backbone: Keras' application layers and the Slim layers -------------


def _keras_layers(architecture):
  """{Keras layer name: (role, Slim layer)} of keras.applications' network
  (roles: conv, bn, relu, pad), from the Slim layer tables: V1's Conv2d_0 is
  conv1, Conv2d_<i>_depthwise conv_dw_<i>, Conv2d_<i>_pointwise conv_pw_<i>;
  V2's Conv is Conv1, expanded_conv/<op> expanded_conv_<op>,
  expanded_conv_<i>/<op> block_<i>_<op>, Conv_1 Conv_1. Residual adds
  (V2's block_<i>_add) are `_residual_adds`."""
  names = {}
  for layer in arch_lib.layers(architecture, 1.0, num_classes=None):
    if architecture == "mobilenet_v1":
      if layer.scope == "Conv2d_0":
        conv, pad = "conv1", "conv1_pad"
      else:
        _, index, op = layer.scope.split("_")
        kind = "dw" if op == "depthwise" else "pw"
        conv, pad = f"conv_{kind}_{index}", f"conv_pad_{index}"
      bn, relu = f"{conv}_bn", f"{conv}_relu"
    else:
      scope = layer.scope
      if scope == "Conv":
        conv, bn, relu, pad = "Conv1", "bn_Conv1", "Conv1_relu", "Conv1_pad"
      elif scope == "Conv_1":
        conv, bn, relu, pad = "Conv_1", "Conv_1_bn", "out_relu", None
      else:
        block, op = scope.split("/")  # expanded_conv[_<i>]/<op>
        number = block.rpartition("_")[2] if block != "expanded_conv" else None
        conv = f"block_{number}_{op}" if number else f"expanded_conv_{op}"
        bn, relu = f"{conv}_BN", f"{conv}_relu"
        pad = f"block_{number}_pad" if number else None
    names[conv] = ("conv", layer)
    names[bn] = ("bn", layer)
    if layer.activation:
      names[relu] = ("relu", layer)
    if pad and layer.stride > 1:
      names[pad] = ("pad", layer)
  return names


def _add_name(index):
  """Keras' name of the residual add of V2's inverted residual block
  `index` (from 0, the block without expansion)."""
  return f"block_{index}_add" if index else "expanded_conv_add"


def _residual_adds(architecture, depth_multiplier):
  """The names of V2's residual adds at `depth_multiplier`."""
  if architecture != "mobilenet_v2":
    return set()
  blocks = arch_lib.get(architecture).blocks(depth_multiplier)[1:-1]
  return {_add_name(i) for i, block in enumerate(blocks) if block.residual}


def _possible_adds(architecture):
  if architecture != "mobilenet_v2":
    return set()
  return {_add_name(i) for i in range(
      len(arch_lib.MOBILENET_V2_INVERTED_RESIDUALS))}


def _pair(value):
  return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def _check_backbone_layer(path, node, role, layer, padded, epsilon):
  """Raises unless `node` is the Keras layer of `role` for Slim `layer`."""
  c, where = node.config, (node.name, node.cls)
  if role == "conv":
    cls = "DepthwiseConv2D" if layer.op == "depthwise" else "Conv2D"
    kernel, stride = tuple(layer.kernel_shape[:2]), (layer.stride,) * 2
    padding = "valid" if padded else "same"
    # 1x1 at stride 1 pads nothing either way (V2's Conv_1 says "valid").
    paddings = ("same", "valid") if kernel == (1, 1) and stride == (
        1, 1) else (padding,)
    ok = (node.cls == cls and _pair(c.get("kernel_size")) == kernel
          and _pair(c.get("strides")) == stride
          and c.get("padding") in paddings and not c.get("use_bias")
          and c.get("activation", "linear") == "linear"
          and _pair(c.get("dilation_rate", 1)) == (1, 1)
          and c.get("depth_multiplier", 1) == 1 and c.get("groups", 1) == 1)
    want = (f"{cls} {kernel[0]}x{kernel[1]}, stride {layer.stride}, "
            f"padding {padding}, no bias, linear")
  elif role == "bn":
    ok = (node.cls == "BatchNormalization" and c.get("center", True)
          and c.get("scale", True)
          and abs(c.get("epsilon", 0) - epsilon) < 1e-9)
    want = f"BatchNormalization with epsilon {epsilon:g}, center and scale"
  elif role == "relu":
    ok = (node.cls == "ReLU" and c.get("max_value") == 6
          and not c.get("negative_slope") and not c.get("threshold"))
    want = "ReLU(6)"
  else:
    ok = node.cls == "ZeroPadding2D" and [
        list(p) for p in c.get("padding", [])] == [[0, 1], [0, 1]]
    want = "ZeroPadding2D(((0, 1), (0, 1)))"
  if not ok:
    raise _error(path, where, f"is not keras.applications' {want}")


@dataclasses.dataclass
class _Backbone:
  """A keras.applications network, or a hub.KerasLayer."""
  kind: str              # "keras" or "hub"
  architecture: str      # None for hub (known from its weights).
  path: tuple            # Layer path of its nodes' parent (() at the top).
  nodes: dict            # Keras layer name -> _Node of its layers.
  output_name: str       # The layer whose output leaves it.
  pooled: bool           # It ends in a global average pool.
  input_shape: list = None


def _architecture_of(names):
  found = [a for a, conv in _FIRST_CONV.items() if conv in names]
  return found[0] if len(found) == 1 else None


def _backbone(path, nodes, layer_path, input_name=None, pool_name=None):
  """Checks that `nodes` (name -> _Node) are keras.applications' MobileNet
  layers (plus `input_name`, `pool_name`); returns the _Backbone."""
  names = [n for n in nodes if n not in (input_name, pool_name)]
  architecture = _architecture_of(names)
  if architecture is None:
    first = nodes[names[0]] if names else None
    raise _error(path, (first.name, first.cls) if first else None,
                 "starts no keras.applications MobileNet or MobileNetV2 "
                 "(their first convolution is conv1 or Conv1)")
  expected = _keras_layers(architecture)
  adds = _possible_adds(architecture)
  epsilon = arch_lib.get(architecture).batch_norm_epsilon
  present = set(names)
  for name in names:
    node = nodes[name]
    if name in adds:
      if node.cls != "Add":
        raise _error(path, (name, node.cls), "is not keras.applications' Add")
      continue
    if name not in expected:
      raise _error(path, (name, node.cls), "is not a layer of "
                   f"keras.applications {_TITLES[architecture]}")
    role, layer = expected[name]
    pad = next((n for n, (r, l) in expected.items()
                if r == "pad" and l is layer), None)
    _check_backbone_layer(path, node, role, layer, pad in present, epsilon)
  missing = [n for n, (role, _) in expected.items()
             if role != "pad" and n not in present]
  if missing:
    raise _error(path, None, f"lacks layer '{missing[0]}' of keras.applications"
                 f" {_TITLES[architecture]}")
  last = "conv_pw_13_relu" if architecture == "mobilenet_v1" else "out_relu"
  return _Backbone("keras", architecture, layer_path, nodes, last,
                   pool_name is not None)


def _nested_backbone(path, node, layer_path):
  """The _Backbone of a nested keras.applications model (include_top=False,
  pooling None or "avg")."""
  graph = _graph(path, {"config": node.config})
  pool = None
  if len(graph.outputs) != 1:
    raise _error(path, (node.name, node.cls), "has several outputs")
  out = graph.nodes.get(graph.outputs[0])
  if out is not None and out.cls == "GlobalAveragePooling2D":
    pool = out.name
  inputs = [n.name for n in graph.nodes.values() if n.cls == "InputLayer"]
  backbone = _backbone(path, graph.nodes, layer_path + (node.name,),
                       inputs[0] if inputs else None, pool)
  if inputs:
    backbone.input_shape = _input_shape(graph.nodes[inputs[0]].config)
  return backbone


def _input_shape(config):
  shape = config.get("batch_shape") or config.get("batch_input_shape")
  return list(shape) if shape else None


# --- The chain of layers, and its accepted shapes ----------------------------


def _steps(path, graph, layer_path=()):
  """Yields the layers of `graph` from its input to its output, a chain: a
  nested Sequential gives its layers; a MobileNet whose layers are in
  `graph` itself (include_top=True, or input_tensor=) gives one _Backbone.
  (A generator: the first layer of no accepted shape is named before the
  walk meets what follows it.)"""
  if len(graph.inputs) != 1 or len(graph.outputs) != 1:
    raise _error(path, None, f"has {len(graph.inputs)} inputs and "
                 f"{len(graph.outputs)} outputs, not one of each")
  current = graph.inputs[0]
  architecture = _architecture_of(graph.nodes)
  inline = _keras_layers(architecture) if architecture else {}
  inline_names = set(inline) | _possible_adds(architecture or "")
  while current != graph.outputs[0]:
    consumers = graph.consumers(current)
    if len(consumers) != 1:
      node = graph.nodes[current]
      raise _error(path, (node.name, node.cls),
                   f"feeds {len(consumers)} layers, not one")
    node = graph.nodes[consumers[0]]
    if node.name in inline_names:
      members = {n: v for n, v in graph.nodes.items() if n in inline_names}
      backbone = _backbone(path, members, layer_path)
      for member in members.values():
        outside = [i for i in member.inputs if i not in members]
        if outside and outside != [current]:
          raise _error(path, (member.name, member.cls), "takes an input from "
                       "outside the MobileNet")
      yield backbone
      current = backbone.output_name
      continue
    if len(node.inputs) != 1:
      raise _error(path, (node.name, node.cls),
                   f"takes {len(node.inputs)} inputs, not one")
    if node.cls == "Sequential":
      yield from _sequential_steps(node, layer_path + (node.name,))
    else:
      yield layer_path + (node.name,), node
    current = node.name


def _sequential_steps(node, layer_path):
  for layer in node.config.get("layers", []):
    child = _Node(layer.get("name") or layer["config"].get("name"),
                  layer.get("class_name"), layer.get("config") or {}, [], [],
                  layer.get("module"))
    if child.cls == "Sequential":
      yield from _sequential_steps(child, layer_path + (child.name,))
    elif child.cls != "InputLayer":
      yield layer_path + (child.name,), child


def _top_steps(path, config):
  """(chain of steps, input shape) of the model config."""
  if config.get("class_name") == "Sequential":
    layers = config["config"].get("layers", [])
    shape = None
    if layers and layers[0].get("class_name") == "InputLayer":
      shape = _input_shape(layers[0]["config"])
    elif layers:
      shape = _input_shape(layers[0].get("config", {}))
    shape = shape or config["config"].get("build_input_shape")
    node = _Node(config["config"].get("name"), "Sequential", config["config"],
                 [], [])
    return _sequential_steps(node, ()), shape
  if config.get("class_name") not in _MODELS:
    raise _error(path, None, f"holds a {config.get('class_name')}, not a "
                 "Keras model")
  graph = _graph(path, config)
  inputs = [graph.nodes[n] for n in graph.inputs if n in graph.nodes]
  shape = _input_shape(inputs[0].config) if inputs else None
  return _steps(path, graph), shape


def _affine(path, node):
  """(a, b) of a scaling layer's x -> a * x + b, or None if it is none."""
  c = node.config
  if node.cls == "Rescaling":
    scale, offset = c.get("scale", 1.0), c.get("offset", 0.0)
    if not all(isinstance(v, (int, float)) for v in (scale, offset)):
      raise _error(path, (node.name, node.cls), "scales channels apart")
    return float(scale), float(offset)
  op = None
  if node.cls in _KERAS_OPS and node.module == _KERAS_OPS_MODULE:
    op = _KERAS_OPS[node.cls]
    if node.positions != (0,):  # The number first: c / x, c - x.
      op = None
  elif node.cls == "TFOpLambda":
    op = _TF_OPS.get(c.get("function"))
    keywords = [k for k, _ in node.constants]
    node = dataclasses.replace(node, constants=[v for _, v in node.constants])
    if keywords != ["y"]:  # The number must be `y` of f(x, y).
      op = None
  else:
    return None
  if op is None or len(node.constants) != 1 or isinstance(
      node.constants[0], bool) or not isinstance(node.constants[0],
                                                 (int, float)):
    raise _error(path, (node.name, node.cls), "is not x / c, x * c, x - c "
                 "or x + c with a number c")
  return _AFFINE[op](1.0, 0.0, float(node.constants[0]))


@dataclasses.dataclass
class _Plan:
  backbone: _Backbone
  scaling: tuple        # (a, b) of the layers before the backbone; None.
  classifier: tuple     # (layer path, "Dense" | "Conv2D").
  softmax: bool
  input_shape: list


def _plan(path, config):
  """Walks the chain through the accepted shapes; returns the _Plan."""
  _check_modules(path, config)
  steps, input_shape = _top_steps(path, config)
  backbone, scaling, classifier, softmax = None, None, None, False
  state = "input"  # input, map, pooled map (1x1), features, logits map, logits
  for step in steps:
    if isinstance(step, _Backbone):
      if state != "input":
        raise _error(path, None, "has a second MobileNet")
      backbone, state = step, "features" if step.pooled else "map"
      continue
    layer_path, node = step
    where, c = (node.name, node.cls), node.config
    if node.cls in INACTIVE:
      continue
    if state == "input":
      affine = _affine(path, node)
      if affine is not None:
        a, b = scaling or (1.0, 0.0)
        scaling = (affine[0] * a, affine[0] * b + affine[1])
      elif node.cls in _MODELS:
        backbone = _nested_backbone(path, node, layer_path[:-1])
        state = "features" if backbone.pooled else "map"
      elif node.cls == "KerasLayer":
        if c.get("signature") not in (None, "image_feature_vector") or (
            c.get("output_key") not in (None, "default")) or c.get(
                "signature_outputs_as_dict"):
          raise _error(path, where, "is not the default output of a module "
                       "(a feature vector)")
        backbone = _Backbone("hub", None, layer_path, {}, node.name, True)
        state = "features"
      else:
        raise _error(path, where, "is not accepted before the MobileNet "
                     "(only input scaling and augmentation)")
    elif state == "map" and node.cls == "GlobalAveragePooling2D":
      state = "pooled" if c.get("keepdims") else "features"
    elif state == "pooled" and node.cls in ("Reshape", "Flatten"):
      state = "features"
    elif state in ("features", "pooled") and node.cls in ("Dense", "Conv2D"):
      if node.cls == "Conv2D" and (
          state != "pooled" or _pair(c.get("kernel_size")) != (1, 1)):
        raise _error(path, where, "is not a 1x1 convolution of the pooled "
                     "features")
      if node.cls == "Dense" and state != "features":
        raise _error(path, where, "takes a 4-D input")
      if c.get("activation", "linear") not in ("linear", "softmax"):
        raise _error(path, where, f"has activation {c.get('activation')!r}, "
                     "not linear or softmax")
      softmax = c.get("activation") == "softmax"
      classifier = (layer_path, node.cls)
      state = "logits map" if node.cls == "Conv2D" else "logits"
    elif state == "logits map" and node.cls in ("Reshape", "Flatten"):
      state = "logits"
    elif state == "logits" and (node.cls == "Softmax" or (
        node.cls == "Activation" and c.get("activation") in ("softmax",
                                                             "linear"))):
      softmax = softmax or node.cls == "Softmax" or (
          c.get("activation") == "softmax")
    elif state == "logits":
      raise _error(path, where, f"follows the classifier "
                   f"'{classifier[0][-1]}' (one Dense(N) on the pooled "
                   "features ends the model)")
    else:
      expected = {"map": "GlobalAveragePooling2D",
                  "pooled": "the 1x1 classifier or a Reshape",
                  "features": "Dense(N)",
                  "logits map": "a Reshape"}[state]
      raise _error(path, where, f"is not accepted after the MobileNet "
                   f"(expected {expected})")
  if backbone is None:
    raise _error(path, None, "has no keras.applications MobileNet, "
                 "MobileNetV2 or hub.KerasLayer")
  if state != "logits":
    raise _error(path, None, "has no classifier (Dense(N) on the pooled "
                 "features) at its end")
  return _Plan(backbone, scaling, classifier, softmax, input_shape)


# --- Values in the Slim layout -----------------------------------------------


def _slim_values(path, plan, weights):
  """{Slim variable name: array} of the backbone and classifier."""
  backbone, values, used = plan.backbone, {}, set()
  if backbone.kind == "hub":
    for name, value in weights(backbone.path).items():
      scope = next((a.scope for a in arch_lib.ARCHITECTURES.values()
                    if f"{a.scope}/" in f"/{name}"), None)
      if scope is None:
        raise _error(path, (backbone.path[-1], "KerasLayer"),
                     f"holds {name}, not a MobileNet variable")
      values[scope + name.split(scope, 1)[1]] = value
    if not values:
      raise _error(path, (backbone.path[-1], "KerasLayer"), "holds no "
                   "variables")
    if any(arch_lib.LOGITS_SCOPE in n for n in values):
      raise _error(path, (backbone.path[-1], "KerasLayer"), "is a "
                   "classification module; use its feature vector module")
  else:
    scope = arch_lib.get(backbone.architecture).scope
    for name, (role, layer) in _keras_layers(backbone.architecture).items():
      if role not in ("conv", "bn") or name not in backbone.nodes:
        continue
      have = weights(backbone.path + (name,))
      wanted = ({"kernel": arch_lib.KERNEL_NAMES[layer.op]} if role == "conv"
                else {p: f"BatchNorm/{p}" for p in arch_lib.BATCH_NORM_PARAMS})
      for attribute, slim in wanted.items():
        key = "kernel" if attribute == "kernel" and "kernel" in have else (
            "depthwise_kernel" if attribute == "kernel" else attribute)
        if key not in have:
          raise _error(path, (name, backbone.nodes[name].cls),
                       f"has no weight {attribute}")
        values[f"{scope}/{layer.scope}/{slim}"] = have[key]
        used.add((name, key))
      extra = sorted(set(have) - {k for n, k in used if n == name})
      if extra:
        raise _error(path, (name, backbone.nodes[name].cls),
                     f"has weights {extra} that keras.applications' has not")
  layer_path, cls = plan.classifier
  have = weights(layer_path)
  if "kernel" not in have:
    raise _error(path, (layer_path[-1], cls), "has no kernel")
  kernel = have["kernel"]
  if cls == "Dense":
    kernel = kernel.reshape((1, 1) + kernel.shape)
  bias = have.get("bias", np.zeros(kernel.shape[-1:], np.float32))
  prefix = next(iter(values)).split("/", 1)[0] + "/" + arch_lib.LOGITS_SCOPE
  values[f"{prefix}/weights"] = kernel
  values[f"{prefix}/biases"] = bias
  return {n: np.ascontiguousarray(v, np.float32) for n, v in values.items()}


def _tidy(value):
  """The shortest decimal with `value`'s float32 (1/255 * 255 -> 1.0)."""
  for digits in range(1, 10):
    short = float(f"{value:.{digits}g}")
    if np.float32(short) == np.float32(value):
      return short
  return float(value)


def _input_range(plan):
  """What the Slim network sees of images in [0, 1]: the model's scaling
  of pixels (0..255) where it has scaling layers; else what its base takes
  by convention (keras.applications: their preprocess_input's [-1, 1]; a
  hub module: [0, 1], which it maps to [-1, 1] itself)."""
  if plan.scaling is None:
    return config_lib.DEFAULT_INPUT_RANGE
  a, b = plan.scaling
  low, high = b, a * _PIXEL_MAX + b
  if plan.backbone.kind == "hub":
    scale, offset = _HUB_SCALING
    low, high = scale * low + offset, scale * high + offset
  return _tidy(low), _tidy(high)


def _input_size(path, plan):
  shapes = [s for s in (plan.input_shape, plan.backbone.input_shape) if s]
  sizes = set()
  for shape in shapes:
    ok = len(shape) == 4 and shape[3] == 3 and shape[1] == shape[2] and (
        shape[1] is None or (shape[1] >= 32 and shape[1] % 32 == 0))
    if not ok:
      raise _error(path, None, f"takes inputs of shape {shape}, not "
                   "[batch, S, S, 3] with S a multiple of 32 from 32 up")
    if shape[1] is not None:
      sizes.add(shape[1])
  if len(sizes) > 1:
    raise _error(path, None, f"takes inputs of sizes {sorted(sizes)} (its "
                 "input and its base's)")
  return sizes.pop() if sizes else None


SHAPES = {"keras_top": "keras.applications {title} with its top",
          "keras_base": "a keras.applications {title} base and a Dense head",
          "hub": "hub.KerasLayer ({title} feature vector module) and a Dense "
                 "head"}


def read(path):
  """The KerasModel of the file at `path`; raises KerasModelError (one
  line) unless it is of an accepted shape."""
  if not os.path.isfile(path):
    raise KerasModelError(f"{path}: no such file")
  config, kind = _read_config(path)
  plan = _plan(path, config)
  input_size = _input_size(path, plan)
  if kind == "h5":
    by_layer = _h5_weights(path)

    def weights(layer_path):
      group = by_layer.get(layer_path[0], {})
      if plan.backbone.kind == "hub" and layer_path == plan.backbone.path:
        return group  # A module's variables, by their own names.
      name = layer_path[-1]
      return {n.rsplit("/", 1)[-1]: v for n, v in group.items()
              if n.rsplit("/", 2)[-2:-1] == [name]}
  else:
    weights = _keras_weights(path)
  values = _slim_values(path, plan, weights)
  try:
    facts = inspect.infer({n: v.shape for n, v in values.items()})
  except inspect.InspectError as e:
    raise _error(path, None, str(e)) from None
  layout = arch_lib.variable_layout(facts.architecture,
                                    facts.depth_multiplier, facts.num_classes)
  extra = sorted(set(values) - set(layout))
  if facts.quantized or extra:
    raise _error(path, None, f"holds variables a float MobileNet has not: "
                 f"{', '.join(extra[:3]) or 'quantization ranges'}")
  backbone = plan.backbone
  if backbone.kind == "keras":
    adds = {n for n in backbone.nodes if n in _possible_adds(
        backbone.architecture)}
    want = _residual_adds(facts.architecture, facts.depth_multiplier)
    if adds != want:
      raise _error(path, None, f"has residual adds {sorted(adds ^ want)} "
                   "where keras.applications' has not (or lacks them)")
  if backbone.kind == "hub":
    shape = "hub"
  else:
    shape = "keras_top" if plan.classifier[1] == "Conv2D" or (
        plan.classifier[0][-1] == "predictions") else "keras_base"
  return KerasModel(
      path=path,
      shape=SHAPES[shape].format(title=_TITLES[facts.architecture]),
      facts=facts, input_size=input_size, input_range=_input_range(plan),
      softmax=plan.softmax, values={n: values[n] for n in layout})


# --- As a checkpoint source ---------------------------------------------------

_FACTS_FILE = "facts.json"
_PREFIX = "model.ckpt"


def _code_digest():
  """Of the code that maps a model's values (a change re-converts)."""
  digest = hashlib.sha256()
  for module in (__file__, arch_lib.__file__):
    with open(module.replace(".pyc", ".py"), "rb") as f:
      digest.update(f.read())
  return digest.hexdigest()


def checkpoint(cfg, path, cache_dir):
  """The prefix of the Slim checkpoint of Keras model file `path`, written
  once per file content into `cache_dir`; raises KerasModelError unless
  the model is what `cfg` says (architecture, multiplier, classes, input
  size and range)."""
  if not os.path.isfile(path):
    raise KerasModelError(f"{path}: no such file")
  key = hashlib.sha256(f"{fetch.sha256_of(path)}\0{_code_digest()}".encode()
                       ).hexdigest()
  dest = os.path.join(cache_dir, "keras", key)
  if not os.path.isfile(os.path.join(dest, _FACTS_FILE)):
    model = read(path)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".convert-", dir=os.path.dirname(dest))
    try:
      checkpoint_lib.write_values(model.values, os.path.join(tmp, _PREFIX))
      with open(os.path.join(tmp, _FACTS_FILE), "w", encoding="utf-8") as f:
        json.dump(dict(architecture=model.facts.architecture,
                       depth_multipliers=[model.facts.depth_multiplier,
                                          *model.facts.equivalent_multipliers],
                       num_classes=model.facts.num_classes,
                       input_size=model.input_size,
                       input_range=list(model.input_range)), f)
      try:
        os.rename(tmp, dest)  # Complete, or not there at all.
      except OSError:
        if not os.path.isfile(os.path.join(dest, _FACTS_FILE)):
          raise
        # Another run converted the same file meanwhile: the same bytes.
    finally:
      shutil.rmtree(tmp, ignore_errors=True)
  with open(os.path.join(dest, _FACTS_FILE), encoding="utf-8") as f:
    facts = json.load(f)
  differences = [
      f"{key} {mine} (the config says {theirs})"
      for key, mine, theirs, same in (
          ("architecture", facts["architecture"], cfg.architecture,
           facts["architecture"] == cfg.architecture),
          ("depth multiplier", facts["depth_multipliers"][0],
           cfg.depth_multiplier,
           cfg.depth_multiplier in facts["depth_multipliers"]),
          ("classes", facts["num_classes"], cfg.num_classes,
           facts["num_classes"] == cfg.num_classes),
          ("input size", facts["input_size"], cfg.input_size,
           facts["input_size"] in (None, cfg.input_size)),
          ("input_range", facts["input_range"], list(cfg.input_range),
           tuple(facts["input_range"]) == tuple(cfg.input_range)))
      if not same]
  if differences:
    raise KerasModelError(f"{path} does not fit the config {cfg.path}: it "
                          f"has {'; '.join(differences)}")
  return os.path.join(dest, _PREFIX)

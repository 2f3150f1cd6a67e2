"""MobileNet architectures as data: layer tables, depths and variable layouts.

Nothing here imports TensorFlow. The graph builders in `export.nets` walk these
tables to build TF-Slim graphs, and the card generator and the checkpoint code
read the same tables to compute facts (feature width, class count, variable
names and shapes) without building a graph. Tests check that the two agree.
"""

import collections

NUM_CLASSES = 1001  # ImageNet's 1000 classes plus "background" at index 0.

# MobileNet V1 (TF-Slim `nets/mobilenet_v1.py`): a full 3x3 convolution, then
# depthwise-separable blocks (3x3 depthwise + 1x1 pointwise).
Conv = collections.namedtuple("Conv", ["kernel", "stride", "depth"])
DepthSepConv = collections.namedtuple("DepthSepConv",
                                      ["kernel", "stride", "depth"])

MOBILENET_V1_CONV_DEFS = (
    Conv(kernel=(3, 3), stride=2, depth=32),
    DepthSepConv(kernel=(3, 3), stride=1, depth=64),
    DepthSepConv(kernel=(3, 3), stride=2, depth=128),
    DepthSepConv(kernel=(3, 3), stride=1, depth=128),
    DepthSepConv(kernel=(3, 3), stride=2, depth=256),
    DepthSepConv(kernel=(3, 3), stride=1, depth=256),
    DepthSepConv(kernel=(3, 3), stride=2, depth=512),
    DepthSepConv(kernel=(3, 3), stride=1, depth=512),
    DepthSepConv(kernel=(3, 3), stride=1, depth=512),
    DepthSepConv(kernel=(3, 3), stride=1, depth=512),
    DepthSepConv(kernel=(3, 3), stride=1, depth=512),
    DepthSepConv(kernel=(3, 3), stride=1, depth=512),
    DepthSepConv(kernel=(3, 3), stride=2, depth=1024),
    DepthSepConv(kernel=(3, 3), stride=1, depth=1024),
)
MOBILENET_V1_MIN_DEPTH = 8
MOBILENET_V1_SCOPE = "MobilenetV1"

BATCH_NORM_PARAMS = ("beta", "gamma", "moving_mean", "moving_variance")

# A layer as the graph and the checkpoint see it: its scope below the network
# scope, its op ("conv" or "depthwise"), kernel shape, stride and output depth,
# and whether batch norm follows it (else it has biases and no activation).
Layer = collections.namedtuple(
    "Layer", ["scope", "op", "kernel_shape", "stride", "depth", "batch_norm"])

KERNEL_NAMES = {"conv": "weights", "depthwise": "depthwise_weights"}


def mobilenet_v1_depth(depth, depth_multiplier):
  """Slim's thinning rule: scale, truncate, and keep at least 8 channels."""
  return max(int(depth * depth_multiplier), MOBILENET_V1_MIN_DEPTH)


def mobilenet_v1_body(depth_multiplier):
  """Returns the V1 convolutional layers in graph order."""
  layers = []
  in_depth = 3
  for i, conv_def in enumerate(MOBILENET_V1_CONV_DEFS):
    out_depth = mobilenet_v1_depth(conv_def.depth, depth_multiplier)
    if isinstance(conv_def, Conv):
      layers.append(Layer(f"Conv2d_{i}", "conv",
                          (*conv_def.kernel, in_depth, out_depth),
                          conv_def.stride, out_depth, True))
    else:
      layers.append(Layer(f"Conv2d_{i}_depthwise", "depthwise",
                          (*conv_def.kernel, in_depth, 1), conv_def.stride,
                          in_depth, True))
      layers.append(Layer(f"Conv2d_{i}_pointwise", "conv",
                          (1, 1, in_depth, out_depth), 1, out_depth, True))
    in_depth = out_depth
  return layers


def logits_layer(num_features_in, num_classes):
  """The classifier: a 1x1 convolution with biases over the pooled features."""
  return Layer("Logits/Conv2d_1c_1x1", "conv",
               (1, 1, num_features_in, num_classes), 1, num_classes, False)


def variable_layout(architecture, depth_multiplier, num_classes=NUM_CLASSES):
  """Returns {checkpoint variable name: shape} of the network's variables.

  With the default `num_classes` this is the layout of the published
  checkpoints (which also hold bookkeeping such as `global_step`, which export
  ignores); with `num_classes=None` it is the subset a feature vector module
  holds.
  """
  layers = list(_body(architecture, depth_multiplier))
  if num_classes is not None:
    layers.append(logits_layer(layers[-1].depth, num_classes))
  layout = {}
  for layer in layers:
    prefix = f"{MOBILENET_V1_SCOPE}/{layer.scope}"
    layout[f"{prefix}/{KERNEL_NAMES[layer.op]}"] = layer.kernel_shape
    if layer.batch_norm:
      for param in BATCH_NORM_PARAMS:
        layout[f"{prefix}/BatchNorm/{param}"] = (layer.depth,)
    else:
      layout[f"{prefix}/biases"] = (layer.depth,)
  return layout


def _body(architecture, depth_multiplier):
  if architecture == "mobilenet_v1":
    return mobilenet_v1_body(depth_multiplier)
  raise ValueError(f"unknown architecture {architecture!r}")


def num_features(architecture, depth_multiplier):
  """Width of the image feature vector (the pooled last conv layer)."""
  return _body(architecture, depth_multiplier)[-1].depth

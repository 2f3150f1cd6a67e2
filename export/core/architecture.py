"""MobileNet architectures as data: layer tables, depths and variable layouts.

Nothing here imports TensorFlow. The graph builder in `export.nets` walks these
tables to build TF-Slim graphs, and the card generator and the checkpoint code
read the same tables to compute facts (feature width, class count, variable
names and shapes) without building a graph. Tests check that the two agree.

Both networks are a list of blocks of layers, each layer a convolution (full
or depthwise) with batch norm, then a global pool and a 1x1 convolution as the
classifier. The tables and depth rules follow TF-Slim's `nets/mobilenet_v1.py`
and `nets/mobilenet/mobilenet_v2.py`, hence the published checkpoints.
"""

import collections
import dataclasses

NUM_CLASSES = 1001  # ImageNet's 1000 classes plus "background" at index 0.
BATCH_NORM_PARAMS = ("beta", "gamma", "moving_mean", "moving_variance")
RELU6 = "relu6"
# Global pools of the heads (nets.common): a mean, or an AvgPool over the
# whole feature map.
MEAN_POOL = "mean"
AVG_POOL = "avg_pool"
# Variables tf.contrib.quantize adds per layer (scalars "<context>/<name>/min"
# and ".../max"): the range of the (batch-norm folded) weights, and the moving
# range of the layer's output (after its activation, or after the bias add of
# the classifier). Its context is the name scope of the layer's ops, not of
# its variables: see `op_scope`.
QUANT_RANGES = ("weights_quant", "act_quant")
# The range tf.contrib.quantize adds after a residual add that follows an
# activation (V2's project layer has an identity one): a post-activation
# bypass, in the context of the add's name scope, the block.
BYPASS_QUANT_RANGE = "post_activation_bypass_quant"

# A layer as the graph and the checkpoint see it: its scope below the network
# scope, its op ("conv" or "depthwise"), kernel shape, stride, output depth,
# whether batch norm follows it (else it has biases) and its activation
# (RELU6, or None for a linear layer).
Layer = collections.namedtuple(
    "Layer", ["scope", "op", "kernel_shape", "stride", "depth", "batch_norm",
              "activation"])
# Layers applied in sequence; with `residual`, the block's input is added to
# its output.
Block = collections.namedtuple("Block", ["layers", "residual"])

KERNEL_NAMES = {"conv": "weights", "depthwise": "depthwise_weights"}

# The network's end points, as TF-Slim's builders name them in their
# `end_points` (the published TF1 modules' signatures output them as
# "<network scope>/<end point>"; tests/testdata/published_endpoints):
# a block's output (V1: its layer's scope, e.g. Conv2d_1_depthwise; V2:
# layer_<n>, blocks numbered from 1); in V2's inverted residual blocks, the
# Identity ops Slim's expanded_conv puts after its expand and depthwise
# layers and after the block, as `layer_<n>/<name>`; the global pool; and
# the classifier's logits and softmax.
BLOCK_LAYER_END_POINTS = {"expand": "expansion_output",
                          "depthwise": "depthwise_output"}
BLOCK_OUTPUT_END_POINT = "output"
POOL_END_POINT = "global_pool"
LOGITS_END_POINT = "Logits"
PREDICTIONS_END_POINT = "Predictions"


def _conv(scope, kernel, stride, in_depth, depth, activation=RELU6):
  return Layer(scope, "conv", (kernel, kernel, in_depth, depth), stride,
               depth, True, activation)


def _depthwise(scope, stride, depth):
  return Layer(scope, "depthwise", (3, 3, depth, 1), stride, depth, True,
               RELU6)


# --- MobileNet V1 -------------------------------------------------------------
# (stride, depth) of the full 3x3 convolution, then of each depthwise-separable
# block (3x3 depthwise + 1x1 pointwise).
MOBILENET_V1_CONV = (2, 32)
MOBILENET_V1_SEPARABLE = ((1, 64), (2, 128), (1, 128), (2, 256), (1, 256),
                          (2, 512), (1, 512), (1, 512), (1, 512), (1, 512),
                          (1, 512), (2, 1024), (1, 1024))


def mobilenet_v1_depth(depth, depth_multiplier):
  """Slim's V1 thinning rule: scale, truncate, keep at least 8 channels."""
  return max(int(depth * depth_multiplier), 8)


def mobilenet_v1_blocks(depth_multiplier):
  stride, depth = MOBILENET_V1_CONV
  in_depth = mobilenet_v1_depth(depth, depth_multiplier)
  blocks = [Block([_conv("Conv2d_0", 3, stride, 3, in_depth)], False)]
  for i, (stride, depth) in enumerate(MOBILENET_V1_SEPARABLE, start=1):
    out_depth = mobilenet_v1_depth(depth, depth_multiplier)
    blocks.append(Block([_depthwise(f"Conv2d_{i}_depthwise", stride, in_depth)],
                        False))
    blocks.append(Block([_conv(f"Conv2d_{i}_pointwise", 1, 1, in_depth,
                               out_depth)], False))
    in_depth = out_depth
  return blocks


# --- MobileNet V2 -------------------------------------------------------------
# A 3x3 convolution, inverted residual blocks (expansion factor, stride,
# depth), and a final 1x1 convolution, as in Slim's V2_DEF.
MOBILENET_V2_CONV = (2, 32)
MOBILENET_V2_INVERTED_RESIDUALS = (
    (1, 1, 16), (6, 2, 24), (6, 1, 24), (6, 2, 32), (6, 1, 32), (6, 1, 32),
    (6, 2, 64), (6, 1, 64), (6, 1, 64), (6, 1, 64), (6, 1, 96), (6, 1, 96),
    (6, 1, 96), (6, 2, 160), (6, 1, 160), (6, 1, 160), (6, 1, 320))
MOBILENET_V2_LAST_CONV = 1280


def make_divisible(value, divisor=8, min_value=None):
  """Slim's V2 rounding: nearest multiple of `divisor`, never 10% below."""
  min_value = divisor if min_value is None else min_value
  rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
  return rounded + divisor if rounded < 0.9 * value else rounded


def mobilenet_v2_last_depth(depth_multiplier):
  # "Finegrain classification mode" of the published models: multipliers
  # below 1 are not applied to the last convolution.
  return make_divisible(MOBILENET_V2_LAST_CONV * max(depth_multiplier, 1.0))


def mobilenet_v2_blocks(depth_multiplier):
  stride, depth = MOBILENET_V2_CONV
  in_depth = make_divisible(depth * depth_multiplier)
  blocks = [Block([_conv("Conv", 3, stride, 3, in_depth)], False)]
  for i, (expansion, stride, depth) in enumerate(
      MOBILENET_V2_INVERTED_RESIDUALS):
    scope = "expanded_conv" + (f"_{i}" if i else "")
    out_depth = make_divisible(depth * depth_multiplier)
    # The first block keeps its input depth (factor 1, no rounding), and
    # Slim adds an expansion layer only where it widens the input.
    inner = (in_depth * expansion if expansion == 1
             else make_divisible(in_depth * expansion))
    layers = []
    if inner > in_depth:
      layers.append(_conv(f"{scope}/expand", 1, 1, in_depth, inner))
    layers.append(_depthwise(f"{scope}/depthwise", stride, inner))
    layers.append(_conv(f"{scope}/project", 1, 1, inner, out_depth,
                        activation=None))  # The linear bottleneck.
    blocks.append(Block(layers, stride == 1 and in_depth == out_depth))
    in_depth = out_depth
  blocks.append(Block([_conv("Conv_1", 1, 1, in_depth,
                             mobilenet_v2_last_depth(depth_multiplier))],
                      False))
  return blocks


# --- Both ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Architecture:
  """One network and the Slim training hyperparameters its graphs carry."""
  scope: str                 # Variable scope of the network.
  blocks: callable           # depth_multiplier -> [Block].
  batch_norm_decay: float    # Default momentum of the moving averages.
  dropout_keep_prob: float   # Before the classifier, in training mode.
  batch_norm_epsilon: float = 0.001
  weight_decay: float = 0.00004  # L2 on full convolutions (not depthwise).
  weights_stddev: float = 0.09   # Truncated normal initializer.
  dropout_scope: str = "Dropout"
  # The head as Slim builds it: the global pool (MEAN_POOL or AVG_POOL), the
  # name of the squeeze of the classifier's output, and of an Identity after
  # it (None: none).
  pool: str = None
  logits_squeeze: str = None
  logits_output: str = None
  # Block end points are "<prefix><n>" (n from 1), or with no prefix the
  # scope of the block's layer.
  block_end_point_prefix: str = None
  # Slim's mobilenet_v1() passes its variable scope object to
  # mobilenet_v1_base(), which re-enters it: the body's variables stay
  # "MobilenetV1/...", but its ops are named "MobilenetV1/MobilenetV1/...".
  body_reenters_scope: bool = False


ARCHITECTURES = {
    # mobilenet_v1_arg_scope() and mobilenet_v1() defaults.
    "mobilenet_v1": Architecture("MobilenetV1", mobilenet_v1_blocks,
                                 batch_norm_decay=0.9997,
                                 dropout_keep_prob=0.999,
                                 dropout_scope="Dropout_1b",
                                 pool=MEAN_POOL,
                                 logits_squeeze="SpatialSqueeze",
                                 body_reenters_scope=True),
    # mobilenet.training_scope() defaults; the head of mobilenet.mobilenet().
    "mobilenet_v2": Architecture("MobilenetV2", mobilenet_v2_blocks,
                                 batch_norm_decay=0.997,
                                 dropout_keep_prob=0.8,
                                 pool=AVG_POOL,
                                 logits_squeeze="Squeeze",
                                 logits_output="output",
                                 block_end_point_prefix="layer_"),
}


def get(architecture):
  try:
    return ARCHITECTURES[architecture]
  except KeyError:
    raise ValueError(f"unknown architecture {architecture!r}; have "
                     f"{sorted(ARCHITECTURES)}") from None


LOGITS_SCOPE = "Logits/Conv2d_1c_1x1"


def logits_layer(num_features_in, num_classes):
  """The classifier: a 1x1 convolution with biases over the pooled features."""
  return Layer(LOGITS_SCOPE, "conv",
               (1, 1, num_features_in, num_classes), 1, num_classes, False,
               None)


def layers(architecture, depth_multiplier, num_classes=NUM_CLASSES):
  """All layers in graph order, the classifier last unless num_classes=None."""
  body = [layer for block in get(architecture).blocks(depth_multiplier)
          for layer in block.layers]
  if num_classes is not None:
    body.append(logits_layer(body[-1].depth, num_classes))
  return body


def kernel_name(architecture, layer):
  return f"{get(architecture).scope}/{layer.scope}/{KERNEL_NAMES[layer.op]}"


def body_op_scope(architecture):
  """Name scope of the body's ops (see Architecture.body_reenters_scope)."""
  scope = get(architecture).scope
  return f"{scope}/{scope}" if get(architecture).body_reenters_scope else scope


def op_scope(architecture, layer):
  """Name scope of `layer`'s ops in Slim's graph. The classifier is built in
  the network's own scope, the body in `body_op_scope`."""
  if layer.scope == LOGITS_SCOPE:
    return f"{get(architecture).scope}/{layer.scope}"
  return f"{body_op_scope(architecture)}/{layer.scope}"


def quant_range_names(architecture, layer):
  """{range: (min name, max name)} of the variables tf.contrib.quantize added
  for `layer`: it names them after the quantized op's name scope."""
  context = op_scope(architecture, layer)
  return {name: (f"{context}/{name}/min", f"{context}/{name}/max")
          for name in QUANT_RANGES}


def block_scope(block):
  """The scope of a block of several layers (V2's `expanded_conv_<i>`)."""
  return block.layers[-1].scope.rsplit("/", 1)[0]


def block_end_point(architecture, index, block):
  """The end point name of the `index`th block's output (see
  BLOCK_LAYER_END_POINTS)."""
  prefix = get(architecture).block_end_point_prefix
  return f"{prefix}{index + 1}" if prefix else block.layers[-1].scope


def bypass_quant_range_names(architecture, block):
  """(min name, max name) of the range of a residual `block`'s add."""
  context = (f"{body_op_scope(architecture)}/{block_scope(block)}/"
             f"{BYPASS_QUANT_RANGE}")
  return f"{context}/min", f"{context}/max"


def variable_layout(architecture, depth_multiplier, num_classes=NUM_CLASSES,
                    quantized=False):
  """Returns {checkpoint variable name: shape} of the network's variables.

  With the default `num_classes` this is the layout of the published
  checkpoints (which also hold bookkeeping such as `global_step`, which export
  ignores); with `num_classes=None` it is the subset a feature vector module
  holds. `quantized` adds the ranges of the `*_quant` checkpoints.
  """
  scope = get(architecture).scope
  layout = {}
  for layer in layers(architecture, depth_multiplier, num_classes):
    layout[kernel_name(architecture, layer)] = layer.kernel_shape
    if layer.batch_norm:
      for param in BATCH_NORM_PARAMS:
        layout[f"{scope}/{layer.scope}/BatchNorm/{param}"] = (layer.depth,)
    else:
      layout[f"{scope}/{layer.scope}/biases"] = (layer.depth,)
    if quantized:
      for names in quant_range_names(architecture, layer).values():
        layout.update({name: () for name in names})
  if quantized:
    for block in get(architecture).blocks(depth_multiplier):
      if block.residual:
        layout.update({name: () for name in
                       bypass_quant_range_names(architecture, block)})
  return layout


def num_features(architecture, depth_multiplier):
  """Width of the image feature vector (the pooled last conv layer)."""
  return layers(architecture, depth_multiplier, num_classes=None)[-1].depth


def rounds_depths(architecture, depth_multiplier):
  """Whether V2's rounding to multiples of 8 changes any depth x multiplier.

  (Never at multiplier 1.0, whose depths are multiples of 8 already. V1's
  thinning truncates instead and is not covered.)
  """
  if architecture != "mobilenet_v2":
    return False
  depths = [MOBILENET_V2_CONV[1]] + [d for _, _, d in
                                     MOBILENET_V2_INVERTED_RESIDUALS]
  if depth_multiplier > 1:
    depths.append(MOBILENET_V2_LAST_CONV)
  return any(make_divisible(d * depth_multiplier) != d * depth_multiplier
             for d in depths)

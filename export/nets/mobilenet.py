"""MobileNet V1 and V2 as TF-Slim graphs, walked from `architecture`'s tables.

Variable names and shapes are those of TF-Slim's `nets/mobilenet_v1.py` and
`nets/mobilenet/mobilenet_v2.py`, hence of the published checkpoints; the
Slim hyperparameters (batch norm, dropout, L2) come from the same tables.
"""

import contextlib

import tensorflow.compat.v1 as tf
import tf_slim as slim

from export.core import architecture as arch_lib
from export.nets import common

_ACTIVATIONS = {arch_lib.RELU6: tf.nn.relu6, None: None}
_POOLS = {arch_lib.MEAN_POOL: common.mean_pool,
          arch_lib.AVG_POOL: common.avg_pool}


def kernel_regularizer(arch, layer):
  """L2 on full convolutions (the classifier too), none on depthwise ones."""
  return (slim.l2_regularizer(arch.weight_decay) if layer.op == "conv"
          else None)


def regularized_kernels(architecture, depth_multiplier, num_classes):
  """{kernel variable name: regularizer}, as the graph applies them."""
  arch = arch_lib.get(architecture)
  return {arch_lib.kernel_name(architecture, layer):
              kernel_regularizer(arch, layer)
          for layer in arch_lib.layers(architecture, depth_multiplier,
                                       num_classes)
          if kernel_regularizer(arch, layer)}


def _apply_layer(net, arch, layer, is_training, batch_norm_decay, regularize):
  args = dict(
      stride=layer.stride, scope=layer.scope,
      activation_fn=_ACTIVATIONS[layer.activation],
      weights_initializer=tf.truncated_normal_initializer(
          stddev=arch.weights_stddev),
      weights_regularizer=kernel_regularizer(arch, layer) if regularize else None,
      normalizer_fn=slim.batch_norm if layer.batch_norm else None,
      normalizer_params=dict(
          is_training=is_training, center=True, scale=True,
          decay=batch_norm_decay, epsilon=arch.batch_norm_epsilon)
      if layer.batch_norm else None,
      padding="SAME")
  kernel_size = list(layer.kernel_shape[:2])
  if layer.op == "depthwise":
    # num_outputs=None makes separable_conv2d a depthwise convolution only.
    return slim.separable_conv2d(net, None, kernel_size, depth_multiplier=1,
                                 **args)
  return slim.conv2d(net, layer.depth, kernel_size, **args)


def _quant_range(root_scope, min_name, max_name):
  """The min and max variables tf.contrib.quantize keeps for one range.

  The rewrite created them at the root, named after the quantized op's name
  scope (architecture.quant_range_names), so they are made from the caller's
  root variable scope, whatever the variable scope of the layer is.
  """
  def variable(name, init):
    scope, leaf = name.rsplit("/", 1)
    with tf.variable_scope(root_scope, auxiliary_name_scope=False), \
        tf.variable_scope(scope, auxiliary_name_scope=False):
      return slim.model_variable(leaf, [], trainable=False,
                                 initializer=tf.constant_initializer(init))
  return variable(min_name, 0.0), variable(max_name, 6.0)


def _apply_quantized_layer(net, architecture, layer, root_scope, scope=None):
  """A layer as tf.contrib.quantize's eval rewrite left it.

  Batch norm is folded into the weights with the moving statistics, the
  folded weights are fake-quantized over their recorded range (narrow range,
  as for weights), and the output is fake-quantized over its moving range
  after the activation (or, for the classifier, after the bias add).
  Ops are named as the rewrite named them (e.g. Conv2D_Fold, act_quant/...).
  """
  arch = arch_lib.get(architecture)
  ranges = arch_lib.quant_range_names(architecture, layer)
  with tf.variable_scope(scope or layer.scope):
    weights = slim.model_variable(
        arch_lib.KERNEL_NAMES[layer.op], list(layer.kernel_shape),
        initializer=tf.truncated_normal_initializer(stddev=arch.weights_stddev))
    if layer.batch_norm:
      with tf.variable_scope("BatchNorm"):
        beta, gamma, mean, variance = (
            slim.model_variable(name, [layer.depth], trainable=trainable,
                                initializer=tf.constant_initializer(init))
            for name, init, trainable in (("beta", 0.0, True),
                                          ("gamma", 1.0, True),
                                          ("moving_mean", 0.0, False),
                                          ("moving_variance", 1.0, False)))
      multiplier = gamma * tf.math.rsqrt(variance + arch.batch_norm_epsilon)
      # A depthwise kernel is [h, w, in, 1]: its channels are the inputs.
      scale = (tf.reshape(multiplier, [-1, 1]) if layer.op == "depthwise"
               else multiplier)
      weights = tf.multiply(weights, scale, name="mul_fold")
      bias = tf.subtract(beta, mean * multiplier, name="bias_fold")
    else:
      bias = slim.model_variable("biases", [layer.depth],
                                 initializer=tf.zeros_initializer())
    weights_min, weights_max = _quant_range(root_scope,
                                            *ranges["weights_quant"])
    with tf.name_scope("weights_quant"):
      weights = tf.quantization.fake_quant_with_min_max_vars(
          weights, weights_min, weights_max, num_bits=8, narrow_range=True)
    strides = [1, layer.stride, layer.stride, 1]
    fold = "_Fold" if layer.batch_norm else ""
    if layer.op == "depthwise":
      net = tf.nn.depthwise_conv2d(net, weights, strides, "SAME",
                                   name="depthwise" + fold)
    else:
      net = tf.nn.conv2d(net, weights, strides, "SAME", name="Conv2D" + fold)
    net = tf.nn.bias_add(net, bias)
    if layer.activation:
      net = _ACTIVATIONS[layer.activation](net)
    act_min, act_max = _quant_range(root_scope, *ranges["act_quant"])
    with tf.name_scope("act_quant"):
      return tf.quantization.fake_quant_with_min_max_vars(
          net, act_min, act_max, num_bits=8, narrow_range=False)


def _apply_block(net, architecture, index, block, apply, end_points,
                 quantized, root_scope):
  """Applies `block`'s layers (and its residual add) to `net` as Slim does,
  recording its end points; returns its output.

  The ops Slim adds around an inverted residual block's layers (the
  Identity ops of its end points, the add, contrib.quantize's range after
  it) are in the block's name scope, e.g. MobilenetV2/expanded_conv_2/add.
  """
  name = arch_lib.block_end_point(architecture, index, block)
  if len(block.layers) == 1:
    end_points[name] = net = apply(net, block.layers[0])
    return net
  graph = tf.get_default_graph()
  block_name_scope = (f"{graph.get_name_scope()}/"
                      f"{arch_lib.block_scope(block)}/")
  block_input = net
  for layer in block.layers:
    net = apply(net, layer)
    inner = arch_lib.BLOCK_LAYER_END_POINTS.get(layer.scope.rsplit("/", 1)[1])
    if inner:
      with tf.name_scope(block_name_scope):
        net = end_points[f"{name}/{inner}"] = tf.identity(net, name=inner)
  with tf.name_scope(block_name_scope):
    if block.residual:  # Slim's `net += input_tensor`.
      net = tf.add(net, block_input, name="add")
      if quantized:  # After the add, as contrib.quantize put it.
        low, high = _quant_range(
            root_scope, *arch_lib.bypass_quant_range_names(architecture,
                                                           block))
        with tf.name_scope(arch_lib.BYPASS_QUANT_RANGE):
          net = tf.quantization.fake_quant_with_min_max_vars(
              net, low, high, num_bits=8, narrow_range=False)
    output = arch_lib.BLOCK_OUTPUT_END_POINT
    net = tf.identity(net, name=output)
  end_points[name] = end_points[f"{name}/{output}"] = net
  return net


def build(images, *, architecture, depth_multiplier, num_classes,
          is_training, batch_norm_decay=None, quantized_input_range=None,
          regularize=True):
  """Builds a MobileNet in the current graph.

  Args:
    images: float32 [batch, height, width, 3] with values in [-1, 1].
    architecture: "mobilenet_v1" or "mobilenet_v2".
    depth_multiplier: the family's width multiplier.
    num_classes: size of the classifier, or None to build features only.
    is_training: Python bool; batch norm uses batch statistics and updates its
      moving averages (in UPDATE_OPS), and dropout is active.
    batch_norm_decay: momentum of the moving averages, a float or a scalar
      float32 tensor; default: the architecture's training value.
    quantized_input_range: if set, (low, high): builds the graph
      instrumented for quantization (inference only), whose input is
      fake-quantized to [low, high].
    regularize: whether to add the L2 losses of the kernels to
      REGULARIZATION_LOSSES. A caller that exposes them otherwise (see
      `regularized_kernels`) leaves them out of the graph.

  Returns:
    NetOutputs(features=[batch, num_features], logits=[batch, num_classes] or
    None, end_points={Slim's end point name: tensor}, in graph order: each
    block's output (and V2's `layer_<n>/<inner>` ones), `global_pool`, and
    with a classifier `Logits` and `Predictions` (softmax)). In quantized
    graphs a layer's end point is its fake-quantized output, the tensor the
    next layer reads.
  """
  arch = arch_lib.get(architecture)
  quantized = quantized_input_range is not None
  if quantized and is_training:
    raise ValueError("quantized graphs are for inference only")
  if batch_norm_decay is None:
    batch_norm_decay = arch.batch_norm_decay

  root_scope = tf.get_variable_scope()
  end_points = {}

  def apply(net, layer):
    if quantized:
      return _apply_quantized_layer(net, architecture, layer, root_scope)
    return _apply_layer(net, arch, layer, is_training, batch_norm_decay,
                        regularize)

  with tf.variable_scope(arch.scope) as net_scope:
    net = images
    if quantized:
      net = tf.quantization.fake_quant_with_min_max_args(
          net, *quantized_input_range, num_bits=8,
          name="input_quant")
    # As in Slim, so ops carry the published names (see body_reenters_scope).
    with (tf.variable_scope(net_scope) if arch.body_reenters_scope
          else contextlib.nullcontext()):
      for index, block in enumerate(arch.blocks(depth_multiplier)):
        net = _apply_block(net, architecture, index, block, apply,
                           end_points, quantized, root_scope)
    with tf.variable_scope("Logits"):
      pooled = _POOLS[arch.pool](net)
      end_points[arch_lib.POOL_END_POINT] = pooled
      features = common.features(pooled)
      if num_classes is None:
        return common.NetOutputs(features, None, end_points)
      head = arch_lib.logits_layer(net.shape[-1], num_classes)
      head_scope = head.scope.split("/")[-1]  # In "Logits".
      if quantized:
        logits = _apply_quantized_layer(pooled, architecture, head, root_scope,
                                        scope=head_scope)
      else:
        net = slim.dropout(pooled, keep_prob=arch.dropout_keep_prob,
                           is_training=is_training, scope=arch.dropout_scope)
        logits = slim.conv2d(
            net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
            weights_initializer=tf.truncated_normal_initializer(
                stddev=arch.weights_stddev),
            weights_regularizer=(kernel_regularizer(arch, head) if regularize
                                 else None),
            biases_initializer=tf.zeros_initializer(), scope=head_scope)
      logits = tf.squeeze(logits, [1, 2], name=arch.logits_squeeze)
      if arch.logits_output:
        logits = tf.identity(logits, name=arch.logits_output)
    end_points[arch_lib.LOGITS_END_POINT] = logits
    # Slim's prediction_fn, in the network's scope (.../Predictions/Reshape_1).
    end_points[arch_lib.PREDICTIONS_END_POINT] = slim.softmax(
        logits, scope=arch_lib.PREDICTIONS_END_POINT)
  return common.NetOutputs(features, logits, end_points)

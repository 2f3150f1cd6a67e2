"""MobileNet V1 and V2 as TF-Slim graphs, walked from `architecture`'s tables.

Variable names and shapes are those of TF-Slim's `nets/mobilenet_v1.py` and
`nets/mobilenet/mobilenet_v2.py`, hence of the published checkpoints; the
Slim hyperparameters (batch norm, dropout, L2) come from the same tables.
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from export import architecture as arch_lib
from export.nets import common

_ACTIVATIONS = {arch_lib.RELU6: tf.nn.relu6, None: None}


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


def _apply_layer(net, arch, layer, is_training, batch_norm_decay):
  args = dict(
      stride=layer.stride, scope=layer.scope,
      activation_fn=_ACTIVATIONS[layer.activation],
      weights_initializer=tf.truncated_normal_initializer(
          stddev=arch.weights_stddev),
      weights_regularizer=kernel_regularizer(arch, layer),
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


def build(images, *, architecture, depth_multiplier, num_classes,
          is_training, batch_norm_decay=None):
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

  Returns:
    NetOutputs(features=[batch, num_features], logits=[batch, num_classes] or
    None).
  """
  arch = arch_lib.get(architecture)
  if batch_norm_decay is None:
    batch_norm_decay = arch.batch_norm_decay
  with tf.variable_scope(arch.scope):
    net = images
    for block in arch.blocks(depth_multiplier):
      block_input = net
      for layer in block.layers:
        net = _apply_layer(net, arch, layer, is_training, batch_norm_decay)
      if block.residual:
        net = tf.add(net, block_input)
    with tf.variable_scope("Logits"):
      pooled = common.global_pool(net)
      features = tf.squeeze(pooled, [1, 2], name="features")
      if num_classes is None:
        return common.NetOutputs(features=features, logits=None)
      head = arch_lib.logits_layer(net.shape[-1], num_classes)
      net = slim.dropout(pooled, keep_prob=arch.dropout_keep_prob,
                         is_training=is_training, scope=arch.dropout_scope)
      logits = slim.conv2d(
          net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
          weights_initializer=tf.truncated_normal_initializer(
              stddev=arch.weights_stddev),
          weights_regularizer=kernel_regularizer(arch, head),
          biases_initializer=tf.zeros_initializer(),
          scope=head.scope.split("/")[-1])
      logits = tf.squeeze(logits, [1, 2], name="SpatialSqueeze")
  return common.NetOutputs(features=features, logits=logits)

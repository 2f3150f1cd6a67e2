"""MobileNet V1 as a TF-Slim graph, walked from `architecture`'s layer table.

Variable names and shapes are those of TF-Slim's `nets/mobilenet_v1.py` and
hence of the published `mobilenet_v1_2018_02_22` checkpoints.
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from export import architecture
from export.nets import common

# TF-Slim's mobilenet_v1_arg_scope() and mobilenet_v1() defaults.
WEIGHT_DECAY = 0.00004
WEIGHTS_STDDEV = 0.09
BATCH_NORM_EPSILON = 0.001
DEFAULT_BATCH_NORM_DECAY = 0.9997
DROPOUT_KEEP_PROB = 0.999


def kernel_regularizer(layer):
  """Slim's MobileNet V1 arg scope: L2 on full convolutions, not depthwise."""
  return slim.l2_regularizer(WEIGHT_DECAY) if layer.op == "conv" else None


def regularized_kernels(depth_multiplier, num_classes):
  """{kernel variable name: regularizer}, as the graph applies them."""
  body = architecture.mobilenet_v1_body(depth_multiplier)
  layers = body + ([architecture.logits_layer(body[-1].depth, num_classes)]
                   if num_classes else [])
  return {f"{architecture.MOBILENET_V1_SCOPE}/{layer.scope}/"
          f"{architecture.KERNEL_NAMES[layer.op]}": kernel_regularizer(layer)
          for layer in layers if kernel_regularizer(layer)}


def arg_scope(is_training, batch_norm_decay):
  """Slim defaults of MobileNet V1: ReLU6 after batch norm."""
  batch_norm_params = dict(is_training=is_training, center=True, scale=True,
                           decay=batch_norm_decay, epsilon=BATCH_NORM_EPSILON)
  with slim.arg_scope(
      [slim.conv2d, slim.separable_conv2d],
      weights_initializer=tf.truncated_normal_initializer(
          stddev=WEIGHTS_STDDEV),
      activation_fn=tf.nn.relu6, normalizer_fn=slim.batch_norm,
      padding="SAME"):
    with slim.arg_scope([slim.batch_norm], **batch_norm_params) as scope:
      return scope


def _apply_layer(net, layer):
  kernel_size = list(layer.kernel_shape[:2])
  if layer.op == "depthwise":
    # num_outputs=None makes separable_conv2d a depthwise convolution only.
    return slim.separable_conv2d(net, None, kernel_size, depth_multiplier=1,
                                 stride=layer.stride, scope=layer.scope,
                                 weights_regularizer=kernel_regularizer(layer))
  return slim.conv2d(net, layer.depth, kernel_size, stride=layer.stride,
                     scope=layer.scope,
                     weights_regularizer=kernel_regularizer(layer))


def build(images, *, depth_multiplier, num_classes, is_training,
          batch_norm_decay=DEFAULT_BATCH_NORM_DECAY):
  """Builds MobileNet V1 in the current graph.

  Args:
    images: float32 [batch, height, width, 3] with values in [-1, 1].
    depth_multiplier: the family's width multiplier (0.25 ... 1.0).
    num_classes: size of the classifier, or None to build features only.
    is_training: Python bool; batch norm uses batch statistics and updates its
      moving averages (in UPDATE_OPS), and dropout is active.
    batch_norm_decay: momentum of the moving averages, a float or a scalar
      float32 tensor.

  Returns:
    NetOutputs(features=[batch, num_features], logits=[batch, num_classes] or
    None).
  """
  body = architecture.mobilenet_v1_body(depth_multiplier)
  with slim.arg_scope(arg_scope(is_training, batch_norm_decay)):
    with tf.variable_scope(architecture.MOBILENET_V1_SCOPE):
      net = images
      for layer in body:
        net = _apply_layer(net, layer)
      with tf.variable_scope("Logits"):
        pooled = common.global_pool(net)
        features = tf.squeeze(pooled, [1, 2], name="features")
        if num_classes is None:
          return common.NetOutputs(features=features, logits=None)
        head = architecture.logits_layer(body[-1].depth, num_classes)
        net = slim.dropout(pooled, keep_prob=DROPOUT_KEEP_PROB,
                           is_training=is_training, scope="Dropout_1b")
        logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                             normalizer_fn=None,
                             weights_regularizer=kernel_regularizer(head),
                             scope=head.scope.split("/")[-1])
        logits = tf.squeeze(logits, [1, 2], name="SpatialSqueeze")
  return common.NetOutputs(features=features, logits=logits)

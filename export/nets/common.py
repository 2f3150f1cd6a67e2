"""What every network builder shares: its outputs and the image scaling."""

import collections

import tensorflow.compat.v1 as tf

# features: [batch, num_features], the pooled output of the last conv layer.
# logits: [batch, num_classes], or None when built without the classifier.
NetOutputs = collections.namedtuple("NetOutputs", ["features", "logits"])


def scale_images(images):
  """Maps TF Hub's common image input range [0, 1] to the [-1, 1] of training."""
  return tf.subtract(tf.multiply(images, 2.0), 1.0, name="scaled_images")


def global_pool(net):
  """Averages over all spatial positions, for any input size; keeps 4-D."""
  return tf.reduce_mean(net, axis=[1, 2], keepdims=True, name="global_pool")

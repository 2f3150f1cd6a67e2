"""What every network builder shares: its outputs and the image scaling."""

import collections

import tensorflow.compat.v1 as tf

# features: [batch, num_features], the pooled output of the last conv layer.
# logits: [batch, num_classes], or None when built without the classifier.
# end_points: {TF-Slim end point name: tensor} (nets.mobilenet.build).
NetOutputs = collections.namedtuple("NetOutputs",
                                    ["features", "logits", "end_points"])


# Name scopes of the published modules' graphs around the Slim network
# (tests/testdata/published_tfjs): the input scaling (`hub_input/Mul`, then
# `hub_input/Sub`), and the feature vector's squeeze (`hub_output/
# feature_vector/SpatialSqueeze`, seen in a V1 feature vector model; V2's
# is taken to be the same, as the same code made both families' modules).
SCALING_SCOPE = "hub_input"
FEATURES_SCOPE = "hub_output/feature_vector"


def scale_images(images, input_range=(-1.0, 1.0)):
  """Maps TF Hub's common image input range [0, 1] linearly to the
  `input_range` of training ([-1, 1]: Slim's; a model of one's own may have
  seen another)."""
  low, high = input_range
  with tf.name_scope(SCALING_SCOPE):
    return tf.subtract(tf.multiply(images, high - low), -low)


def features(pooled):
  """The feature vector [batch, depth] of the pooled feature map [batch, 1,
  1, depth], at the graph's root like the input scaling."""
  with tf.name_scope(f"{FEATURES_SCOPE}/"):  # Absolute: not in Logits/.
    return tf.squeeze(pooled, [1, 2], name="SpatialSqueeze")


def mean_pool(net):
  """TF-Slim's MobileNet V1 head: the mean over all spatial positions, for
  any input size; keeps 4-D. (Op `global_pool`.)"""
  return tf.reduce_mean(net, axis=[1, 2], keepdims=True, name="global_pool")


def avg_pool(net):
  """TF-Slim's MobileNet V2 head (`mobilenet.global_pool`): an AvgPool whose
  window is the whole feature map (op `AvgPool`). Slim feeds the window size
  as a tensor where the map's size is unknown; AvgPool takes a static one,
  so such graphs average with a mean instead (no published V2 module takes
  other sizes)."""
  height, width = net.shape.as_list()[1:3]
  if height is None or width is None:
    return tf.reduce_mean(net, axis=[1, 2], keepdims=True, name="AvgPool")
  return tf.nn.avg_pool2d(net, ksize=[1, height, width, 1],
                          strides=[1, 1, 1, 1], padding="VALID")

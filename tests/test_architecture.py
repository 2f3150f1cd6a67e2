"""The layer tables agree with the Slim graphs built from them."""

import pytest

from export import architecture


@pytest.mark.parametrize("depth_multiplier", [0.25, 0.5, 0.75, 1.0])
def test_v1_graph_variables_are_the_published_layout(depth_multiplier):
  import tensorflow.compat.v1 as tf
  from export import nets
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [None, 128, 128, 3])
    out = nets.build("mobilenet_v1", images,
                     depth_multiplier=depth_multiplier, num_classes=1001,
                     is_training=False)
    have = {v.op.name: tuple(v.shape.as_list())
            for v in tf.global_variables()}
  assert have == architecture.variable_layout("mobilenet_v1",
                                              depth_multiplier)
  assert out.features.shape.as_list() == [
      None, architecture.num_features("mobilenet_v1", depth_multiplier)]
  assert out.logits.shape.as_list() == [None, 1001]


def test_v1_published_names_and_shapes():
  layout = architecture.variable_layout("mobilenet_v1", 0.5)
  assert layout["MobilenetV1/Conv2d_0/weights"] == (3, 3, 3, 16)
  assert layout["MobilenetV1/Conv2d_1_depthwise/depthwise_weights"] == (
      3, 3, 16, 1)
  assert layout["MobilenetV1/Conv2d_13_pointwise/weights"] == (1, 1, 512, 512)
  assert layout["MobilenetV1/Conv2d_13_pointwise/BatchNorm/moving_variance"] \
      == (512,)
  assert layout["MobilenetV1/Logits/Conv2d_1c_1x1/weights"] == (
      1, 1, 512, 1001)
  assert layout["MobilenetV1/Logits/Conv2d_1c_1x1/biases"] == (1001,)
  # 27 conv layers x (kernel + 4 batch norm params), plus logits.
  assert len(layout) == 27 * 5 + 2
  # A feature vector module leaves out the classifier.
  assert set(layout) - set(architecture.variable_layout(
      "mobilenet_v1", 0.5, num_classes=None)) == {
          "MobilenetV1/Logits/Conv2d_1c_1x1/weights",
          "MobilenetV1/Logits/Conv2d_1c_1x1/biases"}


@pytest.mark.parametrize("depth_multiplier,width",
                         [(0.25, 256), (0.5, 512), (0.75, 768), (1.0, 1024)])
def test_v1_feature_width_is_1024_times_multiplier(depth_multiplier, width):
  assert architecture.num_features("mobilenet_v1", depth_multiplier) == width


def test_min_depth_applies_to_thin_layers():
  # 32 * 0.25 = 8 stays 8; Slim never goes below 8 channels.
  assert architecture.mobilenet_v1_depth(32, 0.25) == 8
  assert architecture.mobilenet_v1_depth(16, 0.25) == 8

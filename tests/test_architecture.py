"""The layer tables agree with the Slim graphs built from them."""

import pytest

from export.core import architecture


@pytest.mark.parametrize("arch,depth_multiplier",
                         [("mobilenet_v1", dm) for dm in (0.25, 0.5, 0.75, 1.0)]
                         + [("mobilenet_v2", dm)
                            for dm in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)])
def test_graph_variables_are_the_published_layout(arch, depth_multiplier):
  import tensorflow.compat.v1 as tf
  from export import nets
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [None, 96, 96, 3])
    out = nets.build(arch, images, depth_multiplier=depth_multiplier,
                     num_classes=1001, is_training=False)
    have = {v.op.name: tuple(v.shape.as_list())
            for v in tf.global_variables()}
  assert have == architecture.variable_layout(arch, depth_multiplier)
  assert out.features.shape.as_list() == [
      None, architecture.num_features(arch, depth_multiplier)]
  assert out.logits.shape.as_list() == [None, 1001]


def test_v2_published_names_and_shapes():
  layout = architecture.variable_layout("mobilenet_v2", 1.0)
  assert layout["MobilenetV2/Conv/weights"] == (3, 3, 3, 32)
  # The first inverted residual has no expansion layer (factor 1).
  assert "MobilenetV2/expanded_conv/expand/weights" not in layout
  assert layout["MobilenetV2/expanded_conv/depthwise/depthwise_weights"] == (
      3, 3, 32, 1)
  assert layout["MobilenetV2/expanded_conv/project/weights"] == (1, 1, 32, 16)
  assert layout["MobilenetV2/expanded_conv_1/expand/weights"] == (1, 1, 16, 96)
  assert layout["MobilenetV2/expanded_conv_16/project/weights"] == (
      1, 1, 960, 320)
  assert layout["MobilenetV2/Conv_1/weights"] == (1, 1, 320, 1280)
  assert layout["MobilenetV2/Conv_1/BatchNorm/gamma"] == (1280,)
  assert layout["MobilenetV2/Logits/Conv2d_1c_1x1/weights"] == (
      1, 1, 1280, 1001)
  # 52 conv layers x (kernel + 4 batch norm params), plus logits.
  assert len(layout) == 52 * 5 + 2


def test_v2_depths_are_multiples_of_8():
  layout = architecture.variable_layout("mobilenet_v2", 0.35)
  assert layout["MobilenetV2/Conv/weights"] == (3, 3, 3, 16)  # 11.2 -> 16.
  assert all(shape[-1] % 8 == 0 for name, shape in layout.items()
             if name.endswith("/weights") and "Logits" not in name)


@pytest.mark.parametrize("depth_multiplier,width",
                         [(0.35, 1280), (0.5, 1280), (0.75, 1280),
                          (1.0, 1280), (1.3, 1664), (1.4, 1792)])
def test_v2_feature_width(depth_multiplier, width):
  assert architecture.num_features("mobilenet_v2", depth_multiplier) == width


def test_v2_residual_blocks_are_stride_1_same_depth():
  blocks = architecture.mobilenet_v2_blocks(1.0)
  residual = [b.layers[-1].scope.split("/")[0] for b in blocks if b.residual]
  assert residual == [f"expanded_conv_{i}"
                      for i in (2, 4, 5, 7, 8, 9, 11, 12, 14, 15)]


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


@pytest.mark.parametrize("dm, rounds", [(0.35, True), (0.5, True),
                                        (0.75, True), (1.0, False),
                                        (1.3, True), (1.4, True)])
def test_v2_rounds_depths_except_at_multiplier_one(dm, rounds):
  # Stated by the V2 cards when it happens: "rounds feature depths to
  # multiples of 8"; at 1.0 every depth already is one.
  assert architecture.rounds_depths("mobilenet_v2", dm) is rounds
  assert not architecture.rounds_depths("mobilenet_v1", dm)

"""The exporter's variables are the published checkpoints' (testdata table).

The table is written from public evidence, apart from the exporter (see
testdata/published_layouts/README.md); these tests fail on a wrong name,
shape or layer in the exporter's tables, its graphs or its synthetic
checkpoints, however well they agree with each other.
"""

import pytest

from export.core import architecture
from export.core import config
from export.sources import synthetic as synthetic_checkpoint
from tests import published_layouts

CHECKPOINTS = sorted(published_layouts.CHECKPOINTS)


def _diff(have, want):
  """Readable differences of two {name: shape} layouts ([] if equal)."""
  lines = [f"unexpected {n} {have[n]}" for n in sorted(set(have) - set(want))]
  lines += [f"missing {n} {want[n]}" for n in sorted(set(want) - set(have))]
  lines += [f"shape of {n}: {have[n]}, published {want[n]}"
            for n in sorted(set(have) & set(want)) if have[n] != want[n]]
  return lines


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_expected_layout_is_published(checkpoint):
  arch, dm, quantized = published_layouts.CHECKPOINTS[checkpoint]
  have = architecture.variable_layout(arch, dm, quantized=quantized)
  assert _diff(have, published_layouts.layout(checkpoint)) == []


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_graph_variables_are_published(checkpoint):
  import tensorflow.compat.v1 as tf
  from export import nets
  arch, dm, quantized = published_layouts.CHECKPOINTS[checkpoint]
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [None, 96, 96, 3])
    nets.build(arch, images, depth_multiplier=dm, num_classes=1001,
               is_training=False,
               quantized_input_range=(-1.0, 1.0) if quantized else None)
    have = {v.op.name: tuple(v.shape.as_list())
            for v in tf.global_variables()}
  assert _diff(have, published_layouts.layout(checkpoint)) == []


@pytest.mark.parametrize("name,checkpoint", [
    ("v1_100_224", "mobilenet_v1_1.0_224"),
    ("v1_025_128_quant", "mobilenet_v1_0.25_128_quant"),
    ("v1_100_224_quant", "mobilenet_v1_1.0_224_quant"),
    ("v2_100_224", "mobilenet_v2_1.0_224"),
    ("v2_140_224", "mobilenet_v2_1.4_224"),
    ("v2_100_224_quant", "mobilenet_v2_1.0_224_quant")])
def test_synthetic_checkpoints_have_the_published_layout(name, checkpoint):
  cfg = config.load(name)
  assert cfg.checkpoint.prefix == {
      # A training checkpoint in its own archive (testdata README, source 4).
      "mobilenet_v2_1.0_224_quant": "model.ckpt-2685865"}.get(
          checkpoint, checkpoint + ".ckpt")
  values = synthetic_checkpoint.synthetic_values(cfg)
  have = {n: tuple(v.shape) for n, v in values.items()}
  assert _diff(have, published_layouts.layout(checkpoint)) == []


def test_quant_ranges_follow_op_names_not_variable_scopes():
  layout = published_layouts.layout("mobilenet_v1_0.25_128_quant")
  # The names the exporter used before: a checkpoint with them is not the
  # published one, and the comparison above would report each.
  old = {n.replace("MobilenetV1/MobilenetV1/", "MobilenetV1/"): s
         for n, s in layout.items()}
  problems = _diff(old, layout)
  assert len(problems) == 2 * 27 * 4  # 108 unexpected, 108 missing.
  assert "missing MobilenetV1/MobilenetV1/Conv2d_0/act_quant/min ()" in problems
  # The classifier's ranges keep a single MobilenetV1: built outside the
  # re-entered scope.
  assert "MobilenetV1/Logits/Conv2d_1c_1x1/act_quant/max" in layout
  assert not any(n.startswith("MobilenetV1/MobilenetV1/Logits")
                 for n in layout)


def test_every_published_kernel_has_batch_norm_or_biases():
  # A sanity check of the table itself: 27 (V1) or 52 (V2) conv layers with
  # batch norm, and only the classifier with biases.
  for checkpoint in CHECKPOINTS:
    layout = published_layouts.layout(checkpoint)
    kernels = [n for n in layout if n.endswith("weights")]
    biases = [n for n in layout if n.endswith("/biases")]
    gammas = [n for n in layout if n.endswith("/gamma")]
    assert len(biases) == 1 and "Logits/Conv2d_1c_1x1" in biases[0]
    assert len(kernels) == len(gammas) + 1
    assert len(gammas) == (27 if "v1" in checkpoint else 52)
    if checkpoint.endswith("_quant"):  # Ranges of each layer, and V2's adds.
      ranges = [n for n in layout if n.endswith("_quant/min")]
      assert len(ranges) == 2 * len(kernels) + (
          10 if "v2" in checkpoint else 0)

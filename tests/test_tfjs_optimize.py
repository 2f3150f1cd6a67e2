"""The TF.js writer's vectorized batch norm fold (export/formats/tfjs_optimize)
against the converter's own `optimize_graph` (tensorflowjs 4.22.0, its
element-by-element fold), on the graphs the exporter freezes: the same
nodes in the same order with the same attributes, and so the same weight
bytes. (tests/test_tfjs.py also compares whole models with the converter's
TF Hub path run on `hub.Module` in the legacy venv.)
"""

import numpy as np
import pytest

# (config, kind, TF1 version of the parent): both architectures, both kinds,
# a fixed and a variable input size, depthwise multipliers of 1 throughout.
CASES = [("v1_025_128", "classification", 1),
         ("v1_025_128", "feature_vector", 3),
         ("v2_035_96", "classification", 3),
         ("v2_035_96", "feature_vector", 1)]


def _frozen(name, kind, version):
  """(the frozen graph the TF.js writer converts, its output op name) of a
  config's module, from synthetic values."""
  from export.core import config
  from export.core import signatures
  from export.formats import hub_v1
  from export.formats import tfjs
  from export.pipeline import exporter
  from export.sources import synthetic
  cfg = config.load(name)
  module = next(m for m in cfg.modules if m.is_tfjs and m.kind == kind
                and m.version == version)
  iface = signatures.interface(module)
  values = synthetic.synthetic_values(cfg)
  values = {n: values[n] for n in exporter.group_layout(cfg, [module])}
  writer = hub_v1.Writer(cfg, iface.network, values)
  graph, tensors = writer.graph(training=False)
  output = tensors[signatures.tf1_signatures(iface)[tfjs.SIGNATURE]
                   .output].op.name
  return tfjs.frozen_graph(graph.as_graph_def(),
                           tensors[signatures.IMAGES_INPUT].op.name, output,
                           values), output


def _optimized(optimize, frozen, output):
  import tensorflow.compat.v1 as tf
  from export.formats import tfjs
  from export.formats import tfjs_converter
  converter = tfjs_converter.load()
  with tf.Graph().as_default() as graph:
    tf.import_graph_def(frozen, name="")
  signature = converter._build_signature_def(  # pylint: disable=protected-access
      graph, [graph.get_tensor_by_name("images:0")],
      [graph.get_tensor_by_name(f"{tfjs.APPLY_SCOPE}/{output}:0")])
  return optimize(converter, graph, signature)


@pytest.mark.parametrize("name,kind,version", CASES)
def test_vectorized_fold_optimizes_as_the_converter(name, kind, version):
  from export.formats import tfjs_optimize
  frozen, output = _frozen(name, kind, version)
  reference = _optimized(lambda c, g, s: c.optimize_graph(g, s), frozen,
                         output)
  ours = _optimized(tfjs_optimize.optimize_graph, frozen, output)
  assert [n.name for n in ours.node] == [n.name for n in reference.node]
  for mine, theirs in zip(ours.node, reference.node):
    assert mine == theirs, mine.name
  assert ours.SerializeToString(deterministic=True) == \
      reference.SerializeToString(deterministic=True)
  # The folds did happen: no batch norm is left, convolutions are fused.
  ops = {n.op for n in ours.node}
  assert not ops & {"FusedBatchNorm", "FusedBatchNormV3"}
  assert "_FusedConv2D" in ops and "FusedDepthwiseConv2dNative" in ops


def test_fold_rounds_each_weight_as_the_converter():
  """The scale is float64 and each product is rounded to float32 once: on
  values where float32 arithmetic would round differently, the bits are
  the converter's (its element loop, run here)."""
  import math
  from export.formats import tfjs_optimize
  rng = np.random.default_rng(0)
  weights = rng.normal(size=(3, 3, 4, 2)).astype(np.float32)
  scale = (1.0 / np.vectorize(math.sqrt)(
      rng.uniform(0.1, 2, 8).astype(np.float32) + 0.001)) * rng.normal(
          size=8).astype(np.float32)
  expected = np.copy(weights)
  it = np.nditer(expected, flags=["multi_index"], op_flags=["readwrite"])
  while not it.finished:  # The converter's loop for depthwise weights.
    it[0] *= scale[it.multi_index[2] * 2 + it.multi_index[3]]
    it.iternext()
  got = tfjs_optimize._scaled(weights, scale, "DepthwiseConv2dNative")  # pylint: disable=protected-access
  assert got.dtype == np.float32
  assert got.tobytes() == expected.tobytes()
  # Rounded in float32 instead, some bits differ: the check can fail.
  single = weights * scale.astype(np.float32).reshape(4, 2)
  assert single.tobytes() != expected.tobytes()


def test_fold_refuses_a_batch_norm_it_cannot_fold():
  """Where the converter would skip a node with a warning (and write
  another model), the fold stops, naming the node."""
  import tensorflow.compat.v1 as tf
  from export.formats import tfjs_optimize
  with tf.Graph().as_default() as graph:
    x = tf.placeholder(tf.float32, [1, 4, 4, 2], name="x")
    y = tf.nn.relu(x, name="not_a_conv")
    c = [tf.constant(np.ones(2, np.float32), name=n)
         for n in ("gamma", "beta", "mean", "variance")]
    tf.nn.fused_batch_norm(y, *c, is_training=False, name="bn")
  with pytest.raises(ValueError, match="follows a Relu"):
    tfjs_optimize.fold_batch_norms(graph.as_graph_def())

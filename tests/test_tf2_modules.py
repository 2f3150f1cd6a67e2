"""TF2 SavedModels (version 4, and 5 where noted): KerasLayer, hub.load,
fine-tuning. Version 5's signature: tests/test_serving_signature.py."""

import os

import numpy as np
import pytest

from export.core import architecture
from tests import card_facts
from tests.conftest import images

TOLERANCE = 1e-5


@pytest.mark.parametrize("name", card_facts.FLOAT_SEED_CONFIGS)
@pytest.mark.parametrize("kind", ["classification", "feature_vector"])
def test_keras_layer_and_hub_load_match_slim_graph(variant, name, kind):
  import tensorflow as tf
  import tensorflow_hub as hub
  v = variant(name)
  path = v.module(kind, 4)
  batch = images(v.cfg.input_size, seed=3)
  features, logits = v.reference(batch)
  expected = logits if kind == "classification" else features
  out = hub.KerasLayer(path)(batch).numpy()
  assert out.shape == (3, card_facts.output_width(v.cfg, kind))
  np.testing.assert_allclose(out, expected, atol=TOLERANCE, rtol=0)
  loaded = hub.load(path)
  np.testing.assert_allclose(loaded(tf.constant(batch)).numpy(), expected,
                             atol=TOLERANCE, rtol=0)
  other = images(v.cfg.input_size + 32, batch=2, seed=4)
  if card_facts.variable_input_size(v.cfg.architecture, 4):
    # "Other input sizes are possible (within limits)."
    expected_other = v.reference(other)[1 if kind == "classification" else 0]
    np.testing.assert_allclose(loaded(tf.constant(other)).numpy(),
                               expected_other, atol=TOLERANCE, rtol=0)
  else:
    # "For this model, the size of the input images is fixed."
    with pytest.raises((ValueError, TypeError)):
      loaded(tf.constant(other))


@pytest.mark.parametrize("name", ["v1_050_160", "v2_050_96"])
def test_reusable_saved_model_api(variant, name):
  import tensorflow_hub as hub
  v = variant(name)
  loaded = hub.load(v.module("classification", 4))
  layers = architecture.layers(v.cfg.architecture, v.cfg.depth_multiplier)
  batch_norms = sum(l.batch_norm for l in layers)
  assert len(loaded.variables) == len(architecture.variable_layout(
      v.cfg.architecture, v.cfg.depth_multiplier))
  # Batch norm moving statistics are not trainable.
  assert len(loaded.trainable_variables) == len(loaded.variables) - \
      2 * batch_norms
  assert not any("moving_" in w.name for w in loaded.trainable_variables)
  # L2 on the full convolutions (incl. logits), none on depthwise ones.
  losses = [fn() for fn in loaded.regularization_losses]
  assert len(losses) == sum(l.op == "conv" for l in layers)
  weights = {w.name.split(":")[0]: w for w in loaded.variables}
  first = weights[architecture.kernel_name(v.cfg.architecture,
                                           layers[0])].numpy()
  assert any(np.isclose(l.numpy(), 0.00004 * 0.5 * np.sum(first ** 2))
             for l in losses)


def test_saved_model_has_no_signatures_or_native_saver(variant):
  """Used through the object graph only (tf.saved_model.load), so the file
  carries neither signatures nor TF1-style save/restore functions."""
  from tensorflow.core.protobuf import saved_model_pb2
  v = variant("v2_050_96")
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(v.module("feature_vector", 4), "saved_model.pb"),
            "rb") as f:
    proto.ParseFromString(f.read())
  (meta,) = proto.meta_graphs
  assert set(meta.signature_def) <= {"__saved_model_init_op"}
  assert not meta.HasField("saver_def")
  functions = [f.signature.name for f in meta.graph_def.library.function]
  assert not [f for f in functions if "traced_save" in f or
              "traced_restore" in f]
  # The traced network (which `__call__` calls) computes no regularization
  # losses: they are functions of their own.
  net_ops = {n.op for f in meta.graph_def.library.function
             if "_net_" in f.signature.name for n in f.node_def}
  assert "Conv2D" in net_ops and "L2Loss" not in net_ops


def _fine_tune(path, size, first_layer, arguments):
  import tensorflow_hub as hub
  import tf_keras
  layer = hub.KerasLayer(path, trainable=True, arguments=arguments)
  model = tf_keras.Sequential([layer, tf_keras.layers.Dense(2)])
  model.build([None, size, size, 3])
  model.compile(optimizer=tf_keras.optimizers.SGD(0.01),
                loss=tf_keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  named = {w.name.split(":")[0]: w for w in layer.weights}
  mean = named[f"{first_layer}/BatchNorm/moving_mean"]
  kernel = named[f"{first_layer}/weights"]
  before_mean, before_kernel = mean.numpy().copy(), kernel.numpy().copy()
  batch = images(size, batch=4, seed=5)
  # One step on one batch, so the moving averages move exactly once.
  model.fit(batch, np.array([0, 1, 0, 1]), batch_size=4, epochs=1, verbose=0)
  assert len(model.losses) > 0  # Regularization of the module's kernels.
  return (mean.numpy() - before_mean,
          np.abs(kernel.numpy() - before_kernel).max())


@pytest.mark.parametrize("name,first_layer,version",
                         [("v1_050_160", "MobilenetV1/Conv2d_0", 4),
                          ("v2_050_96", "MobilenetV2/Conv", 4),
                          ("v2_050_96", "MobilenetV2/Conv", 5)])
def test_fine_tuning_moves_weights_and_averages_by_momentum(variant, name,
                                                            first_layer,
                                                            version):
  v = variant(name)
  args = (v.module("feature_vector", version), v.cfg.input_size, first_layer)
  delta_default, kernel_change = _fine_tune(*args, None)
  delta_997, _ = _fine_tune(*args, dict(batch_norm_momentum=0.997))
  delta_5, _ = _fine_tune(*args, dict(batch_norm_momentum=0.5))
  assert kernel_change > 0
  big = np.abs(delta_default) > 1e-6
  assert big.any()
  # Same start and batch: the update is (1 - momentum) * (old - batch mean).
  np.testing.assert_allclose(delta_5[big] / delta_default[big], 50.0,
                             rtol=1e-2)
  np.testing.assert_allclose(delta_997[big] / delta_default[big], 0.3,
                             rtol=1e-2)


@pytest.mark.parametrize("name", ["v1_050_160", "v2_050_96"])
def test_call_arguments_are_the_cards(variant, name):
  import tensorflow as tf
  v = variant(name)
  loaded = tf.saved_model.load(v.module("feature_vector", 4))
  size = (None if card_facts.variable_input_size(v.cfg.architecture, 4)
          else v.cfg.input_size)
  signatures = sorted(
      (c.structured_input_signature for c in loaded.__call__.concrete_functions),
      key=lambda s: s[0][1::2])
  # `return_endpoints`: TF Hub's undocumented argument of its TF-Slim
  # SavedModels (tests/testdata/published_endpoints/README.md, E7).
  assert signatures == [
      ((tf.TensorSpec([None, size, size, 3], tf.float32, name="images"),
        training, tf.TensorSpec([], tf.float32, name="batch_norm_momentum"),
        return_endpoints),
       {}) for training in (False, True) for return_endpoints in (False, True)]
  assert list(loaded.__call__.function_type.parameters) == [
      "images", "training", "batch_norm_momentum", "return_endpoints"]

"""Version 4 TF2 SavedModels of v1_050_160: KerasLayer, hub.load, fine-tuning."""

import numpy as np
import pytest

from tests.conftest import handle, images

TOLERANCE = 1e-5


@pytest.mark.parametrize("kind", ["classification", "feature_vector"])
def test_keras_layer_and_hub_load_match_slim_graph(exported, slim_reference,
                                                   kind):
  import tensorflow as tf
  import tensorflow_hub as hub
  path = exported[handle(kind, 4)]
  batch = images(160, seed=3)
  features, logits = slim_reference(batch, True)
  expected = logits if kind == "classification" else features
  out = hub.KerasLayer(path)(batch).numpy()
  assert out.shape == (3, 1001 if kind == "classification" else 512)
  np.testing.assert_allclose(out, expected, atol=TOLERANCE, rtol=0)
  loaded = hub.load(path)
  np.testing.assert_allclose(loaded(tf.constant(batch)).numpy(), expected,
                             atol=TOLERANCE, rtol=0)
  # Other input sizes are possible (the card: "within limits").
  small = images(128, batch=2, seed=4)
  expected_small = slim_reference(small, True)[
      1 if kind == "classification" else 0]
  np.testing.assert_allclose(loaded(tf.constant(small)).numpy(),
                             expected_small, atol=TOLERANCE, rtol=0)


def test_reusable_saved_model_api(exported):
  import tensorflow_hub as hub
  loaded = hub.load(exported[handle("classification", 4)])
  assert len(loaded.variables) == 137
  # Batch norm moving statistics are not trainable.
  assert len(loaded.trainable_variables) == 137 - 2 * 27
  assert not any("moving_" in v.name for v in loaded.trainable_variables)
  # L2 on the 15 full convolutions (incl. logits), none on depthwise ones.
  losses = [fn() for fn in loaded.regularization_losses]
  assert len(losses) == 15
  weights = {v.name.split(":")[0]: v for v in loaded.variables}
  w0 = weights["MobilenetV1/Conv2d_0/weights"].numpy()
  assert any(np.isclose(l.numpy(), 0.00004 * 0.5 * np.sum(w0 ** 2))
             for l in losses)


def _fine_tune(path, arguments):
  import tensorflow_hub as hub
  import tf_keras
  layer = hub.KerasLayer(path, trainable=True, arguments=arguments)
  model = tf_keras.Sequential([layer, tf_keras.layers.Dense(2)])
  model.build([None, 160, 160, 3])
  model.compile(optimizer=tf_keras.optimizers.SGD(0.01),
                loss=tf_keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  named = {w.name.split(":")[0]: w for w in layer.weights}
  mean = named["MobilenetV1/Conv2d_0/BatchNorm/moving_mean"]
  kernel = named["MobilenetV1/Conv2d_0/weights"]
  before_mean, before_kernel = mean.numpy().copy(), kernel.numpy().copy()
  batch = images(160, batch=4, seed=5)
  # One step on one batch, so the moving averages move exactly once.
  model.fit(batch, np.array([0, 1, 0, 1]), batch_size=4, epochs=1, verbose=0)
  assert len(model.losses) == 14  # Regularization of the module's kernels.
  return (mean.numpy() - before_mean,
          np.abs(kernel.numpy() - before_kernel).max())


def test_fine_tuning_moves_weights_and_averages_by_momentum(exported):
  path = exported[handle("feature_vector", 4)]
  delta_default, kernel_change = _fine_tune(path, None)
  delta_997, _ = _fine_tune(path, dict(batch_norm_momentum=0.997))
  delta_5, _ = _fine_tune(path, dict(batch_norm_momentum=0.5))
  assert kernel_change > 0
  big = np.abs(delta_default) > 1e-6
  assert big.any()
  # Same start and batch: the update is (1 - momentum) * (old - batch mean).
  np.testing.assert_allclose(delta_5[big] / delta_default[big], 50.0,
                             rtol=1e-2)
  np.testing.assert_allclose(delta_997[big] / delta_default[big], 0.3,
                             rtol=1e-2)

"""Version 5 TF2 SavedModels: the `serving_default` signature and today's
consumers (hub.load, hub.KerasLayer on tf-keras, Keras 3's TFSMLayer,
saved_model_cli, the TFLite converter), and persistent gradient tapes.

The signature's names, shapes and dtypes are the published version 5's: one
float32 input `inputs` [batch, height, width, 3] in [0, 1] and one output
`output_0`, in inference mode. Outputs are compared with the Slim reference
graph restored from the checkpoint (conftest.SlimReference).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests import card_facts
from tests.conftest import images

TOLERANCE = 1e-5
CONFIGS = ["v1_050_160", "v2_050_96"]
KINDS = ["classification", "feature_vector"]


def _expected(v, kind, batch):
  features, logits = v.reference(batch)
  return logits if kind == "classification" else features


def _size(v):
  """The signature's height and width: None where other sizes are possible."""
  return (None if card_facts.variable_input_size(v.cfg.architecture, 5)
          else v.cfg.input_size)


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("kind", KINDS)
def test_signature_def_is_the_published_one(variant, name, kind):
  """What TF Serving and saved_model_cli read: the SignatureDef proto."""
  from tensorflow.core.framework import types_pb2
  from tensorflow.core.protobuf import saved_model_pb2
  v = variant(name)
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(v.module(kind, 5), "saved_model.pb"), "rb") as f:
    proto.ParseFromString(f.read())
  (meta,) = proto.meta_graphs
  assert set(meta.meta_info_def.tags) == {"serve"}
  assert set(meta.signature_def) == {"serving_default",
                                     "__saved_model_init_op"}
  sig = meta.signature_def["serving_default"]
  assert sig.method_name == "tensorflow/serving/predict"
  dims = lambda info: [d.size for d in info.tensor_shape.dim]
  size = _size(v) or -1
  assert {k: (i.dtype, dims(i)) for k, i in sig.inputs.items()} == {
      "inputs": (types_pb2.DT_FLOAT, [-1, size, size, 3])}
  width = card_facts.output_width(v.cfg, kind)
  assert {k: (o.dtype, dims(o)) for k, o in sig.outputs.items()} == {
      "output_0": (types_pb2.DT_FLOAT, [-1, width])}
  # Signatures are loaded through the native saver (version 4 skips it).
  assert meta.HasField("saver_def")


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("kind", KINDS)
def test_serving_default_equals_call_and_slim(variant, name, kind):
  import tensorflow as tf
  import tensorflow_hub as hub
  v = variant(name)
  batch = images(v.cfg.input_size, seed=7)
  expected = _expected(v, kind, batch)
  loaded = hub.load(v.module(kind, 5))
  serving = loaded.signatures["serving_default"]
  assert list(serving.structured_input_signature[1]) == ["inputs"]
  out = serving(inputs=tf.constant(batch))
  assert list(out) == ["output_0"]
  called = loaded(tf.constant(batch)).numpy()
  np.testing.assert_allclose(out["output_0"].numpy(), expected,
                             atol=TOLERANCE, rtol=0)
  np.testing.assert_allclose(called, expected, atol=TOLERANCE, rtol=0)
  # Version 4's `__call__` is the same network: the same numbers.
  np.testing.assert_allclose(
      hub.load(v.module(kind, 4))(tf.constant(batch)).numpy(), called,
      atol=1e-6, rtol=0)
  # Inference mode: the batch does not change what one image gets.
  np.testing.assert_allclose(
      serving(inputs=tf.constant(batch[:1]))["output_0"].numpy(),
      expected[:1], atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("name", CONFIGS)
def test_keras3_tfsmlayer_needs_version_5(variant, name):
  import keras
  v = variant(name)
  batch = images(v.cfg.input_size, seed=8)
  layer = keras.layers.TFSMLayer(v.module("classification", 5),
                                 call_endpoint="serving_default")
  out = layer(batch)
  np.testing.assert_allclose(out["output_0"], _expected(v, "classification",
                                                        batch),
                             atol=TOLERANCE, rtol=0)
  # What a Keras 3 user got from version 4 (the "why").
  with pytest.raises(ValueError, match="serving_default"):
    keras.layers.TFSMLayer(v.module("classification", 4),
                           call_endpoint="serving_default")


@pytest.mark.parametrize("name", CONFIGS)
def test_keras3_frozen_base_trains_the_head_only(variant, name):
  """Transfer learning in Keras 3: a frozen TFSMLayer base, a Dense head."""
  import keras
  v = variant(name)
  size = v.cfg.input_size
  base = keras.layers.TFSMLayer(v.module("feature_vector", 5),
                                call_endpoint="serving_default",
                                trainable=False)
  inputs = keras.Input((size, size, 3))
  head = keras.layers.Dense(3)
  model = keras.Model(inputs, head(base(inputs)["output_0"]))
  model.compile(optimizer=keras.optimizers.Adam(1e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  batch = images(size, batch=6, seed=9)
  labels = np.array([0, 1, 2, 0, 1, 2])
  features_before = base(batch)["output_0"].numpy()
  base_before = [w.numpy().copy() for w in base.weights]
  head_before = [w.numpy().copy() for w in head.weights]
  assert len(model.trainable_weights) == 2  # The head's kernel and bias.
  history = model.fit(batch, labels, epochs=5, batch_size=6, verbose=0)
  assert history.history["loss"][-1] < history.history["loss"][0]
  assert all(np.abs(w.numpy() - b).max() > 0
             for w, b in zip(head.weights, head_before))
  assert all(np.array_equal(w.numpy(), b)
             for w, b in zip(base.weights, base_before))
  np.testing.assert_array_equal(base(batch)["output_0"].numpy(),
                                features_before)


@pytest.mark.slow
def test_tf_keras_fine_tunes_under_a_persistent_tape(variant):
  """The version 5 changelog's "Fix bug if using models with
  `tf.GradientTape(persistent=True)`": every trainable variable gets a
  gradient, twice from one tape, and batch norm updates its averages.

  (A persistent tape makes TensorFlow build second-order gradients of the
  whole network on the first call: ~25 s for V1 here, ~40 s for V2, whose
  52 batch norms cost most; one config is enough to show it works.)"""
  import tensorflow as tf
  import tensorflow_hub as hub
  import tf_keras
  v = variant("v1_050_160")
  first_layer = "MobilenetV1/Conv2d_0"
  size = v.cfg.input_size
  layer = hub.KerasLayer(v.module("feature_vector", 5), trainable=True,
                         arguments=dict(batch_norm_momentum=0.9))
  model = tf_keras.Sequential([layer, tf_keras.layers.Dense(2)])
  model.build([None, size, size, 3])
  mean = next(w for w in layer.weights
              if w.name.startswith(f"{first_layer}/BatchNorm/moving_mean"))
  mean_before = mean.numpy().copy()
  batch = tf.constant(images(size, batch=4, seed=10))
  with tf.GradientTape(persistent=True) as tape:
    out = model(batch, training=True)
    loss = tf.reduce_mean(out ** 2) + tf.add_n(model.losses)
    other = tf.reduce_mean(out)
  grads = tape.gradient(loss, model.trainable_variables)
  again = tape.gradient(other, model.trainable_variables)
  del tape
  missing = [w.name for w, g in zip(model.trainable_variables, grads)
             if g is None]
  assert not missing
  assert all(g is not None for g in again)
  # The module's trainable variables, the head's two.
  assert len(grads) == len(layer.trainable_weights) + 2
  assert not np.array_equal(mean.numpy(), mean_before)


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_saved_model_cli_runs_serving_default(variant, name, tmp_path):
  v = variant(name)
  batch = images(v.cfg.input_size, seed=11)
  np.save(tmp_path / "batch.npy", batch)
  cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
  result = subprocess.run(
      [cli, "run", "--dir", v.module("classification", 5), "--tag_set",
       "serve", "--signature_def", "serving_default", "--inputs",
       f"inputs={tmp_path / 'batch.npy'}", "--outdir", str(tmp_path / "out")],
      capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  np.testing.assert_allclose(np.load(tmp_path / "out" / "output_0.npy"),
                             _expected(v, "classification", batch),
                             atol=TOLERANCE, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_tflite_converter_converts_version_5(variant, name):
  """`TFLiteConverter.from_saved_model` reads the signature (version 4 has
  none to convert); the LiteRT interpreter runs the result."""
  import tensorflow as tf
  from ai_edge_litert import interpreter as litert
  v = variant(name)
  size = v.cfg.input_size
  model = tf.lite.TFLiteConverter.from_saved_model(
      v.module("classification", 5)).convert()
  runner = litert.Interpreter(model_content=model).get_signature_runner(
      "serving_default")
  # The runner sizes the input to the batch (None dimensions included).
  batch = images(size, batch=2, seed=12)
  out = runner(inputs=batch)["output_0"]
  np.testing.assert_allclose(out, _expected(v, "classification", batch),
                             atol=1e-4, rtol=0)

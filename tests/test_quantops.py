"""Quantops modules: MobileNet V1 as tf.contrib.quantize's eval rewrite left it."""

import json
import os
import subprocess

import numpy as np
import pytest

from export import architecture
from export import checkpoint
from export import config
from tests import card_facts
from tests.conftest import LEGACY_PYTHON, images, run_cli, write_checkpoint

NAME = "v1_025_128_quant"
INPUT_BOUND = {1: 1.0, 3: 1.0005}  # Version 3 overestimates it by 0.05%.


def _reference(values, batch, version, with_logits):
  """The quantized network from tf.quantization ops over checkpoint values.

  Independent of the Slim builder: batch norm folded with the moving
  statistics, weights fake-quantized (narrow range) over weights_quant, the
  outputs over act_quant after ReLU6 (after the bias add for the logits).
  """
  import tensorflow as tf
  fq = tf.quantization.fake_quant_with_min_max_vars
  net = tf.quantization.fake_quant_with_min_max_args(
      tf.constant(batch) * 2.0 - 1.0, -INPUT_BOUND[version],
      INPUT_BOUND[version], num_bits=8)
  layers = architecture.layers("mobilenet_v1", 0.25,
                               1001 if with_logits else None)
  features = None
  for layer in layers:
    p = f"MobilenetV1/{layer.scope}"
    if layer.scope.startswith("Logits"):
      features = tf.reduce_mean(net, [1, 2], keepdims=True)
      net = features
    w = values[architecture.kernel_name("mobilenet_v1", layer)]
    if layer.batch_norm:
      g, b, m, v = (values[f"{p}/BatchNorm/{n}"]
                    for n in ("gamma", "beta", "moving_mean",
                              "moving_variance"))
      # The same float ops as a folding rewrite: a 1-ulp difference in a
      # folded weight can move it across a quantization step.
      mult = g * tf.math.rsqrt(v + 0.001)
      w = w * (tf.reshape(mult, [-1, 1]) if layer.op == "depthwise"
               else mult)
      bias = b - m * mult
    else:
      bias = values[f"{p}/biases"]
    w = fq(w, values[f"{p}/weights_quant/min"],
           values[f"{p}/weights_quant/max"], narrow_range=True)
    strides = [1, layer.stride, layer.stride, 1]
    conv = (tf.nn.depthwise_conv2d if layer.op == "depthwise"
            else tf.nn.conv2d)
    net = conv(net, w, strides, "SAME") + bias
    if layer.activation:
      net = tf.nn.relu6(net)
    net = fq(net, values[f"{p}/act_quant/min"], values[f"{p}/act_quant/max"])
  if features is None:
    return tf.reduce_mean(net, [1, 2]).numpy()
  return tf.squeeze(net, [1, 2]).numpy()


@pytest.fixture(scope="module")
def quant(variant):
  v = variant(NAME)
  layout = architecture.variable_layout("mobilenet_v1", 0.25, quantized=True)
  return v, checkpoint.read_values(v.ckpt_prefix, layout)


@pytest.mark.parametrize("kind", ["classification", "feature_vector"])
@pytest.mark.parametrize("version", [1, 3])
def test_outputs_equal_fake_quant_reference(quant, kind, version):
  import tensorflow as tf
  import tensorflow_hub as hub
  v, values = quant
  loaded = hub.load(v.module(kind, version))
  assert set(loaded.signatures) == card_facts.tf1_signatures(
      kind, version, quantized=True)
  batch = images(128, seed=11)
  features = _reference(values, batch, version, with_logits=False)
  outputs = {s: fn(images=tf.constant(batch))["default"].numpy()
             for s, fn in loaded.signatures.items()}
  np.testing.assert_allclose(outputs["image_feature_vector"], features,
                             atol=1e-5, rtol=0)
  assert features.shape == (3, 256)
  if kind == "classification":
    logits = _reference(values, batch, version, with_logits=True)
    np.testing.assert_allclose(outputs["default"], logits, atol=1e-5, rtol=0)
    assert logits.shape == (3, 1001)


@pytest.mark.parametrize("kind", ["classification", "feature_vector"])
def test_keras_layer_loads_quantops(quant, kind):
  import tensorflow_hub as hub
  v, values = quant
  layer = hub.KerasLayer(v.module(kind, 3), signature="image_feature_vector",
                         output_key="default")
  batch = images(128, seed=12)
  np.testing.assert_allclose(layer(batch).numpy(),
                             _reference(values, batch, 3, False), atol=1e-5,
                             rtol=0)


def test_input_bound_differs_between_versions(quant):
  import tensorflow as tf
  import tensorflow_hub as hub
  v, values = quant
  # An input whose scaled value (1.0) lies between the two bounds: version 1
  # clamps to its grid on [-1, 1], version 3 to one on [-1.0005, 1.0005].
  outs = {version: hub.load(v.module("feature_vector", version)).signatures[
      "default"](images=tf.ones([1, 128, 128, 3]))["default"].numpy()
          for version in (1, 3)}
  batch = np.ones([1, 128, 128, 3], np.float32)
  for version, out in outs.items():
    np.testing.assert_allclose(
        out, _reference(values, batch, version, False), atol=1e-5, rtol=0)


def test_only_inference_graph_and_fixed_size(quant):
  from tensorflow.core.protobuf import saved_model_pb2
  v, _ = quant
  for module in v.cfg.modules:
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(v.modules[module.handle], "saved_model.pb"),
              "rb") as f:
      proto.ParseFromString(f.read())
    assert [list(m.meta_info_def.tags) for m in proto.meta_graphs] == [[]]
    images_info = proto.meta_graphs[0].signature_def["default"].inputs[
        "images"]
    assert [d.size for d in images_info.tensor_shape.dim] == [-1, 128, 128, 3]


def test_float_checkpoint_is_refused_listing_missing_ranges(tmp_path):
  float_config = tmp_path / "v1_025_128.yaml"
  text = open(config.resolve_path(NAME)).read()
  float_config.write_text(text.replace("quantized: true", "quantized: false"))
  prefix = write_checkpoint(str(float_config), str(tmp_path / "f.ckpt"))
  layout = architecture.variable_layout("mobilenet_v1", 0.25, quantized=True)
  with pytest.raises(checkpoint.CheckpointError) as info:
    checkpoint.read_values(prefix, layout)
  missing = sorted(l.split()[1] for l in str(info.value).splitlines()[1:])
  assert missing == sorted(n for n in layout if "_quant/" in n)
  assert len(missing) == 28 * 4  # 27 conv layers and the classifier.


@pytest.mark.slow
def test_cli_refuses_float_checkpoint(tmp_path):
  float_config = tmp_path / "v1_025_128.yaml"
  text = open(config.resolve_path(NAME)).read()
  float_config.write_text(text.replace("quantized: true", "quantized: false"))
  prefix = write_checkpoint(str(float_config), str(tmp_path / "f.ckpt"))
  out = tmp_path / "out"
  result = run_cli("one", "--config", NAME, "--checkpoint", prefix,
                   "--output_dir", str(out))
  assert result.returncode == 1
  assert "missing MobilenetV1/Conv2d_0/act_quant/min []" in result.stderr
  assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_legacy_hub_module_loads_quantops(quant, tmp_path):
  v, values = quant
  path = str(tmp_path / "images.npy")
  batch = images(128, batch=4, seed=7)
  np.save(path, batch)
  proc = subprocess.run([LEGACY_PYTHON, os.path.join(
      os.path.dirname(__file__), "legacy_consumer.py"), path,
                         *v.modules.values()], capture_output=True, text=True,
                        timeout=900, env={"TF_CPP_MIN_LOG_LEVEL": "3",
                                          "PATH": os.environ["PATH"]})
  assert proc.returncode == 0, proc.stderr[-3000:]
  got = json.loads(proc.stdout.strip().splitlines()[-1])
  for module in v.cfg.modules:
    result = got[v.modules[module.handle]]
    assert result["training"]["tags"] == [[]]
    assert result["inference"]["expected_image_size"] == [128, 128]
    assert set(result["inference"]["signatures"]) == \
        card_facts.tf1_signatures(module.kind, module.version, True)
    assert result["inference"]["other_size_output_shape"] == "refused"
    np.testing.assert_allclose(
        result["inference"]["outputs"]["image_feature_vector"],
        _reference(values, batch, module.version, False), atol=1e-5, rtol=0)

"""Quantops modules: MobileNet V1 as tf.contrib.quantize's eval rewrite left it."""

import json
import os
import subprocess

import numpy as np
import pytest

from export.core import architecture
from export.sources import checkpoint
from export.core import config
from tests import card_facts
from tests import published_layouts
from tests.conftest import LEGACY_PYTHON, images, run_cli, write_checkpoint

NAME = "v1_025_128_quant"
# Quantops configs and their published checkpoints, for two multipliers.
QUANT_VARIANTS = {"v1_025_128_quant": "mobilenet_v1_0.25_128_quant",
                  "v1_100_224_quant": "mobilenet_v1_1.0_224_quant"}
INPUT_BOUND = {1: 1.0, 3: 1.0005}  # Version 3 overestimates it by 0.05%.


def _reference(values, batch, version, with_logits):
  """The quantized network from tf.quantization ops over checkpoint values.

  Independent of the exporter: it walks MobileNet V1's published structure
  (tests/published_layouts) and reads the published variable names. Batch
  norm is folded with the moving statistics, weights fake-quantized (narrow
  range) over weights_quant, the outputs over act_quant after ReLU6 (after
  the bias add for the logits).
  """
  import tensorflow as tf
  fq = tf.quantization.fake_quant_with_min_max_vars
  net = tf.quantization.fake_quant_with_min_max_args(
      tf.constant(batch) * 2.0 - 1.0, -INPUT_BOUND[version],
      INPUT_BOUND[version], num_bits=8)
  layers = published_layouts.v1_layers()
  if with_logits:
    layers.append((published_layouts.V1_LOGITS, "conv", 1))
  for scope, op, stride in layers:
    p = f"MobilenetV1/{scope}"
    q = published_layouts.v1_quant_context(scope)
    if scope == published_layouts.V1_LOGITS:
      net = tf.reduce_mean(net, [1, 2], keepdims=True)
    w = values[f"{p}/{'depthwise_weights' if op == 'depthwise' else 'weights'}"]
    if f"{p}/biases" in values:
      bias = values[f"{p}/biases"]
    else:
      g, b, m, v = (values[f"{p}/BatchNorm/{n}"]
                    for n in ("gamma", "beta", "moving_mean",
                              "moving_variance"))
      # The same float ops as a folding rewrite: a 1-ulp difference in a
      # folded weight can move it across a quantization step.
      mult = g * tf.math.rsqrt(v + 0.001)
      w = w * (tf.reshape(mult, [-1, 1]) if op == "depthwise" else mult)
      bias = b - m * mult
    w = fq(w, values[f"{q}/weights_quant/min"],
           values[f"{q}/weights_quant/max"], narrow_range=True)
    strides = [1, stride, stride, 1]
    conv = tf.nn.depthwise_conv2d if op == "depthwise" else tf.nn.conv2d
    net = conv(net, w, strides, "SAME") + bias
    if scope != published_layouts.V1_LOGITS:
      net = tf.nn.relu6(net)
    net = fq(net, values[f"{q}/act_quant/min"], values[f"{q}/act_quant/max"])
  if with_logits:
    return tf.squeeze(net, [1, 2]).numpy()
  return tf.reduce_mean(net, [1, 2]).numpy()


def _published_values(prefix, published_checkpoint):
  """Reads a checkpoint by the published names (not the exporter's)."""
  import tensorflow as tf
  reader = tf.train.load_checkpoint(prefix)
  return {name: reader.get_tensor(name)
          for name in published_layouts.layout(published_checkpoint)}


@pytest.fixture(scope="module", params=sorted(QUANT_VARIANTS))
def quant_variant(request, variant):
  v = variant(request.param)
  return v, _published_values(v.ckpt_prefix, QUANT_VARIANTS[request.param])


def _hub_modules(v):
  """The quantops modules (the config's Lite files: tests/test_lite.py)."""
  return [m for m in v.cfg.modules if m.is_tf1_hub]


@pytest.fixture(scope="module")
def quant(variant):
  v = variant(NAME)
  return v, _published_values(v.ckpt_prefix, QUANT_VARIANTS[NAME])


@pytest.mark.parametrize("kind", ["classification", "feature_vector"])
@pytest.mark.parametrize("version", [1, 3])
def test_outputs_equal_fake_quant_reference(quant_variant, kind, version):
  import tensorflow as tf
  import tensorflow_hub as hub
  v, values = quant_variant
  size, dm = v.cfg.input_size, v.cfg.depth_multiplier
  loaded = hub.load(v.module(kind, version))
  assert set(loaded.signatures) == card_facts.tf1_signatures(
      kind, version, quantized=True)
  batch = images(size, seed=11)
  features = _reference(values, batch, version, with_logits=False)
  outputs = {s: fn(images=tf.constant(batch))["default"].numpy()
             for s, fn in loaded.signatures.items()}
  np.testing.assert_allclose(outputs["image_feature_vector"], features,
                             atol=1e-5, rtol=0)
  assert features.shape == (3, int(1024 * dm))
  if kind == "classification":
    logits = _reference(values, batch, version, with_logits=True)
    np.testing.assert_allclose(outputs["default"], logits, atol=1e-5, rtol=0)
    assert logits.shape == (3, 1001)


def test_module_ops_carry_the_published_names(quant):
  # As the published *_quant graphs name them (see published_layouts README).
  from tensorflow.core.protobuf import saved_model_pb2
  v, _ = quant
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(v.module("classification", 1), "saved_model.pb"),
            "rb") as f:
    proto.ParseFromString(f.read())
  ops = {node.name for node in proto.meta_graphs[0].graph_def.node}
  for name in ("MobilenetV1/MobilenetV1/Conv2d_0/Conv2D_Fold",
               "MobilenetV1/MobilenetV1/Conv2d_0/act_quant/"
               "FakeQuantWithMinMaxVars",
               "MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6",
               "MobilenetV1/Logits/Conv2d_1c_1x1/act_quant/"
               "FakeQuantWithMinMaxVars"):
    assert name in ops


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
  for module in _hub_modules(v):
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(v.modules[module.handle], "saved_model.pb"),
              "rb") as f:
      proto.ParseFromString(f.read())
    assert [list(m.meta_info_def.tags) for m in proto.meta_graphs] == [[]]
    images_info = proto.meta_graphs[0].signature_def["default"].inputs[
        "images"]
    assert [d.size for d in images_info.tensor_shape.dim] == [-1, 128, 128, 3]


def _as_float(config_text):
  """The quantized config's text as a float config's: its ONNX models are
  QDQ models (version 1), which a float config has not."""
  return "".join(line for line in config_text.replace(
      "quantized: true", "quantized: false").splitlines(True)
                 if "format: onnx" not in line)


def test_float_checkpoint_is_refused_listing_missing_ranges(tmp_path):
  float_config = tmp_path / "v1_025_128.yaml"
  text = open(config.resolve_path(NAME)).read()
  float_config.write_text(_as_float(text))
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
  float_config.write_text(_as_float(text))
  prefix = write_checkpoint(str(float_config), str(tmp_path / "f.ckpt"))
  out = tmp_path / "out"
  result = run_cli("one", "--config", NAME, "--checkpoint", prefix,
                   "--output_dir", str(out))
  assert result.returncode == 1
  assert "missing MobilenetV1/MobilenetV1/Conv2d_0/act_quant/min []" in \
      result.stderr
  assert not out.exists() or not any(out.iterdir())


def _write_renamed(values, prefix, rename):
  import tensorflow as tf
  names = sorted(values)
  with tf.device("/cpu:0"):
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=[rename(n) for n in names],
                      shape_and_slices=[""] * len(names),
                      tensors=[values[n] for n in names])
  return prefix


@pytest.mark.slow
def test_cli_refuses_checkpoint_with_pre_fix_names(quant, tmp_path):
  # The names this exporter expected before it followed contrib.quantize:
  # the body's ranges under MobilenetV1/<layer> instead of
  # MobilenetV1/MobilenetV1/<layer>. Such a checkpoint is not the published
  # one: refused, listing every missing range, nothing written.
  v, values = quant
  prefix = _write_renamed(
      values, str(tmp_path / "old.ckpt"),
      lambda n: n.replace("MobilenetV1/MobilenetV1/", "MobilenetV1/"))
  out = tmp_path / "out"
  result = run_cli("one", "--config", NAME, "--checkpoint", prefix,
                   "--output_dir", str(out))
  assert result.returncode == 1
  assert "(108 problems)" in result.stderr
  missing = [l.split()[1] for l in result.stderr.splitlines()
             if l.strip().startswith("missing ")]
  assert sorted(missing) == sorted(
      n for n in values if n.startswith("MobilenetV1/MobilenetV1/"))
  assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_cli_exports_checkpoint_written_from_published_names(quant, tmp_path):
  # A checkpoint written from the published table alone (not by the
  # exporter's synthetic writer) exports, and computes the reference.
  v, values = quant
  prefix = _write_renamed(values, str(tmp_path / "published.ckpt"),
                          lambda n: n)
  out = tmp_path / "out"
  result = run_cli("one", "--config", NAME, "--checkpoint", prefix,
                   "--output_dir", str(out), "--only",
                   v.handle("feature_vector", 3))
  assert result.returncode == 0, result.stderr
  import tensorflow as tf
  import tensorflow_hub as hub
  batch = images(128, seed=5)
  got = hub.load(str(out / v.handle("feature_vector", 3))).signatures[
      "default"](images=tf.constant(batch))["default"].numpy()
  np.testing.assert_allclose(got, _reference(values, batch, 3, False),
                             atol=1e-5, rtol=0)


@pytest.mark.slow
def test_legacy_hub_module_loads_quantops(quant, tmp_path):
  v, values = quant
  path = str(tmp_path / "images.npy")
  batch = images(128, batch=4, seed=7)
  np.save(path, batch)
  proc = subprocess.run([LEGACY_PYTHON, os.path.join(
      os.path.dirname(__file__), "legacy_consumer.py"), path,
                         *(v.modules[m.handle] for m in _hub_modules(v))],
                        capture_output=True, text=True,
                        timeout=900, env={"TF_CPP_MIN_LOG_LEVEL": "3",
                                          "PATH": os.environ["PATH"]})
  assert proc.returncode == 0, proc.stderr[-3000:]
  got = json.loads(proc.stdout.strip().splitlines()[-1])
  for module in _hub_modules(v):
    result = got[v.modules[module.handle]]
    assert result["training"]["tags"] == [[]]
    assert result["inference"]["expected_image_size"] == [128, 128]
    assert set(result["inference"]["signatures"]) == \
        card_facts.tf1_signatures(module.kind, module.version, True)
    assert result["inference"]["other_size_output_shape"] == "refused"
    np.testing.assert_allclose(
        result["inference"]["outputs"]["image_feature_vector"],
        _reference(values, batch, module.version, False), atol=1e-5, rtol=0)

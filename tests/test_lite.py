"""The TensorFlow Lite files, run in the LiteRT interpreter (ai-edge-litert).

For V1 0.25/128, V1 1.0/224 and V2 1.0/224, float and quantized,
from synthetic checkpoints: the published input/output conventions (types,
shapes, quantization parameters, written here as literals from the issue and
the published cards, not read from the exporter), outputs against the TF
SavedModel (float) and the fake-quant float graph (quantized), and the
metadata variant read back with the TFLite support library's displayer.

Evidence for the literals: the input and output conventions (types, shapes,
scales, zero points, mean/std 127.5) are the issue's and the published Lite
cards' (tests/testdata/published_cards/tensorflow); the tensor names `input`
and `MobilenetV1/Predictions/Reshape_1` / `MobilenetV2/Predictions/Reshape_1`
are those public code reads from the published frozen graphs
(`mobilenet_v1_1.0_224_frozen.pb`, `mobilenet_v2_1.0_224_frozen.pb`:
`import_graph_def(..., return_elements=['input:0',
'MobilenetV2/Predictions/Reshape_1:0'])`) and Slim's
`export_inference_graph` convention the Lite files kept.
"""

import json
import os
import subprocess

import numpy as np
import pytest

from tests.conftest import LITE_PYTHON, REPO

FLOAT = ["v1_025_128", "v1_100_224", "v2_100_224"]
QUANTIZED = ["v1_025_128_quant", "v1_100_224_quant", "v2_100_224_quant"]
LABELS = os.path.join(REPO, "export", "formats", "data", "imagenet_labels.txt")


def _lite_handles(cfg):
  return [m.handle for m in cfg.modules if m.is_lite]


@pytest.fixture(scope="module")
def lite(variant):
  """lite(config name) -> (Variant, {variant: model path}); float configs
  also export their version 5 classification SavedModel."""
  from export.core import config
  cache = {}

  def get(name):
    if name not in cache:
      cfg = config.load(name)
      only = _lite_handles(cfg)
      if not cfg.quantized:
        only.append(cfg.modules[[m.kind == "classification" and m.version == 5
                                 for m in cfg.modules].index(True)].handle)
      v = variant(name, only=only)
      files = {m.variant: os.path.join(v.modules[m.handle], "model.tflite")
               for m in cfg.modules if m.is_lite}
      cache[name] = (v, files)
    return cache[name]
  return get


def _interpreter(path):
  from ai_edge_litert.interpreter import Interpreter
  interpreter = Interpreter(model_path=path, num_threads=1)
  interpreter.allocate_tensors()
  return interpreter


def _run(path, batch):
  """Outputs of the Lite file for each image of `batch` (batch size 1)."""
  interpreter = _interpreter(path)
  (inp,), (out,) = (interpreter.get_input_details(),
                    interpreter.get_output_details())
  results = []
  for image in batch:
    interpreter.set_tensor(inp["index"], image[None])
    interpreter.invoke()
    results.append(interpreter.get_tensor(out["index"])[0].copy())
  return np.stack(results)


def _pixels(size, batch=4, seed=0):
  """uint8 RGB images with smooth structure and noise, as photos have."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:size, 0:size] / size
  images = []
  for _ in range(batch):
    phase = rng.uniform(0, 2 * np.pi, 3)
    freq = rng.uniform(1, 6, 3)
    channels = [127.5 + 100 * np.sin(2 * np.pi * f * (x + y * k) + p)
                for f, p, k in zip(freq, phase, rng.uniform(-1, 1, 3))]
    image = np.stack(channels, -1) + rng.normal(0, 12, (size, size, 3))
    images.append(np.clip(np.round(image), 0, 255).astype(np.uint8))
  return np.stack(images)


def _softmax(logits):
  e = np.exp(logits - logits.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


# --- Published conventions ----------------------------------------------------


@pytest.mark.parametrize("name", FLOAT + QUANTIZED)
def test_lite_files_have_the_published_inputs_and_outputs(lite, name):
  v, files = lite(name)
  size = v.cfg.input_size
  scope = {"mobilenet_v1": "MobilenetV1",
           "mobilenet_v2": "MobilenetV2"}[v.cfg.architecture]
  assert sorted(files) == ["default", "metadata"]
  for path in files.values():
    interpreter = _interpreter(path)
    (inp,), (out,) = (interpreter.get_input_details(),
                      interpreter.get_output_details())
    assert inp["name"] == "input"
    assert list(inp["shape"]) == [1, size, size, 3]
    assert out["name"] == f"{scope}/Predictions/Reshape_1"
    assert list(out["shape"]) == [1, 1001]
    if v.cfg.quantized:
      assert inp["dtype"] == np.uint8 and out["dtype"] == np.uint8
      assert inp["quantization"] == (1 / 128, 128)
      assert out["quantization"] == (1 / 256, 0)
    else:
      assert inp["dtype"] == np.float32 and out["dtype"] == np.float32
      assert inp["quantization"] == (0.0, 0) == out["quantization"]


@pytest.mark.parametrize("name,adds", [("v1_025_128_quant", 0),
                                       ("v2_100_224_quant", 10)])
def test_quantized_lite_is_integer_only(lite, name, adds):
  v, files = lite(name)
  interpreter = _interpreter(files["default"])
  ops = interpreter._get_ops_details()  # pylint: disable=protected-access
  kinds = {op["op_name"] for op in ops}
  assert {"CONV_2D", "DEPTHWISE_CONV_2D", "SOFTMAX"} <= kinds
  # V2's residual adds run quantized too (their ranges from the checkpoint).
  assert sum(op["op_name"] == "ADD" for op in ops) == adds
  assert not kinds & {"QUANTIZE", "DEQUANTIZE"}, kinds
  for op in ops:
    for dtype in op["operand_types"] + op["result_types"]:
      assert dtype in (np.uint8, np.int32), (op["op_name"], dtype)


# --- Outputs ------------------------------------------------------------------


@pytest.mark.parametrize("name", FLOAT)
def test_float_lite_equals_saved_model_softmax(lite, name):
  import tensorflow as tf
  v, files = lite(name)
  pixels = _pixels(v.cfg.input_size)
  # The published float convention: (pixel - 127.5) / 127.5.
  got = _run(files["default"], (pixels.astype(np.float32) - 127.5) / 127.5)
  module = [m for m in v.cfg.modules if m.version == 5][0]
  serve = tf.saved_model.load(v.modules[module.handle]).signatures[
      "serving_default"]
  logits = serve(inputs=tf.constant(pixels / 255.0, tf.float32))["output_0"]
  want = _softmax(logits.numpy().astype(np.float64))
  assert got.shape == (len(pixels), 1001)
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
  assert (got.argmax(-1) == want.argmax(-1)).all()


def _lite_logits(path, batch):
  """The uint8 logits the Lite model feeds its softmax, dequantized, and
  their quantization step."""
  from ai_edge_litert.interpreter import Interpreter
  interpreter = Interpreter(model_path=path,
                            experimental_preserve_all_tensors=True)
  interpreter.allocate_tensors()
  ops = interpreter._get_ops_details()  # pylint: disable=protected-access
  (softmax,) = [op for op in ops if op["op_name"] == "SOFTMAX"]
  # Through the reshape the converter may put before the softmax.
  producer = {int(o): op for op in ops for o in op["outputs"]}
  index = int(softmax["inputs"][0])
  while producer[index]["op_name"] == "RESHAPE":
    index = int(producer[index]["inputs"][0])
  details = {t["index"]: t for t in interpreter.get_tensor_details()}
  scale, zero_point = details[index]["quantization"]
  inp = interpreter.get_input_details()[0]["index"]
  logits = []
  for image in batch:
    interpreter.set_tensor(inp, image[None])
    interpreter.invoke()
    logits.append((interpreter.get_tensor(index).reshape(-1).astype(
        np.float64) - zero_point) * scale)
  return np.stack(logits), scale


def _fake_quant_logits(cfg, prefix, pixels):
  """Logits of the quantops graph (folded batch norm, fake quant over the
  checkpoint's ranges) in float, restored from the checkpoint with a Saver,
  on the values the uint8 input stands for."""
  import tensorflow.compat.v1 as tf
  from export import nets
  with tf.Graph().as_default():
    x = tf.placeholder(tf.float32, [None, cfg.input_size, cfg.input_size, 3])
    out = nets.build(cfg.architecture, x,
                     depth_multiplier=cfg.depth_multiplier, num_classes=1001,
                     is_training=False,
                     quantized_input_range=(-1.0, 127 / 128))
    with tf.Session() as sess:
      tf.train.Saver().restore(sess, prefix)
      logits = sess.run(out.logits, {x: (pixels.astype(np.float32) - 128)
                                     / 128})
  return logits.astype(np.float64)


@pytest.mark.parametrize("name", QUANTIZED)
def test_quantized_lite_within_two_steps_of_fake_quant_graph(
    lite, name, record_property):
  v, files = lite(name)
  pixels = _pixels(v.cfg.input_size, batch=6)
  got = _run(files["default"], pixels)
  assert got.dtype == np.uint8
  want_logits = _fake_quant_logits(v.cfg, v.ckpt_prefix, pixels)
  want = _softmax(want_logits)
  steps = np.abs(got.astype(np.float64) / 256 - want) * 256
  distribution = {f"<= {k}": float(np.mean(steps <= k))
                  for k in (0.5, 1, 1.5, 2)}
  distribution["max"] = float(steps.max())
  record_property("output_steps", json.dumps(distribution))
  print(f"{name}: |Lite - fake quant| in output steps: {distribution}")
  assert steps.max() <= 2, distribution
  # The same top-1: the reference's best class has the Lite maximum (uint8
  # probabilities can tie).
  best = want.argmax(-1)
  assert (got[np.arange(len(got)), best] == got.max(-1)).all()
  # Random networks give flat probabilities (a few output steps at most), so
  # the logits are compared too, in their own quantization steps: integer
  # rounding moves them by a few steps (measured: at most 3), a wrong scale,
  # zero point or range anywhere by many more.
  logits, step = _lite_logits(files["default"], pixels)
  logit_steps = np.abs(logits - want_logits) / step
  print(f"{name}: |Lite - fake quant| logits in steps: max "
        f"{logit_steps.max():.2f}, mean {logit_steps.mean():.3f}")
  assert logit_steps.max() <= 4, logit_steps.max()
  # Quantized logits tie; the Lite model's best class is one of the
  # reference's within those steps of its best.
  rows = np.arange(len(logits))
  assert (want_logits[rows, logits.argmax(-1)] >=
          want_logits.max(-1) - 4 * step).all()


def test_quantized_check_catches_a_wrong_input_scale(lite):
  """The logits check fails when the Lite model is fed images in another
  convention than the published one (here [0, 255] read as [0, 127])."""
  v, files = lite("v1_025_128_quant")
  pixels = _pixels(v.cfg.input_size, batch=2)
  want = _fake_quant_logits(v.cfg, v.ckpt_prefix, pixels)
  logits, step = _lite_logits(files["default"], pixels // 2)
  assert (np.abs(logits - want) / step).max() > 4


def test_wrong_input_convention_is_caught(lite):
  """The float check fails when the input normalisation is not the
  published one (here [0, 1] instead of [-1, 1])."""
  import tensorflow as tf
  v, files = lite("v1_025_128")
  pixels = _pixels(v.cfg.input_size)
  got = _run(files["default"], pixels.astype(np.float32) / 255.0)
  module = [m for m in v.cfg.modules if m.version == 5][0]
  serve = tf.saved_model.load(v.modules[module.handle]).signatures[
      "serving_default"]
  want = _softmax(serve(inputs=tf.constant(pixels / 255.0, tf.float32))[
      "output_0"].numpy())
  assert np.abs(got - want).max() > 1e-3


# --- The metadata variant -----------------------------------------------------


def _read_metadata(path):
  result = subprocess.run([LITE_PYTHON, os.path.join(
      REPO, "tests", "lite_metadata_reader.py"), path],
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  return json.loads(result.stdout)


@pytest.mark.parametrize("name", ["v1_025_128", "v1_025_128_quant",
                                  "v2_100_224", "v2_100_224_quant"])
def test_metadata_variant_has_labels_and_normalisation(lite, name):
  v, files = lite(name)
  read = _read_metadata(files["metadata"])
  md = read["metadata"]
  family = {"mobilenet_v1": "MobileNet V1",
            "mobilenet_v2": "MobileNet V2"}[v.cfg.architecture]
  assert md["name"] == f"{family} image classifier" + (
      " (quantized)" if v.cfg.quantized else "")
  assert "1,001 categories" in md["description"]
  (sub,) = md["subgraph_metadata"]
  (inp,), (out,) = sub["input_tensor_metadata"], sub["output_tensor_metadata"]
  (unit,) = inp["process_units"]
  assert unit["options_type"] == "NormalizationOptions"
  assert unit["options"] == {"mean": [127.5], "std": [127.5]}
  assert inp["content"]["content_properties"]["color_space"] == "RGB"
  (label_file,) = out["associated_files"]
  assert label_file["type"] == "TENSOR_AXIS_LABELS"
  assert read["associated_files"] == [label_file["name"]]
  labels = read["contents"][label_file["name"]].splitlines()
  assert len(labels) == 1001 and labels[0] == "background"
  assert labels[1] == "tench" and labels[-1] == "toilet tissue"
  with open(LABELS, encoding="utf-8") as f:
    assert labels == f.read().splitlines()
  # The default variant has no metadata, and the same model.
  pixels = _pixels(v.cfg.input_size, batch=2)
  batch = (pixels if v.cfg.quantized
           else (pixels.astype(np.float32) - 127.5) / 127.5)
  np.testing.assert_array_equal(_run(files["metadata"], batch),
                                _run(files["default"], batch))


def test_default_variant_has_no_metadata(lite):
  v, files = lite("v1_025_128")
  result = subprocess.run([LITE_PYTHON, os.path.join(
      REPO, "tests", "lite_metadata_reader.py"), files["default"]],
                          capture_output=True, text=True, timeout=120)
  assert result.returncode != 0 and "metadata" in result.stderr.lower()
  del v


def test_lite_cards_describe_the_files(lite):
  """Input size and class count of the cards match the files."""
  import re
  from export import cards
  from export.cards import facts as facts_lib
  for name in ("v1_025_128", "v1_025_128_quant"):
    v, files = lite(name)
    for m in v.cfg.modules:
      if not m.is_lite:
        continue
      text = cards.render(v.cfg, m)
      size = int(re.search(r"IMAGE_SIZE_X = (\d+);", text).group(1))
      classes = int(re.search(r"NUM_CLASS = (\d+);", text).group(1))
      interpreter = _interpreter(files[m.variant])
      assert list(interpreter.get_input_details()[0]["shape"]) == [
          1, size, size, 3]
      assert interpreter.get_output_details()[0]["shape"][-1] == classes
      # tensorflow/lite-model/<name>/1/<variant>/1: cards at the docs path.
      name = m.handle.split("/")[2]
      assert facts_lib.placeholder_docs_path(m) == (
          f"tensorflow/models/{name}/1.md")
      assert facts_lib.docs_path(m) == (
          f"tensorflow/models/{name}/1/{m.variant}/lite/1.md")

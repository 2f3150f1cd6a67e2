"""Models of one's own (`family: custom`): every format, checked against
independent implementations (Keras' MobileNets with the checkpoint's
values, the LiteRT interpreter, TF.js, the legacy hub.Module), cards that
pass tfhub.dev's validator's rules, and `export.new_config`.

The checkpoints are synthetic ones of the custom shapes (V2 0.6/192 with 5
classes, V1 0.35/128 with 10), written where the configs say.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests import tfhub_validator
from tests.conftest import (LEGACY_PYTHON, REPO, export, images, run_cli,
                            run_node)

pytestmark = pytest.mark.slow

V2 = dict(name="flowers", architecture="mobilenet_v2", multiplier=0.6,
          size=192, classes=5, publisher="acme", calibration=100)
V1 = dict(name="gauges", architecture="mobilenet_v1", multiplier=0.35,
          size=128, classes=10, publisher="dial-works", calibration=0)
MODULES = {
    "mobilenet_v2": """\
  - {kind: classification, format: hub}
  - {kind: feature_vector, format: hub}
  - {kind: classification, format: saved_model_2}
  - {kind: feature_vector, format: saved_model_2}
  - {kind: classification, format: lite}
  - {kind: classification, format: lite, variant: metadata}
  - {kind: classification, format: lite, quantization: post_training}
  - {kind: classification, format: tfjs}
  - {kind: classification, format: onnx}
  - {kind: feature_vector, format: onnx}
  - {kind: classification, format: onnx, quantization: post_training}
""",
    "mobilenet_v1": """\
  - {kind: classification, format: hub}
  - {kind: feature_vector, format: hub}
  - {kind: classification, format: saved_model_2}
  - {kind: classification, format: lite}
  - {kind: classification, format: tfjs}
  - {kind: classification, format: onnx}
"""}


def _calibration_images(directory, count, size, seed=0):
  """`count` PNG photos-like images (smooth structure and noise)."""
  import tensorflow as tf
  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(seed)
  for i in range(count):
    h, w = (int(v) for v in rng.integers(size, 2 * size, 2))
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    channels = [127.5 + 100 * np.sin(2 * np.pi * f * (x + y * k) + p)
                for f, p, k in zip(rng.uniform(1, 6, 3),
                                   rng.uniform(0, 2 * np.pi, 3),
                                   rng.uniform(-1, 1, 3))]
    image = np.stack(channels, -1) + rng.normal(0, 12, (h, w, 3))
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    with open(os.path.join(directory, f"img_{i:03d}.png"), "wb") as f:
      f.write(tf.io.encode_png(image).numpy())


def write_config(directory, spec, **overrides):
  """Writes a custom config (and its labels) into `directory`."""
  spec = dict(spec, **overrides)
  os.makedirs(directory, exist_ok=True)
  labels = os.path.join(directory, "labels.txt")
  with open(labels, "w") as f:
    f.write("".join(f"class_{i}\n" for i in range(spec["classes"])))
  calibration = ""
  if spec["calibration"]:
    calibration = "calibration: images\n"
  text = f"""\
family: custom
architecture: {spec['architecture']}
depth_multiplier: {spec['multiplier']}
input_size: {spec['size']}
num_classes: {spec['classes']}
labels: labels.txt
model:
  publisher: {spec['publisher']}
  name: {spec['name']}_model
  title: {spec['name'].title()} model
  dataset: {spec['name'].title()} photos
  description: A test model of one's own. It classifies {spec['name']}.
  authors: The test suite
checkpoint:
  path: ckpt/model.ckpt
{calibration}modules:
{spec.get('modules') or MODULES[spec['architecture']]}"""
  path = os.path.join(directory, f"{spec['name']}.yaml")
  with open(path, "w") as f:
    f.write(text)
  return path


class Custom:
  """A custom config exported from a synthetic checkpoint of its shape."""

  def __init__(self, tmp, spec, cache_dir):
    from export.core import config
    from export.sources import synthetic
    directory = os.path.join(tmp, spec["name"])
    if spec["calibration"]:
      _calibration_images(os.path.join(directory, "images"),
                          spec["calibration"], spec["size"])
    self.path = write_config(directory, spec)
    self.cfg = config.load(self.path)
    self.prefix = synthetic.write(self.cfg, os.path.join(directory, "ckpt",
                                                         "model.ckpt"))
    self.out = os.path.join(tmp, f"{spec['name']}_out")
    self.modules = export(self.cfg, self.out, cache_dir)
    self.spec = spec

  def handle(self, fmt, kind="classification", variant="default",
             quantization=None):
    return next(m.handle for m in self.cfg.modules
                if m.format == fmt and m.kind == kind and
                (m.variant in (None, variant)) and
                m.quantization == quantization)

  def dir(self, *args, **kwargs):
    return self.modules[self.handle(*args, **kwargs)]


@pytest.fixture(scope="module")
def v2(tmp_path_factory, cache_dir):
  return Custom(str(tmp_path_factory.mktemp("custom_v2")), V2, cache_dir)


@pytest.fixture(scope="module")
def v1(tmp_path_factory, cache_dir):
  return Custom(str(tmp_path_factory.mktemp("custom_v1")), V1, cache_dir)


def _keras(custom):
  from tests import test_keras_reference as keras_reference
  values = keras_reference.checkpoint_values(custom.prefix)
  return keras_reference.KerasReference(custom.cfg, values)


def _tf1_default(module_dir, batch):
  import tensorflow as tf
  import tensorflow_hub as hub
  return hub.load(module_dir).signatures["default"](
      images=tf.constant(batch))["default"].numpy()


@pytest.mark.parametrize("which", ["v2", "v1"])
def test_every_format_exports_with_the_configs_class_count(request, which):
  import tensorflow as tf
  custom = request.getfixturevalue(which)
  assert set(custom.modules) == {m.handle for m in custom.cfg.modules}
  loaded = tf.saved_model.load(custom.dir("saved_model_2"))
  serving = loaded.signatures["serving_default"]
  size = custom.spec["size"]
  out = serving(inputs=tf.constant(images(size, batch=2)))["output_0"]
  assert out.shape == (2, custom.spec["classes"])
  publisher = custom.spec["publisher"]
  assert all(h.startswith(f"{publisher}/") for h in custom.modules)


@pytest.mark.parametrize("which", ["v2", "v1"])
def test_tf1_and_tf2_modules_equal_keras_with_the_checkpoint(request, which):
  """Keras' MobileNet(V2)(alpha=..., classes=...) takes any multiplier
  without ImageNet weights: given the checkpoint's values, it is an
  independent implementation of the same network."""
  import tensorflow as tf
  import tensorflow_hub as hub
  custom = request.getfixturevalue(which)
  batch = images(custom.spec["size"], batch=3, seed=4)
  features, logits = _keras(custom)(batch)
  assert logits.shape == (3, custom.spec["classes"])
  np.testing.assert_allclose(
      _tf1_default(custom.dir("hub"), batch), logits, atol=1e-4, rtol=0)
  np.testing.assert_allclose(
      _tf1_default(custom.dir("hub", "feature_vector"), batch), features,
      atol=1e-4, rtol=0)
  tf2 = hub.load(custom.dir("saved_model_2"))(tf.constant(batch)).numpy()
  np.testing.assert_allclose(tf2, logits, atol=1e-4, rtol=0)


def _lite_run(path, batch):
  from ai_edge_litert.interpreter import Interpreter
  interpreter = Interpreter(model_path=path, num_threads=1)
  interpreter.allocate_tensors()
  (inp,), (out,) = (interpreter.get_input_details(),
                    interpreter.get_output_details())
  results = []
  for image in batch:
    interpreter.set_tensor(inp["index"], image[None].astype(inp["dtype"]))
    interpreter.invoke()
    results.append(interpreter.get_tensor(out["index"])[0].copy())
  return np.stack(results), out


@pytest.mark.parametrize("which", ["v2", "v1"])
def test_float_lite_equals_the_saved_model(request, which):
  import tensorflow as tf
  import tensorflow_hub as hub
  custom = request.getfixturevalue(which)
  batch = images(custom.spec["size"], batch=3, seed=5)
  probabilities, _ = _lite_run(
      os.path.join(custom.dir("lite"), "model.tflite"), batch * 2 - 1)
  logits = hub.load(custom.dir("saved_model_2"))(tf.constant(batch)).numpy()
  e = np.exp(logits - logits.max(-1, keepdims=True))
  np.testing.assert_allclose(probabilities, e / e.sum(-1, keepdims=True),
                             atol=1e-5, rtol=0)


def test_post_training_quantized_lite_agrees_with_the_float_model(v2):
  """Top-1 on the held-out calibration images (every 5th, not used to
  calibrate), fed as a user would (decoded with Pillow: the raw pixels into
  the quantized file, the same pixels normalised into the float one), with
  LiteRT: what the exporter reported, and at least 90%."""
  from PIL import Image
  from export.formats import lite
  from export.publishing import manifest
  from tests.test_ptq_input import pixels
  quantized = v2.handle("lite", quantization="post_training")
  _, held_out = lite.calibration_split(v2.cfg)
  assert len(held_out) == 20
  raw = []
  for path in held_out:
    with Image.open(path) as image:
      raw.append(pixels(image, v2.spec["size"]))
  raw = np.stack(raw)
  float_out, _ = _lite_run(os.path.join(v2.dir("lite"), "model.tflite"),
                           (raw.astype(np.float32) - 127.5) / 127.5)
  quant_out, details = _lite_run(
      os.path.join(v2.modules[quantized], "model.tflite"), raw)
  assert details["dtype"] == np.uint8
  agreement = np.mean(float_out.argmax(-1) == quant_out.argmax(-1))
  assert agreement >= 0.9
  report = manifest.load(v2.out)[quantized].report
  assert report["top1_agreement"] == pytest.approx(agreement)
  assert report["held_out_images"] == 20


@pytest.mark.parametrize("which", ["v2", "v1"])
def test_tfjs_equals_tf(request, which, tmp_path):
  custom = request.getfixturevalue(which)
  batch = images(custom.spec["size"], batch=2, seed=6).astype(np.float32)
  inputs = str(tmp_path / "input.bin")
  batch.tofile(inputs)
  results = str(tmp_path / "result")
  report = run_node("run_model.js", dict(
      model_dir=custom.dir("tfjs"), input=inputs, shape=list(batch.shape),
      outputs=[], results=results, repeat=0), tmp_path)
  tfjs = np.fromfile(f"{results}.0.bin", np.float32).reshape(
      report["shapes"][0])
  want = _tf1_default(custom.dir("hub"), batch)
  np.testing.assert_allclose(tfjs, want, atol=1e-5 * np.abs(want).max(),
                             rtol=0)


@pytest.mark.parametrize("which", ["v2", "v1"])
def test_onnx_models_equal_the_saved_model(request, which):
  """ONNX Runtime's logits and feature vectors equal the TF2 SavedModels'
  (`serving_default`) within 1e-5 of their magnitude, at batch 1 and 4 (the
  size is fixed, as the SavedModel's)."""
  import tensorflow as tf
  from tests import test_onnx
  custom = request.getfixturevalue(which)
  size = custom.spec["size"]
  serving = {kind: tf.saved_model.load(custom.dir("saved_model_2", kind))
             .signatures["serving_default"]
             for kind in ("classification", "feature_vector")
             if kind == "classification" or which == "v2"}
  sessions = {kind: test_onnx.ort_session(
      os.path.join(custom.dir("onnx", kind), "model.onnx"))
              for kind in serving}
  for batch_size in (1, 4):
    batch = images(size, batch=batch_size, seed=batch_size)
    want = {kind: serve(inputs=tf.constant(batch))["output_0"].numpy()
            for kind, serve in serving.items()}
    logits, features = sessions["classification"].run(None, {"images": batch})
    assert logits.shape == (batch_size, custom.spec["classes"])
    errors = [test_onnx.relative_error(logits, want["classification"])]
    if which == "v2":
      (alone,) = sessions["feature_vector"].run(None, {"images": batch})
      errors += [test_onnx.relative_error(f, want["feature_vector"])
                 for f in (features, alone)]
    assert max(errors) <= test_onnx.TOLERANCE, errors


def test_post_training_quantized_onnx_model_equals_the_lite_file(v2):
  """The QDQ model converted from the post-training quantized Lite file
  (int8 tensors and per-channel weights, residual adds, an AVERAGE_POOL_2D
  head): every output within one quantization step of LiteRT's on natural
  photos, and a deliberately wrong padding is caught."""
  import onnx
  from tests import test_onnx
  handle = v2.handle("onnx", variant="classification",
                     quantization="post_training")
  model = os.path.join(v2.modules[handle], "model.onnx")
  lite = test_onnx.Lite(os.path.join(
      v2.dir("lite", quantization="post_training"), "model.tflite"))
  photos = test_onnx.natural_photos(v2.spec["size"])
  steps = test_onnx.steps_apart(model, lite, photos)
  assert set(steps) == {"logits", "feature_vector"}
  assert max(steps.values()) <= test_onnx.ONE_STEP, steps
  broken = test_onnx.steps_apart(
      test_onnx.broken_model(model, "same_lower"), lite, photos)
  assert max(broken.values()) > 2, broken
  test_onnx.check_uint8_qdq(onnx.load(model))
  meta = {p.key: p.value for p in onnx.load(model).metadata_props}
  assert meta["handle"] == handle
  assert meta["source_checkpoint"] == "model.ckpt"
  assert meta["license"] == v2.cfg.model.license
  with open(os.path.join(v2.modules[handle], "labels.txt"),
            encoding="utf-8") as f:
    assert f.read().splitlines() == [f"class_{i}" for i in range(5)]


def test_v1_through_the_legacy_hub_module(v1, tmp_path):
  path = str(tmp_path / "images.npy")
  batch = images(128, batch=2, seed=8)
  np.save(path, batch)
  module_dir = v1.dir("hub")
  result = subprocess.run(
      [LEGACY_PYTHON, os.path.join(REPO, "tests", "legacy_consumer.py"),
       path, module_dir], capture_output=True, text=True, timeout=600,
      env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": os.environ["PATH"]})
  assert result.returncode == 0, result.stderr[-3000:]
  seen = json.loads(result.stdout.strip().splitlines()[-1])[module_dir]
  inference = seen["inference"]
  assert inference["expected_image_size"] == [128, 128]
  assert "image_classification_with_bn_hparams" in inference["signatures"]
  logits = np.array(inference["outputs"]["default"])
  assert logits.shape == (2, 10)
  np.testing.assert_allclose(logits, _tf1_default(module_dir, batch),
                             atol=1e-4, rtol=0)
  # V1 with version 3 behaviour: other input sizes too.
  assert inference["other_size_output_shape"] == [1, 10]


@pytest.mark.parametrize("which", ["v2", "v1"])
def test_cards_pass_the_validators_rules(request, which):
  from export import cards
  custom = request.getfixturevalue(which)
  tree = cards.render_all([custom.cfg])
  assert len(tree) >= len(custom.cfg.modules) + 1  # And the publisher page.
  assert tfhub_validator.problems(tree) == []
  card = tree[f"{custom.spec['publisher']}/models/{custom.spec['name']}_model/"
              "classification/2.md"]
  assert f"`num_classes` = {custom.spec['classes']}" in card
  # A deliberately wrong card is caught: Kaggle's license name, an
  # unexpected line, a deprecated key.
  wrong = dict(tree)
  path = next(p for p in tree if p.endswith("classification/1.md"))
  wrong[path] = (tree[path].replace("license: apache-2.0", "license: Apache 2.0")
                 .replace("<!-- format: hub -->",
                          "<!-- format: hub -->\n<!-- module-type: image-classification -->\n"
                          "[![Open Colab notebook]](https://colab.research.google.com/x)"))
  found = tfhub_validator.problems(wrong)
  assert len(found) == 3 and all(p.startswith(path) for p in found), found


def test_kaggle_dry_run_lists_it_under_its_owner(v2):
  result = run_cli("kaggle", f"--output_dir={v2.out}", f"--configs={v2.path}",
                   "--dry_run")
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert len(lines) == len(v2.cfg.modules) + 1
  assert ("acme/flowers-model/tfLite/0-60-192-quantized/1  version 1  <- "
          "acme/lite-model/flowers_model_quantized/1/default/1: 1 files,") in (
              result.stdout)
  assert all(l.startswith("acme/flowers-model/") for l in lines[:-1])
  assert "to publish" in lines[0]


@pytest.mark.parametrize("which", ["v2", "v1"])
def test_new_config_writes_a_config_that_exports(request, which, tmp_path,
                                                 cache_dir):
  from export.core import config
  custom = request.getfixturevalue(which)
  labels = os.path.join(os.path.dirname(custom.path), "labels.txt")
  output = str(tmp_path / "mine" / f"{which}_model.yaml")
  result = run_cli("new_config", f"--checkpoint={os.path.dirname(custom.prefix)}",
                   f"--labels={labels}", f"--output={output}",
                   f"--input_size={custom.spec['size']}")
  assert result.returncode == 0, result.stderr
  assert "left to fill in: model.publisher" in result.stdout
  cfg = config.load(output)
  assert (cfg.architecture, cfg.depth_multiplier, cfg.num_classes) == (
      custom.spec["architecture"], custom.spec["multiplier"],
      custom.spec["classes"])
  formats = {m.format for m in cfg.modules}
  assert formats == {"hub", "saved_model_2", "lite", "tfjs", "onnx"}
  assert "PLACEHOLDER" in cfg.model.title
  only = [m.handle for m in cfg.modules
          if m.format in ("hub", "lite") and m.kind == "classification"
          and m.variant in (None, "default")]
  modules = export(cfg, str(tmp_path / "out"), cache_dir, only)
  assert sorted(modules) == sorted(only)


def _config_error(tmp_path, **overrides):
  from export.core import config
  path = write_config(str(tmp_path / "bad"), V2, **overrides)
  with pytest.raises(config.ConfigError) as info:
    config.load(path)
  return str(info.value)


@pytest.mark.parametrize("overrides, message", [
    (dict(multiplier=0), "depth_multiplier: 0 is not allowed; expected a "
     "multiple of 0.01 above 0 and at most 4"),
    (dict(multiplier=0.123), "depth_multiplier: 0.123 is not allowed"),
    (dict(size=100), "input_size: 100 is not allowed; expected a multiple "
     "of 32 from 32 up"),
    (dict(calibration=0, modules="  - {kind: classification, format: lite, "
          "quantization: post_training}\n"),
     "calibration: None is not allowed; post-training quantized lite and "
     "onnx modules need a directory of representative images"),
])
def test_bad_configs_name_file_key_and_value(tmp_path, overrides, message):
  error = _config_error(tmp_path, **overrides)
  assert error.startswith(str(tmp_path / "bad" / "flowers.yaml"))
  assert message in error


def test_a_label_file_of_another_length_is_refused(tmp_path):
  from export.core import config
  path = write_config(str(tmp_path / "bad"), V2, calibration=0,
                      modules="  - {kind: classification, format: hub}\n")
  with open(os.path.join(os.path.dirname(path), "labels.txt"), "a") as f:
    f.write("one too many\n")
  with pytest.raises(config.ConfigError, match=r"labels: '.*labels.txt' is "
                     r"not allowed; has 6 lines; expected one per class, "
                     r"num_classes = 5"):
    config.load(path)


def test_an_empty_calibration_directory_is_refused(tmp_path):
  os.makedirs(tmp_path / "bad" / "images")
  (tmp_path / "bad" / "images" / "notes.txt").write_text("no images")
  error = _config_error(tmp_path)
  assert "calibration: '" in error and "expected a directory holding images" \
      in error


def test_a_checkpoint_that_does_not_fit_lists_every_variable(v2, tmp_path):
  """The V2 0.6 checkpoint named by a config of another multiplier."""
  path = write_config(str(tmp_path / "bad"), V2, multiplier=0.75,
                      calibration=0,
                      modules="  - {kind: classification, format: hub}\n")
  with open(path) as f:
    text = f.read().replace("path: ckpt/model.ckpt", f"path: {v2.prefix}")
  with open(path, "w") as f:
    f.write(text)
  result = run_cli("one", f"--config={path}", f"--output_dir={tmp_path / 'o'}",
                   f"--cache_dir={tmp_path / 'cache'}")
  assert result.returncode == 1
  # Every offending variable, each on its own line.
  assert ("shape of MobilenetV2/Conv_1/weights is [1, 1, 192, 1280], model "
          "needs [1, 1, 240, 1280]") in result.stderr
  assert result.stderr.count("\n    shape of MobilenetV2/") > 10


def test_new_config_refuses_labels_of_another_count(v1, tmp_path):
  labels = tmp_path / "labels.txt"
  labels.write_text("a\nb\n")
  result = run_cli("new_config",
                   f"--checkpoint={os.path.dirname(v1.prefix)}",
                   f"--labels={labels}", f"--output={tmp_path / 'x.yaml'}")
  assert result.returncode == 2
  assert result.stderr.startswith(f"error: {labels}: has 2 lines, but ")
  assert "classifier has 10 classes" in result.stderr
  assert not (tmp_path / "x.yaml").exists()


def test_a_config_can_name_its_own_card_template(tmp_path):
  from export import cards
  from export.core import config
  path = write_config(str(tmp_path / "own"), V1, calibration=0,
                      modules="  - {kind: classification, format: hub}\n")
  template = tmp_path / "own" / "card.md"
  template.write_text(
      "# Module {{handle}}\n{{title}}, {{num_classes}} classes.\n\n"
      "<!-- asset-path: {{asset_path}} -->\n<!-- task: {{task}} -->\n"
      "<!-- fine-tunable: {{fine_tunable}} -->\n<!-- format: {{format}} -->\n"
      "\n## Overview\n\n{% for i in range(2) %}{{i}} {% endfor %}\n"
      '{% include "_custom_input.md" %}')
  with open(path) as f:
    text = f.read().replace("  authors:", "  card_template: card.md\n"
                            "  authors:")
  with open(path, "w") as f:
    f.write(text)
  tree = cards.render_all([config.load(path)])
  card = tree["dial-works/models/gauges_model/classification/1.md"]
  assert card.startswith("# Module dial-works/gauges_model/classification/1\n"
                         "Gauges model, 10 classes.\n")
  assert "0 1 The input `images` are expected" in card  # trim_blocks.
  assert tfhub_validator.problems(tree) == []


def test_a_checkpoint_archive_is_found_without_naming_its_prefix(v1,
                                                                  tmp_path):
  import tarfile
  from export.core import config
  from export.sources import checkpoint as checkpoint_lib
  from export.sources import source
  archive = tmp_path / "own" / "trained.tgz"
  archive.parent.mkdir()
  with tarfile.open(archive, "w:gz") as tar:
    for name in os.listdir(os.path.dirname(v1.prefix)):
      tar.add(os.path.join(os.path.dirname(v1.prefix), name),
              arcname=f"run_7/{name}")
  path = write_config(str(tmp_path / "own"), V1, calibration=0,
                      modules="  - {kind: classification, format: hub}\n")
  with open(path) as f:
    text = f.read().replace("path: ckpt/model.ckpt", "path: trained.tgz")
  with open(path, "w") as f:
    f.write(text)
  cfg = config.load(path)
  prepared = source.prepare(cfg, source.Source(cache_dir=str(tmp_path / "c")))
  assert os.path.basename(prepared.prefix) == "model.ckpt"
  assert prepared.sha256 == checkpoint_lib.checkpoint_sha256(v1.prefix)


def test_the_cards_load_snippets_load_the_export(v1, tmp_path):
  """The Python snippets of the TF2 and Lite cards, run as written where
  `out/` is the export (`export.one`'s default --output_dir, the cards'
  source of a model not on Kaggle): the SavedModel in a tf-keras model
  gives the module's logits, the Lite file takes the config's input."""
  import re
  from export import cards
  from export.cards import facts
  tree = cards.render_all([v1.cfg])
  snippets = []
  for handle in (v1.handle("saved_model_2"), v1.handle("lite")):
    card = tree[facts.docs_path(v1.cfg.module(handle))]
    (code,) = re.findall(r"```python\n(.*?)```", card, re.S)
    snippets.append(code)
  os.symlink(v1.out, tmp_path / "out")
  batch = images(128, batch=2, seed=3)
  np.save(tmp_path / "batch.npy", batch)
  script = tmp_path / "cards.py"
  script.write_text("\n".join(snippets) + """
import json
import numpy as np
print(json.dumps(dict(
    logits=m(np.load("batch.npy")).numpy().tolist(),
    lite_input=interpreter.get_input_details()[0]["shape"].tolist())))
""")
  proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path,
                        capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  got = json.loads(proc.stdout.strip().splitlines()[-1])
  import tensorflow as tf
  import tensorflow_hub as hub
  want = hub.load(v1.dir("saved_model_2"))(tf.constant(batch)).numpy()
  np.testing.assert_allclose(got["logits"], want, atol=1e-5, rtol=0)
  assert got["lite_input"] == [1, 128, 128, 3]

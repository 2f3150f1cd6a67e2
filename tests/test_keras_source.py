"""Keras model files as checkpoints of one's own (`sources/keras_model.py`).

A MobileNet fine-tuned in Keras goes through `export.new_config` and the
export like a Slim checkpoint, and every artifact computes what the Keras
model computes: each is compared with `model.predict` of the model loaded
back from its file (its logits, or their softmax where the artifact outputs
probabilities). The Keras models get their starting values from synthetic
checkpoints through `test_keras_reference`'s own Slim -> Keras mapping (not
the exporter's), then are trained on natural photos (scikit-image's).

Shapes: a Keras 3 `MobileNetV2` base with Rescaling, augmentation, pooling,
Dropout and Dense(5), fine-tuned and exported in every format; Keras 3's V1
`MobileNet(classes=10)` with its top; a tf-keras `.h5` of a V2 base behind
`preprocess_input` with a softmax Dense; a tf-keras `hub.KerasLayer` over an
exported feature vector module, fine-tuned one step. Bad files are refused
with one line and exit 2, writing nothing.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests import test_keras_reference as keras_reference
from tests import tfhub_validator
from tests.conftest import REPO, run_cli, run_node
from tests.test_custom_models import _lite_run, _tf1_default

TOLERANCE = 1e-4
V2_BASE, V1_BASE = "v2_035_96", "v1_050_128"  # Synthetic starting values.
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry")


def natural_crops(per_class, size, seed):
  """(uint8 pixels [n, size, size, 3], labels): square crops of five
  scikit-image photos, resized; the label is the photo's index."""
  from skimage import data, transform
  rng = np.random.default_rng(seed)
  pixels, labels = [], []
  for label, name in enumerate(PHOTOS):
    photo = getattr(data, name)()
    h, w = photo.shape[:2]
    for _ in range(per_class):
      side = int(rng.integers(min(h, w) // 2, min(h, w) + 1))
      y, x = (int(rng.integers(0, d - side + 1)) for d in (h, w))
      crop = transform.resize(photo[y:y + side, x:x + side], (size, size),
                              anti_aliasing=True)
      pixels.append(np.round(crop * 255).astype(np.uint8))
      labels.append(label)
  return np.stack(pixels), np.array(labels)


def _values(synthetic_checkpoint, name, classes=None):
  """A synthetic checkpoint's values; the classifier cut to `classes`
  (None: dropped)."""
  values = keras_reference.checkpoint_values(synthetic_checkpoint(name))
  for key in [k for k in values if "/Logits/" in k]:
    if classes is None:
      del values[key]
    else:
      values[key] = values[key][..., :classes]
  return values


def _keras_with_values(build, architecture, values, **kwargs):
  """A Keras 3 application `build(**kwargs)` given `values` by
  test_keras_reference's mapping."""
  model = build(weights=None, **kwargs)
  keras_reference.assign(model, keras_reference.MAPPINGS[architecture],
                         values)
  return model


def _tf_keras_with_values(build, architecture, values, **kwargs):
  """The tf-keras application `build(**kwargs)` with the weights Keras 3's
  gets from `values`, copied layer by layer (same names, same order)."""
  import keras
  source = _keras_with_values(getattr(keras.applications, build.__name__),
                              architecture, values, **kwargs)
  model = build(weights=None, **kwargs)
  for layer in model.layers:
    if layer.weights:
      layer.set_weights(source.get_layer(layer.name).get_weights())
  return model


def _run_all(commands, timeout=900):
  """Runs `python -m export.<module> args` for each of `commands` at once;
  returns their CompletedProcess-like results, in order."""
  env = dict(os.environ, PYTHONPATH=REPO)
  procs = [subprocess.Popen([sys.executable, "-m", f"export.{module}", *args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
           for module, *args in commands]
  results = []
  for proc in procs:
    out, err = proc.communicate(timeout=timeout)
    results.append(subprocess.CompletedProcess(proc.args, proc.returncode,
                                               out, err))
  return results


def _labels(path, count):
  with open(path, "w") as f:
    f.write("".join(f"{name}\n" for name in (PHOTOS * 3)[:count]))
  return path


def _softmax(logits):
  e = np.exp(logits - logits.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _tfjs(model_dir, batch, tmp_path):
  inputs = str(tmp_path / "input.bin")
  batch.astype(np.float32).tofile(inputs)
  results = str(tmp_path / "result")
  report = run_node("run_model.js", dict(
      model_dir=model_dir, input=inputs, shape=list(batch.shape), outputs=[],
      results=results, repeat=0), tmp_path)
  return np.fromfile(f"{results}.0.bin", np.float32).reshape(
      report["shapes"][0])


def _tf2(module_dir, batch):
  import tensorflow as tf
  import tensorflow_hub as hub
  return hub.load(module_dir)(tf.constant(batch)).numpy()


def _lite(module_dir, pixels):
  """The float Lite file's output on uint8 `pixels`, fed as published:
  (pixel - 127.5) / 127.5."""
  out, _ = _lite_run(os.path.join(module_dir, "model.tflite"),
                     pixels.astype(np.float32) / 127.5 - 1.0)
  return out


# --- The real fine-tune: MobileNetV2 0.35/96, Rescaling, Dense(5) ------------


class FineTune:
  """A Keras 3 model fine-tuned on natural photos, saved as .keras, given to
  `export.new_config` and exported by `export.one` in every format."""

  def __init__(self, tmp, synthetic_checkpoint):
    import keras
    keras.utils.set_random_seed(0)
    base = _keras_with_values(
        keras.applications.MobileNetV2, "mobilenet_v2",
        _values(synthetic_checkpoint, V2_BASE), alpha=0.35,
        input_shape=(96, 96, 3), include_top=False)
    inputs = keras.Input((96, 96, 3))
    x = keras.layers.RandomFlip("horizontal")(inputs)
    x = keras.layers.RandomRotation(0.1)(x)
    x = keras.layers.Rescaling(1 / 255)(x)  # The base sees [0, 1].
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(5)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    pixels, labels = natural_crops(8, 96, seed=1)
    self.trained_from = base.get_layer("Conv1").kernel.numpy().copy()
    model.fit(pixels.astype(np.float32), labels, batch_size=8, epochs=2,
              shuffle=True, verbose=0)
    self.dir = os.path.join(tmp, "flowers")
    os.makedirs(self.dir)
    self.keras_path = os.path.join(self.dir, "flowers.keras")
    model.save(self.keras_path)
    # Calibration photos for the post-training quantized Lite file.
    from PIL import Image
    calibration, _ = natural_crops(5, 128, seed=2)
    os.makedirs(os.path.join(self.dir, "images"))
    for i, image in enumerate(calibration):
      Image.fromarray(image).save(os.path.join(self.dir, "images",
                                               f"{i:02d}.png"))
    self.labels = _labels(os.path.join(self.dir, "labels.txt"), 5)
    self.path = os.path.join(self.dir, "flowers.yaml")
    self.new_config = run_cli("new_config", f"--checkpoint={self.keras_path}",
                              f"--labels={self.labels}",
                              f"--output={self.path}")
    assert self.new_config.returncode == 0, self.new_config.stderr
    with open(self.path) as f:
      text = f.read()
    for placeholder, value in (
        ("publisher: placeholder-publisher", "publisher: acme"),
        # Features: the TF1 module's (the others share its network).
        ("  - {kind: feature_vector, format: saved_model_2}\n", ""),
        ("  - {kind: feature_vector, format: tfjs}\n", ""),
        ("# calibration: images/", "calibration: images/"),
        ("  # - {kind: classification, format: lite, quantization: "
         "post_training}",
         "  - {kind: classification, format: lite, quantization: "
         "post_training}")):
      assert placeholder in text
      text = text.replace(placeholder, value)
    with open(self.path, "w") as f:
      f.write(text)
    self.out = os.path.join(tmp, "out")
    self.export = run_cli("one", f"--config={self.path}",
                          f"--output_dir={self.out}",
                          f"--cache_dir={os.path.join(tmp, 'cache')}",
                          timeout=1200)
    assert self.export.returncode == 0, self.export.stderr[-3000:]
    from export.core import config
    self.cfg = config.load(self.path)
    # Held-out photos, and what the model loaded back from its file says.
    self.pixels, _ = natural_crops(1, 96, seed=3)
    self.batch = self.pixels.astype(np.float32) / 255
    loaded = keras.saving.load_model(self.keras_path)
    self.logits = loaded.predict(self.pixels.astype(np.float32), verbose=0)
    pooled = keras.Model(loaded.inputs, loaded.get_layer("pool").output)
    self.features = pooled.predict(self.pixels.astype(np.float32), verbose=0)
    self.trained_to = loaded.get_layer(base.name).get_layer(
        "Conv1").kernel.numpy()

  def dir_of(self, fmt, kind="classification", variant="default",
             quantization=None):
    handle = next(m.handle for m in self.cfg.modules
                  if m.format == fmt and m.kind == kind and
                  m.variant in (None, variant) and
                  m.quantization == quantization)
    return os.path.join(self.out, handle)


@pytest.fixture(scope="module")
def fine_tune(tmp_path_factory, synthetic_checkpoint):
  return FineTune(str(tmp_path_factory.mktemp("keras_fine_tune")),
                  synthetic_checkpoint)


@pytest.mark.slow
def test_new_config_reads_the_fine_tuned_model(fine_tune):
  cfg = fine_tune.cfg
  assert (cfg.architecture, cfg.depth_multiplier, cfg.input_size,
          cfg.num_classes, cfg.input_range) == (
              "mobilenet_v2", 0.35, 96, 5, (0.0, 1.0))
  assert cfg.checkpoint.path == fine_tune.keras_path
  assert "inputs [0, 1] mapped to [0, 1]" in fine_tune.new_config.stdout
  # It was trained: the exports are not the starting values.
  assert not np.allclose(fine_tune.trained_from, fine_tune.trained_to)


@pytest.mark.slow
def test_modules_equal_model_predict(fine_tune):
  f = fine_tune
  assert f.logits.shape == (5, 5) and np.abs(f.logits).max() > 0.5
  np.testing.assert_allclose(_tf1_default(f.dir_of("hub"), f.batch),
                             f.logits, atol=TOLERANCE, rtol=0)
  np.testing.assert_allclose(
      _tf1_default(f.dir_of("hub", "feature_vector"), f.batch), f.features,
      atol=TOLERANCE, rtol=0)
  np.testing.assert_allclose(_tf2(f.dir_of("saved_model_2"), f.batch),
                             f.logits, atol=TOLERANCE, rtol=0)


@pytest.mark.slow
def test_lite_files_equal_the_softmax_of_model_predict(fine_tune):
  from export.publishing import manifest
  f = fine_tune
  for variant in ("default", "metadata"):
    np.testing.assert_allclose(_lite(f.dir_of("lite", variant=variant),
                                     f.pixels),
                               _softmax(f.logits), atol=TOLERANCE, rtol=0)
  quantized = f.dir_of("lite", quantization="post_training")
  report = manifest.load(f.out)[os.path.relpath(quantized, f.out)].report
  assert report["held_out_images"] == 5  # Every 5th of 25.
  assert 0 <= report["top1_agreement"] <= 1
  print(f"post-training quantized Lite file: {report['summary']}")


@pytest.mark.slow
def test_tfjs_equals_model_predict(fine_tune, tmp_path):
  f = fine_tune
  np.testing.assert_allclose(_tfjs(f.dir_of("tfjs"), f.batch, tmp_path),
                             f.logits, atol=TOLERANCE, rtol=0)


@pytest.mark.slow
def test_cards_say_how_inputs_are_scaled(fine_tune):
  from export import cards
  tree = cards.render_all([fine_tune.cfg])
  assert tfhub_validator.problems(tree) == []
  for kind, version in (("classification", 1), ("classification", 2),
                        ("feature_vector", 1)):
    card = tree[f"acme/models/flowers/{kind}/{version}.md"]
    assert ("The module maps the color values linearly to\n[0, 1], the "
            "range its network saw in training.") in card
    assert "`num_classes` = 5" in card or kind == "feature_vector"


@pytest.mark.slow
def test_kaggle_dry_run(fine_tune):
  result = run_cli("kaggle", f"--output_dir={fine_tune.out}",
                   f"--configs={fine_tune.path}", "--dry_run")
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert len(lines) == len(fine_tune.cfg.modules) + 1
  assert all(line.startswith("acme/flowers/") for line in lines[:-1])


# --- The other shapes: V1 with its top, tf-keras .h5, hub.KerasLayer ---------


class Shapes:
  """Three more Keras files, their configs from `export.new_config`, and
  their classification modules in every format, exported in one run."""

  def __init__(self, tmp, synthetic_checkpoint, variant):
    self.tmp, self.models = tmp, {}
    self._v1_with_top(synthetic_checkpoint)
    self._tf_keras_base(synthetic_checkpoint)
    self._hub_layer(variant)
    commands = []
    for name, m in self.models.items():
      m["config"] = os.path.join(tmp, f"{name}.yaml")
      labels = _labels(os.path.join(tmp, f"{name}.txt"), m["classes"])
      commands.append(("new_config", f"--checkpoint={m['path']}",
                       f"--labels={labels}", f"--output={m['config']}"))
    for result in _run_all(commands):
      assert result.returncode == 0, result.stderr
    import io
    from export.core import config
    from export.pipeline import exporter, runner
    from export.sources import source
    self.out = os.path.join(tmp, "out")
    plans = []
    for m in self.models.values():
      m["cfg"] = cfg = config.load(m["config"])
      only = [mod.handle for mod in cfg.modules
              if mod.kind == "classification" and mod.variant in (None,
                                                                  "default")]
      plans.append((cfg, exporter.plan(cfg, self.out, only)))
    results = runner.run(plans, source.Source(cache_dir=os.path.join(
        tmp, "cache")), self.out, jobs=2, out=io.StringIO())
    assert all(r.status == runner.EXPORTED for r in results), [
        (r.handle, r.status, r.error) for r in results]

  def _v1_with_top(self, synthetic_checkpoint):
    """Shape 1: Keras 3's MobileNet(alpha=0.5, classes=10), its softmax
    top; fed [-1, 1] as its preprocess_input makes it."""
    import keras
    model = _keras_with_values(
        keras.applications.MobileNet, "mobilenet_v1",
        _values(synthetic_checkpoint, V1_BASE, 10), alpha=0.5,
        input_shape=(128, 128, 3), classes=10)
    path = os.path.join(self.tmp, "v1_top.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    logits = keras.Model(loaded.inputs, loaded.get_layer("reshape_2").output)
    self.models["v1_top"] = dict(
        path=path, classes=10, size=128, input=lambda x: x * 2 - 1,
        logits=lambda x: logits.predict(x, verbose=0),
        predict=lambda x: loaded.predict(x, verbose=0), softmax=True)

  def _tf_keras_base(self, synthetic_checkpoint):
    """Shape 2 in tf-keras, saved as .h5: augmentation, preprocess_input
    (recorded as divide and subtract), a V2 base, Dense(5, softmax)."""
    import tf_keras
    base = _tf_keras_with_values(
        tf_keras.applications.MobileNetV2, "mobilenet_v2",
        _values(synthetic_checkpoint, V2_BASE), alpha=0.35,
        input_shape=(96, 96, 3), include_top=False)
    inputs = tf_keras.Input((96, 96, 3))
    x = tf_keras.layers.RandomFlip("horizontal")(inputs)
    x = tf_keras.applications.mobilenet_v2.preprocess_input(x)
    x = base(x, training=False)
    x = tf_keras.layers.GlobalAveragePooling2D()(x)
    x = tf_keras.layers.Dropout(0.2)(x)
    outputs = tf_keras.layers.Dense(5, activation="softmax")(x)
    model = tf_keras.Model(inputs, outputs)
    model.get_layer(index=-1).set_weights([
        np.random.default_rng(1).normal(0, 0.3, (1280, 5)).astype(np.float32),
        np.linspace(-0.5, 0.5, 5, dtype=np.float32)])
    path = os.path.join(self.tmp, "tf_keras_base.h5")
    model.save(path)
    loaded = tf_keras.models.load_model(path)
    dense = loaded.layers[-1]
    pooled = tf_keras.Model(loaded.inputs, loaded.layers[-3].output)
    self.models["tf_keras_base"] = dict(
        path=path, classes=5, size=96, input=lambda x: x * 255,
        logits=lambda x: pooled.predict(x, verbose=0) @ dense.kernel.numpy()
        + dense.bias.numpy(),
        predict=lambda x: loaded.predict(x, verbose=0), softmax=True)

  def _hub_layer(self, variant):
    """Shape 3: TF Hub's tutorial in tf-keras, over an exported V2 feature
    vector module, fine-tuned one step (trainable=True: batch norm in
    training mode updates the module's moving averages)."""
    import tensorflow_hub as hub
    import tf_keras
    v = variant(V2_BASE, only=[f"google/imagenet/mobilenet_v2_035_96/"
                               "feature_vector/5"])
    layer = hub.KerasLayer(v.module("feature_vector", 5), trainable=True,
                           arguments=dict(batch_norm_momentum=0.9))
    model = tf_keras.Sequential([
        tf_keras.layers.InputLayer(input_shape=(96, 96, 3)), layer,
        tf_keras.layers.Dropout(0.2), tf_keras.layers.Dense(5)])
    model.compile(optimizer=tf_keras.optimizers.SGD(0.01),
                  loss=tf_keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    pixels, labels = natural_crops(2, 96, seed=4)
    mean = next(w for w in layer.weights if "Conv/BatchNorm/moving_mean"
                in w.name)
    before = mean.numpy().copy()
    model.fit(pixels / 255, labels, batch_size=10, epochs=1, verbose=0)
    assert not np.allclose(mean.numpy(), before)  # Trained, in train mode.
    path = os.path.join(self.tmp, "hub_layer.h5")
    model.save(path)
    loaded = tf_keras.models.load_model(
        path, custom_objects={"KerasLayer": hub.KerasLayer})
    self.models["hub_layer"] = dict(
        path=path, classes=5, size=96, input=lambda x: x,
        logits=lambda x: loaded.predict(x, verbose=0),
        predict=lambda x: loaded.predict(x, verbose=0), softmax=False)

  def dir_of(self, name, fmt):
    cfg = self.models[name]["cfg"]
    return os.path.join(self.out, next(
        m.handle for m in cfg.modules if m.format == fmt and
        m.kind == "classification" and m.variant in (None, "default")))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory, synthetic_checkpoint, variant):
  return Shapes(str(tmp_path_factory.mktemp("keras_shapes")),
                synthetic_checkpoint, variant)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["v1_top", "tf_keras_base", "hub_layer"])
def test_every_format_equals_model_predict(shapes, name, tmp_path):
  m = shapes.models[name]
  pixels, _ = natural_crops(1, m["size"], seed=5)
  batch = pixels.astype(np.float32) / 255
  model_input = m["input"](batch)
  logits = m["logits"](model_input)
  predicted = m["predict"](model_input)
  assert logits.shape == (5, m["classes"]) and np.abs(logits).max() > 0.5
  np.testing.assert_allclose(_softmax(logits) if m["softmax"] else logits,
                             predicted, atol=1e-5, rtol=0)
  np.testing.assert_allclose(_tf1_default(shapes.dir_of(name, "hub"), batch),
                             logits, atol=TOLERANCE, rtol=0)
  np.testing.assert_allclose(_tf2(shapes.dir_of(name, "saved_model_2"), batch),
                             logits, atol=TOLERANCE, rtol=0)
  np.testing.assert_allclose(_lite(shapes.dir_of(name, "lite"), pixels),
                             _softmax(logits), atol=TOLERANCE, rtol=0)
  np.testing.assert_allclose(_tfjs(shapes.dir_of(name, "tfjs"), batch,
                                   tmp_path), logits, atol=TOLERANCE, rtol=0)
  assert m["cfg"].num_classes == m["classes"]
  assert m["cfg"].input_range == (-1.0, 1.0)


@pytest.mark.slow
def test_h5_and_keras_files_give_the_same_values(tmp_path,
                                                 synthetic_checkpoint):
  """Shape 1 saved by tf-keras (.h5, read with h5py) and by Keras 3
  (.keras, read by Keras' loader): the same Slim values, and the ones the
  test's own mapping put in."""
  import keras
  import tf_keras
  from export.sources import keras_model
  values = _values(synthetic_checkpoint, V1_BASE, 7)
  paths = []
  for with_values, library, suffix in (
      (_keras_with_values, keras, ".keras"),
      (_tf_keras_with_values, tf_keras, ".h5")):
    model = with_values(library.applications.MobileNet, "mobilenet_v1",
                        values, alpha=0.5, input_shape=(128, 128, 3),
                        classes=7)
    paths.append(str(tmp_path / f"v1{suffix}"))
    model.save(paths[-1])
  for path in paths:
    read = keras_model.read(path)
    assert (read.facts.architecture, read.facts.depth_multiplier,
            read.facts.num_classes, read.input_size, read.softmax) == (
                "mobilenet_v1", 0.5, 7, 128, True)
    assert sorted(read.values) == sorted(values)
    for name, value in values.items():
      np.testing.assert_array_equal(read.values[name], value, err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("scaling, expected", [
    ("preprocess_input", (-1.0, 1.0)),
    ("rescaling_255", (0.0, 1.0)),
    ("none", (-1.0, 1.0)),
    ("pixels_to_255", (0.0, 255.0)),
])
def test_the_input_range_is_what_the_base_sees_of_0_1(tmp_path, scaling,
                                                       expected):
  """Keras 3 models whose scaling is written in other ways (augmentation in
  a nested Sequential, preprocess_input recorded as operations): images
  x in [0, 1] are pixels 255 x where the model has scaling layers."""
  import keras
  from export.sources import keras_model
  base = keras.applications.MobileNetV2(
      alpha=0.35, input_shape=(64, 64, 3), include_top=False, weights=None)
  inputs = keras.Input((64, 64, 3))
  x = keras.Sequential([keras.layers.RandomFlip(),
                        keras.layers.RandomZoom(0.1)])(inputs)
  x = {"preprocess_input": keras.applications.mobilenet_v2.preprocess_input,
       "rescaling_255": keras.layers.Rescaling(1 / 255),
       "none": lambda t: t,
       # Pixels in, pixels seen: x -> x * 2 / 2.
       "pixels_to_255": lambda t: keras.ops.multiply(
           keras.ops.divide(t, 2.0), 2.0)}[scaling](x)
  x = keras.layers.GlobalAveragePooling2D()(base(x))
  model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
  path = str(tmp_path / "model.keras")
  model.save(path)
  read = keras_model.read(path)
  assert read.input_range == expected
  assert (read.input_size, read.facts.num_classes, read.softmax) == (64, 3,
                                                                     True)


@pytest.mark.slow
@pytest.mark.parametrize("scale, offset, expected", [
    (1 / 255, 0.0, (-1.0, 1.0)),         # Pixels to the module's [0, 1].
    (1 / 127.5, -1.0, (-3.0, 1.0)),      # A mistake, scaled twice.
])
def test_a_hub_layer_scales_what_it_is_given(shapes, tmp_path, scale, offset,
                                             expected):
  """A hub module maps its [0, 1] to [-1, 1] itself: a Rescaling before it
  composes with that (the shape 3 model, given one in its saved config)."""
  import h5py
  from export.sources import keras_model
  path = str(tmp_path / "scaled.h5")
  shutil.copy(shapes.models["hub_layer"]["path"], path)
  with h5py.File(path, "r+") as f:
    config = json.loads(f.attrs["model_config"])
    layers = config["config"]["layers"]
    layers.insert(1, {"class_name": "Rescaling", "config": {
        "name": "rescaling", "trainable": True, "dtype": "float32",
        "scale": scale, "offset": offset}})
    f.attrs["model_config"] = json.dumps(config)
  assert keras_model.read(path).input_range == expected
  assert keras_model.read(shapes.models["hub_layer"]["path"]).input_range == (
      -1.0, 1.0)


# --- Refused: one line, exit 2, nothing written -------------------------------


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
  """{case: (CompletedProcess of export.new_config, output path, file)}."""
  import keras
  tmp = str(tmp_path_factory.mktemp("keras_refused"))
  files = {}
  resnet = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3),
                                       classes=5)
  files["resnet"] = os.path.join(tmp, "resnet.keras")
  resnet.save(files["resnet"])
  for case, hidden in (("hidden_dense", True), ("labels", False)):
    base = keras.applications.MobileNetV2(
        alpha=0.35, input_shape=(64, 64, 3), include_top=False, weights=None)
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.GlobalAveragePooling2D()(base(inputs))
    if hidden:
      x = keras.layers.Dense(16, activation="relu", name="hidden")(x)
    files[case] = os.path.join(tmp, f"{case}.keras")
    keras.Model(inputs, keras.layers.Dense(5)(x)).save(files[case])
  files["truncated"] = os.path.join(tmp, "truncated.keras")
  with open(files["labels"], "rb") as f:
    data = f.read()
  with open(files["truncated"], "wb") as f:
    f.write(data[:len(data) // 2])
  commands, outputs = [], {}
  for case, path in files.items():
    labels = _labels(os.path.join(tmp, f"{case}.txt"),
                     4 if case == "labels" else 5)
    outputs[case] = os.path.join(tmp, case, f"{case}.yaml")
    commands.append(("new_config", f"--checkpoint={path}",
                     f"--labels={labels}", f"--output={outputs[case]}"))
  results = _run_all(commands)
  return {case: (result, outputs[case], files[case])
          for case, result in zip(files, results)}


@pytest.mark.slow
@pytest.mark.parametrize("case, message", [
    ("resnet", "layer 'conv1_pad' (ZeroPadding2D) is not accepted before the "
     "MobileNet"),
    ("hidden_dense", "layer 'hidden' (Dense) has activation 'relu', not "
     "linear or softmax"),
    ("labels", "has 4 lines, but {file}'s classifier has 5 classes; "
     "expected one line per class"),
    ("truncated", "is not a complete .keras archive"),
])
def test_refused_with_one_line(refusals, case, message):
  result, output, path = refusals[case]
  assert result.returncode == 2, result.stderr
  lines = result.stderr.splitlines()
  assert len(lines) == 1, result.stderr
  assert lines[0].startswith("error: "), lines
  assert message.format(file=path) in lines[0]
  if case != "labels":
    assert lines[0].startswith(f"error: {path}: ")
    assert lines[0].endswith(keras_model_accepted())
  assert not os.path.exists(output) and not os.path.exists(
      os.path.dirname(output))


def _small_head(library, first=None):
  """A V2 0.35/64 base, GlobalAveragePooling2D, Dense(3), in `library`
  (keras or tf_keras); `first`: a layer before the base."""
  base = library.applications.MobileNetV2(
      alpha=0.35, input_shape=(64, 64, 3), include_top=False, weights=None)
  inputs = library.Input((64, 64, 3))
  x = base(first(inputs) if first else inputs)
  x = library.layers.GlobalAveragePooling2D()(x)
  return library.Model(inputs, library.layers.Dense(3)(x))


@pytest.mark.slow
@pytest.mark.parametrize("case, message", [
    ("lambda", "layer 'code' (Lambda) is not accepted before the MobileNet "
     "(only input scaling and augmentation)"),
    ("tf_keras_keras", "was saved by Keras {tf_keras} (tf-keras), whose .keras "
     "files Keras 3 does not read; save it with model.save('<name>.h5')"),
    ("weights_only", "holds weights only (no model_config): save the model "
     "with model.save, not model.save_weights"),
])
def test_files_refused_before_their_weights_are_read(tmp_path, case,
                                                     message):
  """A Lambda layer's code is never run (the config is read first); files
  that are not a whole model name what to do."""
  import keras
  import tf_keras
  from export.sources import keras_model
  if case == "lambda":
    ran = str(tmp_path / "ran")  # Made whenever the Lambda's code runs.
    model = _small_head(keras, keras.layers.Lambda(
        lambda t: t / 255 + 0 * len(open(ran, "a").name), name="code"))
    os.remove(ran)
    path = str(tmp_path / "model.keras")
  elif case == "tf_keras_keras":
    model, path = _small_head(tf_keras), str(tmp_path / "model.keras")
  else:
    model, path = _small_head(tf_keras), str(tmp_path / "model.weights.h5")
  (model.save_weights if case == "weights_only" else model.save)(path)
  with pytest.raises(keras_model.KerasModelError) as error:
    keras_model.read(path)
  message = message.format(tf_keras=tf_keras.__version__)
  assert str(error.value).startswith(f"{path}: {message}; accepted: ")
  if case == "lambda":
    assert not os.path.exists(ran)


def keras_model_accepted():
  from export.sources import keras_model
  return keras_model.ACCEPTED


@pytest.mark.slow
def test_a_config_the_model_does_not_fit_is_refused(fine_tune, tmp_path):
  """The config says [-1, 1]; the model's Rescaling(1/255) says [0, 1]."""
  import dataclasses
  from export.sources import keras_model
  cfg = dataclasses.replace(fine_tune.cfg, input_range=(-1.0, 1.0))
  with pytest.raises(keras_model.KerasModelError,
                     match=r"does not fit the config .*flowers.yaml: it has "
                     r"input_range \[0.0, 1.0\] \(the config says "
                     r"\[-1.0, 1.0\]\)$"):
    keras_model.checkpoint(cfg, fine_tune.keras_path, str(tmp_path))


# --- Layers the reader skips --------------------------------------------------

# Arguments to make each inactive layer (the rest take none).
_INACTIVE_ARGS = {"RandomRotation": (0.2,), "RandomZoom": (0.2,),
                  "RandomTranslation": (0.2, 0.2), "RandomContrast": (0.5,),
                  "RandomBrightness": (0.5,), "RandomSaturation": ((0.2, 0.8),),
                  "RandomHue": (0.5,), "RandomShear": (0.3,),
                  "GaussianNoise": (0.5,), "GaussianDropout": (0.5,),
                  "Dropout": (0.5,)}


@pytest.mark.slow
def test_inactive_layers_pass_images_unchanged_at_inference():
  """What the reader skips is the identity at inference in every Keras
  that has it (and in at least one)."""
  import keras
  import tf_keras
  from export.sources import keras_model
  x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(
      np.float32)
  for name in sorted(keras_model.INACTIVE):
    found = [lib for lib in (keras, tf_keras) if hasattr(lib.layers, name)]
    assert found, name
    for lib in found:
      layer = getattr(lib.layers, name)(*_INACTIVE_ARGS.get(name, ()))
      np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x,
                                    err_msg=f"{lib.__name__}.{name}")


@pytest.mark.parametrize("value, message", [
    ("[1, 0]", "expected [low, high], two numbers with low < high"),
    ("[0, 1, 2]", "expected [low, high]"),
    ("zero", "expected list"),
])
def test_bad_input_ranges_are_refused(tmp_path, value, message):
  from export.core import config
  from tests.test_custom_models import V1, write_config
  path = write_config(str(tmp_path), V1, calibration=0,
                      modules="  - {kind: classification, format: hub}\n")
  with open(path, "a") as f:
    f.write(f"input_range: {value}\n")
  with pytest.raises(config.ConfigError, match=r"input_range: .* is not "
                     r"allowed; " + message.replace("[", r"\[")):
    config.load(path)

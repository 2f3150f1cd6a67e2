"""The TF.js graph models, run in TF.js itself (Node, wasm backend).

From synthetic checkpoints: each model against its parent TF1 module loaded
with `hub.load` (the same images, signature `default`); its input and output
as the published models had them (literals: the input here, from the issue
and the public copies of the published model.json files in
tests/testdata/published_tfjs; the output node per architecture and kind in
output_nodes.json there); `@tensorflow-models/mobilenet` 2.1.1, which
most web apps load these models through, on our V1 and V2 1.0/224 models;
and where a config's Lite files and TF.js models land.
"""

import json
import os

import numpy as np
import pytest

from tests.conftest import LEGACY_PYTHON, images, run_node

# (config, parent TF1 versions) run in TF.js; both kinds of each.
CASES = [("v1_025_128", 1), ("v1_025_128", 3), ("v1_100_224", 1),
         ("v2_035_96", 2), ("v2_035_96", 3), ("v2_100_224", 2),
         ("v2_100_224", 3)]
KINDS = ("classification", "feature_vector")
# The one output node of each architecture's models of each kind, as the
# published models have it: literals written down from the public copies in
# tests/testdata/published_tfjs (V2's feature vector: a choice, as that file
# says), not the exporter's names.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata",
                       "published_tfjs", "output_nodes.json"),
          encoding="utf-8") as _f:
  OUTPUT_NODES = {(e["architecture"], e["kind"]): e["node"]
                  for e in json.load(_f)["output_nodes"]}


def _tfjs_handle(cfg, kind, version):
  """google/tfjs-model/imagenet/<name>/<kind>/<version>/default/1, written
  out here (the published handle) rather than asked of the exporter."""
  return (f"google/tfjs-model/imagenet/{cfg.model_name}/{kind}/{version}/"
          f"default/1")


@pytest.fixture(scope="module")
def tfjs(variant):
  """tfjs(config name) -> Variant with the TF.js models of CASES and their
  parent TF1 modules exported."""
  from export.core import config

  def get(name):
    cfg = config.load(name)
    versions = [v for n, v in CASES if n == name] or [1]
    only = []
    for kind in KINDS:
      for version in versions:
        only += [_tfjs_handle(cfg, kind, version),
                 f"google/imagenet/{cfg.model_name}/{kind}/{version}"]
    return variant(name, only=only)
  return get


def _hub_default(module_dir, batch):
  """The parent TF1 module's `default` signature, through hub.load."""
  import tensorflow as tf
  import tensorflow_hub as hub
  module = hub.load(module_dir)
  return module.signatures["default"](images=tf.constant(batch))[
      "default"].numpy()


def _run_tfjs(model_dir, batch, tmp_path, outputs=(), repeat=0):
  """(report, [outputs as arrays]) of run_model.js on `batch`."""
  inputs = os.path.join(str(tmp_path), "input.bin")
  batch.astype(np.float32).tofile(inputs)
  results = os.path.join(str(tmp_path), "result")
  report = run_node("run_model.js", dict(
      model_dir=model_dir, input=inputs, shape=list(batch.shape),
      outputs=list(outputs), results=results, repeat=repeat), tmp_path)
  arrays = [np.fromfile(f"{results}.{i}.bin", np.float32).reshape(shape)
            for i, shape in enumerate(report["shapes"])]
  return report, arrays


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name,version", CASES)
def test_tfjs_model_equals_its_tf1_module(tfjs, name, version, kind,
                                          tmp_path, record_property):
  from tests import card_facts
  v = tfjs(name)
  cfg = v.cfg
  size = cfg.input_size
  model_dir = v.modules[_tfjs_handle(cfg, kind, version)]
  parent_dir = v.modules[f"google/imagenet/{cfg.model_name}/{kind}/{version}"]
  batch = images(size, batch=2, seed=version)
  report, (got,) = _run_tfjs(model_dir, batch, tmp_path)
  want = _hub_default(parent_dir, batch)
  width = card_facts.output_width(cfg, kind)
  assert got.shape == want.shape == (2, width)
  scale = np.abs(want).max()
  relative = float(np.abs(got - want).max() / scale)
  record_property("max_error_of_magnitude", relative)
  print(f"{name} {kind}/{version}: |TF.js - TF| <= {relative:.2e} of the "
        f"output's magnitude")
  assert relative <= 1e-5, (np.abs(got - want).max(), scale)
  # As published: one input `images`, float32, [-1, H, W, 3] with the size
  # fixed where the module's is (V1 from version 3 takes any).
  variable = card_facts.variable_input_size(cfg.architecture, version)
  side = -1 if variable else size
  assert report["backend"] == "wasm"
  assert report["inputs"] == [{"name": "images", "dtype": "float32",
                               "shape": [-1, side, side, 3]}]
  (output,) = report["outputs"]  # One output, named as published.
  assert output["name"] == OUTPUT_NODES[(cfg.architecture, kind)]
  if variable:  # Another size gives what the module gives on it.
    other = images(size + 32, batch=1, seed=7)
    _, (got,) = _run_tfjs(model_dir, other, tmp_path)
    want = _hub_default(parent_dir, other)
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


@pytest.mark.slow
@pytest.mark.parametrize("name,version,embedding_width",
                         [("v1_100_224", 1, 1024), ("v2_100_224", 2, 1280)])
def test_tensorflow_models_mobilenet_runs_our_models(
    tfjs, name, version, embedding_width, tmp_path):
  """@tensorflow-models/mobilenet 2.1.1 loads our model as web apps load
  the published one (modelUrl, inputRange [0, 1]); its embedding, read from
  the graph by node name, is the feature vector module's output."""
  v = tfjs(name)
  cfg = v.cfg
  pixels = np.random.default_rng(3).integers(
      0, 256, (cfg.input_size, cfg.input_size, 3)).astype(np.float32)
  image = os.path.join(str(tmp_path), "image.bin")
  pixels.tofile(image)
  results = os.path.join(str(tmp_path), "mobilenet")
  report = run_node("mobilenet.js", dict(
      model_dir=v.modules[_tfjs_handle(cfg, "classification", version)],
      version=1 if cfg.architecture == "mobilenet_v1" else 2, alpha=1.0,
      image=image, shape=list(pixels.shape), results=results), tmp_path)
  assert report["backend"] == "wasm"
  classes = report["classes"]
  assert len(classes) == 3
  assert all(isinstance(c["className"], str) and c["className"]
             for c in classes)
  probabilities = [c["probability"] for c in classes]
  assert probabilities == sorted(probabilities, reverse=True)
  assert 0 < sum(probabilities) <= 1 + 1e-6
  assert report["embedding"] == [1, embedding_width]
  embedding = np.fromfile(f"{results}.embedding.bin", np.float32)
  want = _hub_default(
      v.modules[f"google/imagenet/{cfg.model_name}/feature_vector/{version}"],
      pixels[None] / 255.0)
  assert want.shape == (1, embedding_width)
  np.testing.assert_allclose(embedding, want[0], atol=1e-4, rtol=0)


def _model(model_dir):
  """(model.json as data, the weight shards' bytes in manifest order)."""
  with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
    model = json.load(f)
  shards = b""
  for group in model["weightsManifest"]:
    for path in group["paths"]:
      with open(os.path.join(model_dir, path), "rb") as f:
        shards += f.read()
  return model, shards


@pytest.mark.slow
def test_conversion_is_what_the_tf_hub_path_makes(tfjs, tmp_path):
  """The TF.js converter's own TF Hub path, run as tfhub.dev ran it on our
  TF1 modules (`hub.Module` in the legacy venv, signature `default`,
  frozen), gives our models: the same nodes with the same attributes, the
  same signature and weights manifest, byte-identical weights."""
  import subprocess
  cases = [("v2_035_96", "classification", 3),
           ("v1_025_128", "feature_vector", 3),
           ("v1_025_128", "classification", 1)]
  args, ours = [], []
  for name, kind, version in cases:
    v = tfjs(name)
    args += [v.modules[f"google/imagenet/{v.cfg.model_name}/{kind}/{version}"],
             str(tmp_path / f"{name}_{kind}_{version}")]
    ours.append(v.modules[_tfjs_handle(v.cfg, kind, version)])
  proc = subprocess.run(
      [LEGACY_PYTHON, os.path.join(os.path.dirname(__file__),
                                   "legacy_tfjs_converter.py"), *args],
      capture_output=True, text=True, timeout=900,
      env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": os.environ["PATH"]})
  assert proc.returncode == 0, proc.stderr[-3000:]
  for reference_dir, our_dir in zip(args[1::2], ours):
    (reference, reference_shards), (model, shards) = map(
        _model, (reference_dir, our_dir))
    assert model["format"] == reference["format"] == "graph-model"
    assert model["signature"] == reference["signature"]
    assert model["weightsManifest"] == reference["weightsManifest"]
    nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
    assert nodes == {n["name"]: n for n in
                     reference["modelTopology"]["node"]}, our_dir
    assert shards == reference_shards, our_dir


def test_lite_and_tfjs_outputs_are_at_their_published_handles(
    tmp_path, cache_dir):
  """The output tree of a Lite file and a TF.js model: each at its
  published handle, the Lite file also served bare as `<handle>.tflite`."""
  from export.core import config
  from tests.conftest import export
  cfg = config.load("v1_025_128")
  lite = "tensorflow/lite-model/mobilenet_v1_0.25_128/1/default/1"
  tfjs_model = _tfjs_handle(cfg, "classification", 1)
  out = str(tmp_path / "out")
  export(cfg, out, cache_dir, only=[lite, tfjs_model])
  files = sorted(os.path.relpath(os.path.join(d, f), out)
                 for d, _, names in os.walk(out) for f in names)
  assert files == [
      f"{tfjs_model}.tar.gz",
      f"{tfjs_model}/group1-shard1of1.bin",
      f"{tfjs_model}/model.json",
      "manifest.json",
      f"{lite}.tflite",
      f"{lite}/model.tflite",
  ]
  with open(os.path.join(out, f"{lite}.tflite"), "rb") as f:
    served = f.read()
  with open(os.path.join(out, lite, "model.tflite"), "rb") as f:
    assert f.read() == served
  with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
    entries = json.load(f)["modules"]
  assert entries[lite]["archive"] == f"{lite}.tflite"
  assert entries[lite]["size"] == len(served)
  assert entries[tfjs_model]["archive"] == f"{tfjs_model}.tar.gz"
  assert entries[tfjs_model]["format"] == "tfjs"

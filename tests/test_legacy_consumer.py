"""Modules in the real legacy consumer: TF 2.15 + tensorflow-hub 0.15.

TF1 Hub format modules through hub.Module, TF2 SavedModels through
hub.KerasLayer.
"""

import json
import os
import subprocess

import numpy as np
import pytest

from export.core import architecture
from export.core import signatures
from tests import card_facts
from tests.conftest import LEGACY_PYTHON, images

pytestmark = pytest.mark.slow

SCRIPT = os.path.join(os.path.dirname(__file__), "legacy_consumer.py")
LEGACY_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": os.environ["PATH"]}
KERAS_SCRIPT = os.path.join(os.path.dirname(__file__),
                            "legacy_keras_consumer.py")


def _cases():
  from export.core import config
  return [(name, m.handle) for name in card_facts.FLOAT_SEED_CONFIGS
          for m in config.load(name).modules if m.is_tf1_hub]


CASES = _cases()


def _images(cfg):
  return images(cfg.input_size, batch=4, seed=7)


@pytest.fixture(scope="module")
def legacy(variant, tmp_path_factory):
  """legacy(config name) -> {handle: observations}.

  On first use, exports every float seed config and starts one legacy
  process per config, all at once (each mostly waits on TF graph import).
  """
  if not os.path.exists(LEGACY_PYTHON):
    pytest.fail(f"legacy consumer venv missing: {LEGACY_PYTHON} "
                "(run scripts/setup.sh)")
  running = {}
  for name in card_facts.FLOAT_SEED_CONFIGS:
    v = variant(name)
    path = str(tmp_path_factory.mktemp("legacy") / "images.npy")
    np.save(path, _images(v.cfg))
    tf1 = {h: d for h, d in v.modules.items() if v.cfg.module(h).is_tf1_hub}
    proc = subprocess.Popen(
        [LEGACY_PYTHON, SCRIPT, path, *tf1.values()], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=LEGACY_ENV)
    running[name] = (proc, tf1)
  results = {}
  for name, (proc, tf1) in running.items():
    stdout, stderr = proc.communicate(timeout=1800)
    assert proc.returncode == 0, stderr[-3000:]
    by_dir = json.loads(stdout.strip().splitlines()[-1])
    results[name] = {h: by_dir[d] for h, d in tf1.items()}
  return results.__getitem__


@pytest.mark.parametrize("name,handle", CASES)
def test_hub_module_loads_with_card_signatures_and_size(variant, legacy, name,
                                                        handle):
  module = variant(name).cfg.module(handle)
  got = legacy(name)[handle]
  expected = card_facts.tf1_signatures(module.kind, module.version)
  assert set(got["inference"]["signatures"]) == expected
  assert set(got["training"]["train_signatures"]) == expected
  assert got["training"]["tags"] == [[], ["train"]]
  size = variant(name).cfg.input_size
  assert got["inference"]["expected_image_size"] == [size, size]


@pytest.mark.parametrize("name,handle", CASES)
def test_hub_module_outputs_match_slim_graph(variant, legacy, name, handle):
  v = variant(name)
  kind = v.cfg.module(handle).kind
  features, logits = v.reference(_images(v.cfg))
  outputs = {k: np.array(o)
             for k, o in legacy(name)[handle]["inference"]["outputs"].items()}
  np.testing.assert_allclose(outputs["image_feature_vector"], features,
                             atol=1e-5, rtol=0)
  expected_default = logits if kind == "classification" else features
  np.testing.assert_allclose(outputs["default"], expected_default, atol=1e-5,
                             rtol=0)
  assert outputs["default"].shape == (4, card_facts.output_width(v.cfg, kind))


@pytest.mark.parametrize("name,handle", CASES)
def test_only_variable_size_versions_accept_other_sizes(variant, legacy, name,
                                                        handle):
  v = variant(name)
  module = v.cfg.module(handle)
  got = legacy(name)[handle]["inference"]["other_size_output_shape"]
  width = card_facts.output_width(v.cfg, module.kind)
  assert got == ([1, width] if card_facts.variable_input_size(
      v.cfg.architecture, module.version)
                 else "refused")


@pytest.mark.parametrize("name,handle", CASES)
def test_train_tags_give_update_ops_and_fine_tune(variant, legacy, name,
                                                  handle):
  v = variant(name)
  got = legacy(name)[handle]["training"]
  batch_norms = [l for l in architecture.layers(v.cfg.architecture,
                                                v.cfg.depth_multiplier)
                 if l.batch_norm]
  # One mean and one variance update per batch norm layer.
  assert got["num_update_ops"] == 2 * len(batch_norms)
  assert got["weights_changed"]
  deltas = {k: np.array(d) for k, d in got["moving_mean_deltas"].items()}
  assert np.abs(deltas["None"]).max() > 0


@pytest.mark.parametrize("name,handle", [c for c in CASES
                                         if c[1].endswith("/3")])
def test_batch_norm_momentum_sets_moving_average_update(legacy, name, handle):
  deltas = {k: np.array(d) for k, d in
            legacy(name)[handle]["training"]["moving_mean_deltas"].items()}
  # An update moves the average by (1 - momentum) * (old - batch mean); the
  # batch and start values are the same, so deltas scale with 1 - momentum.
  big = np.abs(deltas["0.5"]) > 1e-6
  np.testing.assert_allclose(deltas["0.5"][big] / deltas["0.9"][big], 5.0,
                             rtol=1e-3)
  np.testing.assert_allclose(deltas["0.5"][big] / deltas["None"][big], 50.0,
                             rtol=1e-2)


def _run_legacy(script, images_path, module_dirs):
  proc = subprocess.run(
      [LEGACY_PYTHON, script, images_path, *module_dirs], capture_output=True,
      text=True, timeout=1800, check=False, env=LEGACY_ENV)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["v1_050_160", "v2_050_96"])
def test_tf2_modules_in_keras_layer_of_tf_2_15(variant, tmp_path, name):
  """Versions 4 and 5, written by TF 2.21, in an older TF and hub."""
  from export import nets
  v = variant(name)
  batch = _images(v.cfg)
  path = str(tmp_path / "images.npy")
  np.save(path, batch)
  tf2 = {h: d for h, d in v.modules.items()
         if v.cfg.module(h).format == "saved_model_2"}
  assert len(tf2) == 4
  got = _run_legacy(KERAS_SCRIPT, path, tf2.values())
  features, logits = v.reference(batch)
  for handle, module_dir in tf2.items():
    module = v.cfg.module(handle)
    obs = got[module_dir]
    expected = logits if module.kind == "classification" else features
    np.testing.assert_allclose(np.array(obs["outputs"]), expected, atol=1e-5,
                               rtol=0)
    assert obs["training_output_shape"] == list(expected.shape)
    num_classes = signatures.interface(module).num_classes
    layers = architecture.layers(v.cfg.architecture, v.cfg.depth_multiplier,
                                 num_classes)
    assert obs["num_losses"] == len(nets.regularized_kernels(
        v.cfg.architecture, v.cfg.depth_multiplier, num_classes))
    assert obs["total_loss"] > 0
    assert obs["signatures"] == (["serving_default"] if module.version == 5
                                 else [])
    # Batch norm layers have 2 trainable and 2 moving statistics each.
    batch_norms = sum(1 for l in layers if l.batch_norm)
    assert obs["num_weights"] - obs["num_trainable_weights"] == 2 * batch_norms

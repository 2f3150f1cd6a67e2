"""TF1 modules in the real legacy consumer: TF 2.15 + tensorflow-hub 0.15."""

import json
import os
import subprocess

import numpy as np
import pytest

from tests.conftest import LEGACY_PYTHON, handle, images

pytestmark = pytest.mark.slow

SCRIPT = os.path.join(os.path.dirname(__file__), "legacy_consumer.py")
CASES = [("classification", 1), ("classification", 3),
         ("feature_vector", 1), ("feature_vector", 3)]


@pytest.fixture(scope="module")
def legacy_results(exported, tmp_path_factory):
  if not os.path.exists(LEGACY_PYTHON):
    pytest.fail(f"legacy consumer venv missing: {LEGACY_PYTHON} "
                "(run scripts/setup.sh)")
  path = str(tmp_path_factory.mktemp("legacy") / "images.npy")
  np.save(path, images(160, batch=4, seed=7))
  results = {}
  for case in CASES:
    proc = subprocess.run(
        [LEGACY_PYTHON, SCRIPT, exported[handle(*case)], path],
        capture_output=True, text=True, timeout=900,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": os.environ["PATH"]})
    assert proc.returncode == 0, proc.stderr[-3000:]
    results[case] = json.loads(proc.stdout.strip().splitlines()[-1])
  return results


@pytest.mark.parametrize("case", CASES)
def test_hub_module_loads_with_card_signatures_and_size(legacy_results,
                                                        case):
  kind, version = case
  got = legacy_results[case]
  expected = {"default", "image_feature_vector"}
  if kind == "classification":
    expected.add("image_classification")
  if version == 3:
    expected |= {f"{s}_with_bn_hparams" for s in expected - {"default"}}
  assert set(got["inference"]["signatures"]) == expected
  assert set(got["training"]["train_signatures"]) == expected
  assert got["training"]["tags"] == [[], ["train"]]
  assert got["inference"]["expected_image_size"] == [160, 160]


@pytest.mark.parametrize("case", CASES)
def test_hub_module_outputs_match_slim_graph(legacy_results, slim_reference,
                                             case):
  kind, _ = case
  features, logits = slim_reference(images(160, batch=4, seed=7), True)
  outputs = {k: np.array(v)
             for k, v in legacy_results[case]["inference"]["outputs"].items()}
  np.testing.assert_allclose(outputs["image_feature_vector"], features,
                             atol=1e-5, rtol=0)
  expected_default = logits if kind == "classification" else features
  np.testing.assert_allclose(outputs["default"], expected_default, atol=1e-5,
                             rtol=0)
  assert outputs["default"].shape == (4, 1001 if kind == "classification"
                                      else 512)


@pytest.mark.parametrize("case", CASES)
def test_only_version_3_accepts_other_input_sizes(legacy_results, case):
  kind, version = case
  got = legacy_results[case]["inference"]["other_size_output_shape"]
  width = 1001 if kind == "classification" else 512
  assert got == ([1, width] if version == 3 else "refused")


@pytest.mark.parametrize("case", CASES)
def test_train_tags_give_update_ops_and_fine_tune(legacy_results, case):
  got = legacy_results[case]["training"]
  # One mean and one variance update per batch norm layer (27 layers).
  assert got["num_update_ops"] == 54
  assert got["weights_changed"]
  deltas = {k: np.array(v) for k, v in got["moving_mean_deltas"].items()}
  assert np.abs(deltas["None"]).max() > 0


@pytest.mark.parametrize("case", [c for c in CASES if c[1] == 3])
def test_batch_norm_momentum_sets_moving_average_update(legacy_results, case):
  deltas = {k: np.array(v) for k, v in
            legacy_results[case]["training"]["moving_mean_deltas"].items()}
  # An update moves the average by (1 - momentum) * (old - batch mean); the
  # batch and start values are the same, so deltas scale with 1 - momentum.
  big = np.abs(deltas["0.5"]) > 1e-6
  np.testing.assert_allclose(deltas["0.5"][big] / deltas["0.9"][big], 5.0,
                             rtol=1e-3)
  np.testing.assert_allclose(deltas["0.5"][big] / deltas["None"][big], 50.0,
                             rtol=1e-2)

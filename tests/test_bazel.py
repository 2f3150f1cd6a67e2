"""The Bazel entry points work offline: export_all and the test targets."""

import os
import shutil
import subprocess

import pytest

from tests.conftest import REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bazel") is None,
                       reason="bazel not installed (scripts/setup.sh)")]


def _bazel(*args):
  return subprocess.run(["bazel", *args], cwd=REPO, capture_output=True,
                        text=True, timeout=1500)


def test_bazel_run_export_all(tmp_path):
  out = tmp_path / "modules"
  result = _bazel("run", "//export:export_all", "--", "--synthetic",
                  "--configs=v1_050_160", f"--output_dir={out}",
                  f"--cache_dir={tmp_path / 'cache'}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "SYNTHETIC" in result.stdout
  root = out / "google" / "imagenet" / "mobilenet_v1_050_160"
  for kind in ("classification", "feature_vector"):
    for version in (1, 3):
      assert (root / kind / str(version) / "tfhub_module.pb").is_file()
    for version in (4, 5):
      assert (root / kind / str(version) / "saved_model.pb").is_file()
  assert not [n for n in os.listdir(out) if n.startswith(".staging-")]


def test_bazel_run_kaggle_dry_run(tmp_path):
  result = _bazel("run", "//export:kaggle", "--", f"--output_dir={tmp_path}",
                  "--configs=v1_050_160", "--dry_run")
  assert result.returncode == 0, result.stderr[-3000:]
  assert ("google/mobilenet-v1/tfJs/050-160-feature-vector/2  version 2  <- "
          "google/tfjs-model/imagenet/mobilenet_v1_050_160/feature_vector/3/"
          "default/1: 0 files, 0 bytes, not exported") in result.stdout
  assert "14 versions of 8 variations of 2 models" in result.stdout


def test_bazel_test_targets_run_on_the_project_venv():
  # test_quantops's legacy test also needs the test helpers, an export and
  # the legacy venv launcher; one test of each file is enough to show the
  # targets work (the suite itself runs them all).
  result = _bazel("test", "//tests:test_config", "//tests:test_quantops",
                  "--test_arg=-k", "--test_arg=test_legacy_hub_module_loads"
                  "_quantops or test_seed_configs_load",
                  "--test_output=errors")
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  assert "2 tests pass" in result.stdout + result.stderr


def test_config_target_exports_its_modules_and_hits_the_cache(tmp_path):
  """`bazel build //configs:<name>` yields the modules; a cleaned rebuild
  takes them from the (disk) cache instead of exporting again."""
  target, cache = "//configs:v1_025_128_quant", f"--disk_cache={tmp_path}"
  tree = os.path.join(REPO, "bazel-bin", "configs", "v1_025_128_quant")
  assert _bazel("clean").returncode == 0
  first = _bazel("build", cache, target)
  assert first.returncode == 0, first.stderr[-3000:]
  assert "linux-sandbox" in first.stderr or "local" in first.stderr
  with open(os.path.join(tree, "manifest.json"), "rb") as f:
    manifest = f.read()
  handles = [f"google/imagenet/mobilenet_v1_025_128/quantops/{k}/{v}"
             for k in ("classification", "feature_vector") for v in (1, 3)]
  for handle in handles:
    assert os.path.isfile(os.path.join(tree, handle, "tfhub_module.pb"))
    assert os.path.isfile(os.path.join(tree, handle + ".tar.gz"))
    assert handle.encode() in manifest
  # The Lite files too; the metadata variant through @project_venv's
  # launcher of the TFLite support library's venv.
  for lite_variant in ("default", "metadata"):
    handle = (f"tensorflow/lite-model/mobilenet_v1_0.25_128_quantized/1/"
              f"{lite_variant}/1")
    assert os.path.isfile(os.path.join(tree, handle, "model.tflite"))
    assert os.path.isfile(os.path.join(tree, handle + ".tflite"))
    assert handle.encode() in manifest
  assert _bazel("clean").returncode == 0
  second = _bazel("build", cache, target)
  assert second.returncode == 0, second.stderr[-3000:]
  assert "1 remote cache hit" in second.stderr
  with open(os.path.join(tree, "manifest.json"), "rb") as f:
    assert f.read() == manifest

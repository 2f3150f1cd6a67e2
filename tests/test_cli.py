"""export.one: dry run, --only, exit statuses, atomic publication."""

import os

import pytest

from export import publish
from tests.conftest import run_cli

pytestmark = pytest.mark.slow
HANDLE = "google/imagenet/mobilenet_v1_050_160/feature_vector/1"


def test_dry_run_prints_plan_and_writes_nothing(tmp_path):
  out = tmp_path / "out"
  result = run_cli("one", "--config", "v1_050_160.yaml", "--dry_run",
                   "--output_dir", str(out))
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert len(lines) == 6
  assert lines[0].startswith(
      "google/imagenet/mobilenet_v1_050_160/classification/1 -> ")
  assert "TF1 Hub format" in lines[0] and "160x160 fixed" in lines[0]
  assert "TF2 SavedModel" in lines[2]
  assert "mobilenet_v1_0.5_160.tgz" in lines[0]
  assert not out.exists()


def test_only_unknown_handle_is_usage_error(tmp_path):
  result = run_cli("one", "--config", "v1_050_160", "--only", "google/x/1",
                   "--output_dir", str(tmp_path / "out"))
  assert result.returncode == 2
  assert "--only" in result.stderr and "google/x/1" in result.stderr


def test_only_exports_one_module_and_replaces_it_atomically(ckpt_prefix,
                                                            tmp_path):
  out = tmp_path / "out"
  for _ in range(2):  # The second run replaces the first module.
    result = run_cli("one", "--config", "v1_050_160.yaml", "--checkpoint",
                     ckpt_prefix, "--only", HANDLE, "--output_dir", str(out))
    assert result.returncode == 0, result.stderr
  assert sorted(os.listdir(out / HANDLE)) == ["saved_model.pb",
                                               "tfhub_module.pb", "variables"]
  assert sorted(os.listdir(out)) == ["google"]  # No staging left behind.
  assert sorted(os.listdir(out / "google/imagenet/mobilenet_v1_050_160")) == [
      "feature_vector"]


def test_unsupported_architecture_fails_with_cause(ckpt_prefix, tmp_path):
  out = tmp_path / "out"
  result = run_cli("one", "--config", "v1_025_128_quant", "--checkpoint",
                   ckpt_prefix, "--output_dir", str(out))
  assert result.returncode == 1
  assert "quantized" in result.stderr and "not implemented" in result.stderr
  assert not out.exists() or not any(out.iterdir())


def test_failed_write_leaves_nothing(tmp_path):
  out = tmp_path / "out"
  with pytest.raises(RuntimeError):
    with publish.staged_directory(str(out), "a/b/1") as staging:
      os.makedirs(staging)
      raise RuntimeError("interrupted")
  assert os.listdir(out) == []

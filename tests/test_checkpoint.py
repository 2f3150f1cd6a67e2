"""Synthetic checkpoints, checkpoint lookup and strict restore."""

import os
import tarfile
import time

import numpy as np
import pytest

from export.core import architecture
from export.sources import checkpoint
from tests.conftest import run_cli, write_checkpoint


def _contents(prefix):
  import tensorflow as tf
  reader = tf.train.load_checkpoint(prefix)
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()}


def test_synthetic_checkpoint_has_published_layout(ckpt_prefix):
  import tensorflow as tf
  reader = tf.train.load_checkpoint(ckpt_prefix)
  shapes = reader.get_variable_to_shape_map()
  dtypes = reader.get_variable_to_dtype_map()
  layout = architecture.variable_layout("mobilenet_v1", 0.5)
  assert {k: tuple(v) for k, v in shapes.items() if k != "global_step"} == \
      layout
  assert all(dtypes[k] == tf.float32 for k in layout)
  assert dtypes["global_step"] == tf.int64
  assert (reader.get_tensor(
      "MobilenetV1/Conv2d_0/BatchNorm/moving_variance") > 0).all()


def test_synthetic_checkpoint_is_deterministic(ckpt_prefix, tmp_path):
  again = write_checkpoint("v1_050_160", str(tmp_path / "again.ckpt"))
  first, second = _contents(ckpt_prefix), _contents(again)
  assert first.keys() == second.keys()
  for name in first:
    np.testing.assert_array_equal(first[name], second[name])


@pytest.mark.slow
def test_synthetic_checkpoint_cli(tmp_path):
  prefix = str(tmp_path / "c" / "model.ckpt")
  result = run_cli("synthetic_checkpoint", "--config", "v1_050_160.yaml",
                   "--output_prefix", prefix)
  assert result.returncode == 0, result.stderr
  assert "SYNTHETIC" in result.stdout
  assert sorted(os.listdir(tmp_path / "c")) == [
      "model.ckpt.data-00000-of-00001", "model.ckpt.index"]


def test_find_prefix_accepts_prefix_directory_and_archive(ckpt_prefix,
                                                          tmp_path):
  assert checkpoint.find_prefix(ckpt_prefix) == ckpt_prefix
  assert checkpoint.find_prefix(os.path.dirname(ckpt_prefix)) == ckpt_prefix
  archive = tmp_path / "mobilenet_v1_0.5_160.tgz"
  with tarfile.open(archive, "w:gz") as tar:
    for suffix in (".index", ".data-00000-of-00001"):
      tar.add(ckpt_prefix + suffix,
              f"./mobilenet_v1_0.5_160.ckpt{suffix}")
    tar.add(ckpt_prefix + ".index", "./mobilenet_v1_0.5_160_info.txt")
  extracted = checkpoint.extract_checkpoint(
      str(archive), "mobilenet_v1_0.5_160.ckpt", str(tmp_path / "x"))
  assert sorted(os.listdir(tmp_path / "x")) == [
      "mobilenet_v1_0.5_160.ckpt.data-00000-of-00001",
      "mobilenet_v1_0.5_160.ckpt.index"]
  assert _contents(extracted).keys() == _contents(ckpt_prefix).keys()
  # --checkpoint ARCHIVE.tgz: extracted once into the cache, by content.
  from export.core import config
  from export.sources import source
  cfg = config.load("v1_050_160")
  cache = tmp_path / "cache"
  prefix = source.resolve(cfg, str(archive), str(cache))
  assert prefix.startswith(str(cache / "checkpoints"))
  assert _contents(prefix).keys() == _contents(ckpt_prefix).keys()
  assert source.resolve(cfg, str(archive), str(cache)) == prefix


def test_find_prefix_errors(tmp_path):
  with pytest.raises(checkpoint.CheckpointError, match="no checkpoint"):
    checkpoint.find_prefix(str(tmp_path))
  with pytest.raises(checkpoint.CheckpointError, match="not a checkpoint"):
    checkpoint.find_prefix(str(tmp_path / "nope"))


def test_read_values_ignores_extras_and_lists_every_offender(ckpt_prefix,
                                                             tmp_path):
  layout = architecture.variable_layout("mobilenet_v1", 0.5)
  values = checkpoint.read_values(ckpt_prefix, layout)
  assert list(values) == list(layout)  # global_step is not asked for.
  other = write_checkpoint("v1_100_128", str(tmp_path / "other.ckpt"))
  with pytest.raises(checkpoint.CheckpointError) as info:
    checkpoint.read_values(other, layout)
  message = str(info.value)
  # Every variable whose shape depends on the multiplier is an offender (all
  # but the logits biases), each on its own line.
  other_layout = architecture.variable_layout("mobilenet_v1", 1.0)
  expected = sorted(n for n in layout if layout[n] != other_layout[n])
  assert len(expected) == len(layout) - 1
  offenders = sorted(l.split()[2] for l in message.splitlines()[1:])
  assert offenders == expected
  assert f"({len(expected)} problems)" in message.splitlines()[0]
  assert ("shape of MobilenetV1/Conv2d_0/weights is [3, 3, 3, 32], "
          "model needs [3, 3, 3, 16]") in message
  layout_plus = dict(layout, **{"MobilenetV1/Extra/weights": (1,)})
  with pytest.raises(checkpoint.CheckpointError,
                     match=r"missing MobilenetV1/Extra/weights \[1\]"):
    checkpoint.read_values(ckpt_prefix, layout_plus)


@pytest.mark.slow
def test_cli_refuses_another_variants_checkpoint(tmp_path):
  other = write_checkpoint("v1_100_128", str(tmp_path / "other.ckpt"))
  out = tmp_path / "out"
  result = run_cli("one", "--config", "v1_050_160.yaml", "--checkpoint",
                   other, "--output_dir", str(out))
  assert result.returncode == 1
  assert "does not fit the model" in result.stderr
  assert "MobilenetV1/Logits/Conv2d_1c_1x1/weights" in result.stderr
  assert not out.exists() or not any(out.iterdir())


def test_content_digest_is_remembered_until_a_file_changes(ckpt_prefix,
                                                           tmp_path):
  """sources.source.content_sha256: the checkpoint's digest, remembered in
  the cache by its files' stats; a file rewritten with other bytes of the
  same size gets a new digest; a read-only cache only costs the hashing."""
  import shutil
  from export.sources import source
  directory = tmp_path / "ckpt"
  directory.mkdir()
  for f in os.listdir(os.path.dirname(ckpt_prefix)):
    shutil.copy(os.path.join(os.path.dirname(ckpt_prefix), f), directory)
  prefix = str(directory / os.path.basename(ckpt_prefix))
  cache = tmp_path / "cache"
  want = checkpoint.checkpoint_sha256(prefix)
  # Files just written are not remembered (their times tick coarsely).
  assert source.content_sha256(prefix, str(cache)) == want
  assert not os.path.exists(cache / "digests")
  time.sleep(source.SETTLED_NS / 1e9 + 0.1)
  assert source.content_sha256(prefix, str(cache)) == want
  (memo,) = os.listdir(cache / "digests")
  assert source.content_sha256(prefix, str(cache)) == want  # Remembered.
  # A remembered digest is what is returned while the stats match.
  path = cache / "digests" / memo
  path.write_text(path.read_text().replace(want, "0" * 64))
  assert source.content_sha256(prefix, str(cache)) == "0" * 64
  (data,) = [f for f in checkpoint.checkpoint_files(prefix) if ".data-" in f]
  with open(data, "r+b") as f:  # Same size, another byte.
    first = f.read(1)
    f.seek(0)
    f.write(bytes([first[0] ^ 1]))
  changed = source.content_sha256(prefix, str(cache))
  assert changed == checkpoint.checkpoint_sha256(prefix) != want
  assert source.content_sha256(prefix, None) == changed  # No cache.

"""Same config and checkpoint, same bytes: every format, whatever the
process, the order of work or --jobs (issue 22).

TF2 SavedModels are the format TensorFlow makes irreproducible (traced
functions named by process-wide counters, a random fingerprint uuid):
`formats/reproducible.py` canonicalizes them, and a check below fails on
any function name left as TensorFlow numbered it.
"""

import json
import os
import re

import pytest

from tests.conftest import run_cli

CONFIGS = ("v1_050_160", "v2_035_96")


def _sha256s(out):
  with open(os.path.join(out, "manifest.json")) as f:
    modules = json.load(f)["modules"]
  return {h: e["sha256"] for h, e in modules.items()}


def uid_named_functions(saved_model_path):
  """Function names of a SavedModel that are not `<base>_<rank>` with ranks
  0..n-1 per base: names left as TensorFlow numbered them (its uids)."""
  from tensorflow.core.protobuf import saved_model_pb2
  saved_model = saved_model_pb2.SavedModel()
  with open(saved_model_path, "rb") as f:
    saved_model.ParseFromString(f.read())
  by_base = {}
  for function in saved_model.meta_graphs[0].graph_def.library.function:
    base, _, number = function.signature.name.rpartition("_")
    by_base.setdefault(base, []).append(number)
  return sorted(f"{base}_{n}" for base, numbers in by_base.items()
                for n in numbers
                if not n.isdigit() or int(n) >= len(numbers))


@pytest.mark.slow
def test_two_exports_in_other_processes_orders_and_jobs_are_byte_equal(
    tmp_path):
  cache = str(tmp_path / "cache")
  first = str(tmp_path / "first")
  result = run_cli("export_all", "--synthetic", f"--configs={','.join(CONFIGS)}",
                   "--jobs=2", f"--output_dir={first}", f"--cache_dir={cache}")
  assert result.returncode == 0, result.stderr[-3000:]
  # Another order: each config on its own, one worker, its version 5
  # SavedModels first and alone (traced without version 4 beside them).
  second = str(tmp_path / "second")
  for name in reversed(CONFIGS):
    from export.core import config
    cfg = config.load(name)
    v5 = [m.handle for m in cfg.modules if m.version == 5]
    for only in (v5, []):
      result = run_cli("one", f"--config={name}", "--synthetic", "--jobs=1",
                       f"--output_dir={second}", f"--cache_dir={cache}",
                       *[f"--only={h}" for h in only])
      assert result.returncode == 0, result.stderr[-3000:]
  first_sums, second_sums = _sha256s(first), _sha256s(second)
  assert set(first_sums) == set(second_sums)
  formats = {json.load(open(os.path.join(first, "manifest.json")))["modules"]
             [h]["format"] for h in first_sums}
  assert formats == {"hub", "saved_model_2", "lite", "tfjs", "onnx"}
  differ = sorted(h for h in first_sums if first_sums[h] != second_sums[h])
  assert differ == []
  for handle in first_sums:
    path = os.path.join(first, handle, "saved_model.pb")
    if re.search(r"/[45]$", handle):
      assert uid_named_functions(path) == [], handle


def test_the_check_finds_functions_named_by_tensorflow(tmp_path):
  """What the exporter would write without canonicalizing: a plain
  tf.saved_model.save names functions by uid, and the check says so; after
  canonicalize, it finds none, and a second canonicalize changes nothing."""
  import tensorflow as tf
  from export.formats import reproducible

  class Model(tf.Module):

    def __init__(self):
      super().__init__()
      self.w = tf.Variable([1.0, 2.0])

    @tf.function(input_signature=[tf.TensorSpec([2])])
    def __call__(self, x):
      return x * self.w

  # Some tracing first, so the uids are large, as after other work.
  for _ in range(3):
    tf.function(lambda x: x + 1).get_concrete_function(tf.constant(1.0))
  path = str(tmp_path / "model")
  tf.saved_model.save(Model(), path)
  pb = os.path.join(path, "saved_model.pb")
  assert uid_named_functions(pb), "TensorFlow's own names look canonical"
  reproducible.canonicalize(path)
  assert uid_named_functions(pb) == []
  with open(pb, "rb") as f:
    once = f.read()
  with open(os.path.join(path, "fingerprint.pb"), "rb") as f:
    fingerprint = f.read()
  reproducible.canonicalize(path)
  with open(pb, "rb") as f:
    assert f.read() == once
  with open(os.path.join(path, "fingerprint.pb"), "rb") as f:
    assert f.read() == fingerprint
  loaded = tf.saved_model.load(path)
  assert loaded(tf.constant([3.0, 4.0])).numpy().tolist() == [3.0, 8.0]


def test_the_manifest_records_the_tensorflow_version(v1):
  from export.publishing import manifest
  out = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
      os.path.dirname(next(iter(v1.modules.values())))))))
  entries = manifest.load(out)
  assert entries and all(e.tensorflow_version == manifest.tensorflow_version()
                         for e in entries.values())


def test_saved_models_have_no_empty_directories_and_still_load(v1):
  """A Bazel remote cache keeps a tree's files, not its empty directories:
  TensorFlow's empty assets/ is dropped at export, and the module loads
  without it (hub.load, and Keras 3's TFSMLayer through the signature)."""
  import keras
  import numpy as np
  import tensorflow_hub as hub
  handle = "google/imagenet/mobilenet_v1_050_160/classification/5"
  module_dir = v1.modules[handle]
  empty = [d for d, dirs, files in os.walk(module_dir)
           if not dirs and not files]
  assert empty == []
  assert not os.path.exists(os.path.join(module_dir, "assets"))
  batch = np.zeros([1, 160, 160, 3], np.float32)
  assert hub.load(module_dir)(batch).shape == (1, 1001)
  layer = keras.layers.TFSMLayer(module_dir, call_endpoint="serving_default")
  assert layer(batch)["output_0"].shape == (1, 1001)

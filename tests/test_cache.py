"""Offline caches (`python -m export.cache`): unchanged code that names
tfhub.dev URLs (tensorflow_hub 0.16 and the legacy 0.15) or Kaggle handles
(kagglehub) loads the exported modules with no server and every network
connection refused, and computes the same outputs.

Where each library looks is asked of the libraries themselves
(`compressed_module_resolver._module_dir`, kagglehub's `Cache`), so a
library that changed its layout fails here.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import LEGACY_PYTHON, REPO, VARIANT, handle, images
from tests.conftest import run_cli

C3, C4, C5 = (handle("classification", v) for v in (3, 4, 5))
LITE = "tensorflow/lite-model/mobilenet_v1_0.50_160/1/default/1"
MODULES = [C3, C4, C5, LITE]
pytestmark = pytest.mark.slow  # The clients in their venvs.
SIZE = 160
LEGACY_SCRIPT = os.path.join(REPO, "tests", "legacy_consumer.py")
# Every connection goes to a closed port (proxies), and the consumer
# script refuses any socket connection outright.
OFFLINE_ENV = {"HTTP_PROXY": "http://127.0.0.1:9",
               "HTTPS_PROXY": "http://127.0.0.1:9",
               "http_proxy": "http://127.0.0.1:9",
               "https_proxy": "http://127.0.0.1:9", "NO_PROXY": ""}
_GUARD = """
import socket
def _refuse(*args, **kwargs):
  raise OSError("network refused by the test")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
"""
_TF2_CONSUMER = _GUARD + """
import json, sys
import numpy as np
import kagglehub
import tensorflow_hub as hub
batch = np.load(sys.argv[1])
requests = json.loads(sys.argv[2])
out = {}
model = hub.load(requests["load"])
out["load"] = model(batch).numpy().tolist()
out["keras_layer"] = hub.KerasLayer(requests["keras_layer"])(batch
    ).numpy().tolist()
path = kagglehub.model_download(requests["kaggle"])
out["kaggle_path"] = path
out["kaggle"] = hub.load(path)(batch).numpy().tolist()
out["kaggle_lite"] = kagglehub.model_download(requests["kaggle_lite"])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def exported(variant):
  v = variant(VARIANT, only=MODULES)
  return v, v.modules[C5][:-len(C5) - 1]


def _kaggle(v, h):
  from export.destinations import kaggle_layout
  module = next(m for m in v.cfg.modules if m.handle == h)
  return kaggle_layout.locate(v.cfg, module)


@pytest.fixture(scope="module")
def caches(exported, tmp_path_factory):
  _, out = exported
  root = tmp_path_factory.mktemp("caches")
  tfhub, kaggle = str(root / "tfhub"), str(root / "kagglehub")
  proc = run_cli("cache", f"--output_dir={out}", f"--tfhub_cache={tfhub}",
                 f"--kagglehub_cache={kaggle}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  # Whichever session export holds them: every TF1/TF2 module of it, and
  # every module with a Kaggle handle (all of v1_050_160's have one).
  with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
    entries = json.load(f)["modules"]
  tf_modules = [h for h, e in entries.items()
                if e["format"] in ("hub", "saved_model_2")]
  assert set(MODULES) - {LITE} <= set(tf_modules)
  assert f"{tfhub}: {len(tf_modules)} modules" in proc.stdout
  assert f"{kaggle}: {len(entries)} model versions" in proc.stdout
  return tfhub, kaggle


def _tree(directory):
  found = {}
  for d, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(d, name)
      with open(path, "rb") as f:
        found[os.path.relpath(path, directory)] = f.read()
  return found


def test_the_libraries_find_each_module_where_it_was_put(
    exported, caches, monkeypatch):
  from kagglehub import cache as kagglehub_cache
  from kagglehub import handle as kagglehub_handle
  from tensorflow_hub import compressed_module_resolver
  v, _ = exported
  tfhub, kaggle = caches
  monkeypatch.setenv("TFHUB_CACHE_DIR", tfhub)
  monkeypatch.setenv("KAGGLEHUB_CACHE", kaggle)
  for h in (C3, C4, C5):
    url = f"https://tfhub.dev/{h}"
    # pylint: disable-next=protected-access
    where = compressed_module_resolver._module_dir(url)
    assert where == os.path.join(tfhub, hashlib.sha1(url.encode()).hexdigest())
    assert _tree(where) == _tree(v.modules[h])
    with open(where + ".descriptor.txt", encoding="utf-8") as f:
      assert f.readline() == f"Module: {url}\n"
  for h in MODULES:
    kv = _kaggle(v, h)
    found = kagglehub_cache.Cache().load_from_cache(
        kagglehub_handle.parse_model_handle(kv.handle))
    assert found, kv.handle
    files = _tree(found)
    if h == LITE:  # Kaggle names a Lite version's file <version>.tflite.
      assert files == {"1.tflite": _tree(v.modules[h])["model.tflite"]}
    else:
      assert files == _tree(v.modules[h])
  # Nothing staged is left beside the entries.
  leftovers = [n for d, dirs, names in os.walk(os.path.dirname(tfhub))
               for n in dirs + names if ".staging-" in n or ".tmp-" in n]
  assert leftovers == []


def test_unchanged_tfhub_and_kagglehub_code_loads_offline(
    exported, caches, tmp_path):
  import tensorflow as tf
  v, _ = exported
  tfhub, kaggle = caches
  batch = images(SIZE)
  batch_path = str(tmp_path / "images.npy")
  np.save(batch_path, batch)
  kaggle_c5 = _kaggle(v, C5).handle
  assert kaggle_c5 == "google/mobilenet-v1/tensorFlow2/050-160-classification/2"
  requests = {"load": f"https://tfhub.dev/{C5}",
              "keras_layer": f"https://tfhub.dev/{C4}",
              "kaggle": kaggle_c5, "kaggle_lite": _kaggle(v, LITE).handle}
  env = dict(os.environ, TFHUB_CACHE_DIR=tfhub, KAGGLEHUB_CACHE=kaggle,
             PYTHONPATH="", **OFFLINE_ENV)
  env.pop("KAGGLE_USERNAME", None)
  env.pop("KAGGLE_KEY", None)
  proc = subprocess.run(
      [sys.executable, "-c", _TF2_CONSUMER, batch_path, json.dumps(requests)],
      capture_output=True, text=True, timeout=600, env=env)
  assert proc.returncode == 0, proc.stderr[-3000:]
  got = json.loads(proc.stdout.strip().splitlines()[-1])
  want = tf.saved_model.load(v.modules[C5])(batch).numpy()
  np.testing.assert_array_equal(np.array(got["load"], np.float32), want)
  np.testing.assert_array_equal(np.array(got["kaggle"], np.float32), want)
  assert got["kaggle_path"].startswith(kaggle)
  assert os.listdir(got["kaggle_lite"]) == ["1.tflite"]
  import tensorflow_hub as tfhub_lib
  np.testing.assert_array_equal(
      np.array(got["keras_layer"], np.float32),
      tfhub_lib.KerasLayer(v.modules[C4])(batch).numpy())


def test_legacy_hub_module_loads_the_tfhub_url_offline(exported, caches,
                                                        tmp_path):
  v, _ = exported
  tfhub, _ = caches
  batch_path = str(tmp_path / "images.npy")
  np.save(batch_path, images(SIZE))
  url = f"https://tfhub.dev/{C3}"
  proc = subprocess.run(
      [LEGACY_PYTHON, "-c", _GUARD + "\nimport runpy, sys\n"
       f"sys.argv = [{LEGACY_SCRIPT!r}] + sys.argv[1:]\n"
       f"runpy.run_path({LEGACY_SCRIPT!r}, run_name='__main__')",
       batch_path, url, v.modules[C3]],
      capture_output=True, text=True, timeout=600,
      env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": os.environ["PATH"],
           "TFHUB_CACHE_DIR": tfhub, **OFFLINE_ENV})
  assert proc.returncode == 0, proc.stderr[-3000:]
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  cached, local = result[url]["inference"], result[v.modules[C3]]["inference"]
  assert cached["signatures"] == local["signatures"]
  for name in local["outputs"]:
    np.testing.assert_array_equal(np.array(cached["outputs"][name]),
                                  np.array(local["outputs"][name]))


def test_a_damaged_archive_fills_no_entry(exported, tmp_path):
  """An archive that is not what the manifest records: exit 1 naming it,
  and no cache entry (nor staging) for it."""
  _, out = exported
  copy = str(tmp_path / "out")
  shutil.copytree(out, copy)
  archive = os.path.join(copy, f"{C5}.tar.gz")
  with open(archive, "r+b") as f:
    f.seek(1000)
    byte = f.read(1)
    f.seek(1000)
    f.write(bytes([byte[0] ^ 0xFF]))
  cache = str(tmp_path / "tfhub")
  proc = run_cli("cache", f"--output_dir={copy}", f"--tfhub_cache={cache}")
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1].startswith(
      f"error: {archive}: sha256 ")
  key = hashlib.sha1(f"https://tfhub.dev/{C5}".encode()).hexdigest()
  assert sorted(n for n in os.listdir(cache) if key in n) == []
  assert [n for n in os.listdir(cache) if n.startswith(".")] == []
  proc = run_cli("cache", f"--output_dir={copy}")
  assert proc.returncode == 2
  assert proc.stderr.strip() == ("error: no cache to fill: expected "
                                 "--tfhub_cache DIR and/or --kagglehub_cache "
                                 "DIR")

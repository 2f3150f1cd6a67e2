"""export_all at family scale: workers, progress, summary, failures,
incremental reruns, packaged modules and their manifest."""

import hashlib
import http.server
import json
import os
import re
import shutil
import threading

import numpy as np
import pytest

from export.sources import checkpoint as checkpoint_lib
from export.core import config
from export.publishing import manifest as manifest_lib
from export.publishing import package
from tests.conftest import images
from tests.conftest import run_cli

pytestmark = pytest.mark.slow

FLOAT, QUANT = "v1_025_128", "v1_025_128_quant"  # The smallest V1 variants.
PROGRESS = re.compile(r"^\[ *(\d+)/(\d+)\] (exported|up to date|failed|"
                      r"not run) +(\S+)(?:  +(\d+\.\d)s)?")


def _progress(stdout):
  return [PROGRESS.match(l).groups() for l in stdout.splitlines()
          if PROGRESS.match(l)]


def _run_export_all(*args, env=None):
  """run_cli("export_all", ...) with the run's --summary_json as .summary
  (None if the run wrote none)."""
  import tempfile
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "summary.json")
    result = run_cli("export_all", f"--summary_json={path}", *args, env=env)
    result.summary = None
    if os.path.exists(path):
      with open(path) as f:
        result.summary = json.load(f)
  return result


def _summary(result):
  """The counts of the run's summary, as its table shows them ("not run"
  only when some were)."""
  counts = dict(result.summary["counts"])
  if not counts["not run"]:
    del counts["not run"]
  return counts


def _sha256(path):
  with open(path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def family(tmp_path_factory, synthetic_checkpoint):
  """Two configs (copies, to be edited) and a checkpoint directory for each."""
  root = tmp_path_factory.mktemp("family")
  configs, checkpoints = root / "configs", root / "checkpoints"
  configs.mkdir()
  for name in (FLOAT, QUANT):
    shutil.copy(os.path.join(config.CONFIGS_DIR, f"{name}.yaml"), configs)
    prefix = synthetic_checkpoint(name)
    (checkpoints / name).mkdir(parents=True)
    for f in os.listdir(os.path.dirname(prefix)):
      shutil.copy(os.path.join(os.path.dirname(prefix), f), checkpoints / name)
  out = root / "out"
  # The runs' temporary directory, where their lock files go.
  tmp = root / "tmp"
  tmp.mkdir()

  def export_all(*args, configs_=(FLOAT, QUANT)):
    return _run_export_all(
        f"--output_dir={out}", f"--checkpoint_dir={checkpoints}",
        f"--cache_dir={root / 'cache'}",
        "--configs=" + ",".join(str(configs / f"{n}.yaml") for n in configs_),
        *args, env={"TMPDIR": str(tmp)})

  first = export_all("--jobs=2")
  return dict(root=root, configs=configs, checkpoints=checkpoints, out=out,
              export_all=export_all, first=first, tmp=tmp)


def test_first_run_exports_every_module_with_progress_and_summary(family):
  result = family["first"]
  assert result.returncode == 0, result.stdout + result.stderr
  lines = _progress(result.stdout)
  handles = {m.handle for n in (FLOAT, QUANT) for m in config.load(n).modules}
  assert {l[3] for l in lines} == handles
  assert [int(l[0]) for l in lines] == list(range(1, len(handles) + 1))
  assert all(l[1] == str(len(handles)) and l[2] == "exported" and l[4]
             for l in lines)
  # 8 float modules and 4 quantops ones, each config's 2 Lite files and 2
  # ONNX models, and the float config's 4 TF.js models.
  assert _summary(result) == {"exported": 24, "up to date": 0,
                                     "failed": 0}
  assert "24 modules of 2 configs, 2 workers" in result.stdout


def test_manifest_lists_every_module_with_its_archive(family):
  out = family["out"]
  entries = manifest_lib.load(str(out))
  assert len(entries) == 24
  for name in (FLOAT, QUANT):
    prefix = checkpoint_lib.find_prefix(str(family["checkpoints"] / name))
    for m in config.load(name).modules:
      e = entries[m.handle]
      # A Lite file is served as itself, the rest as a tarball.
      served = m.handle + (".tflite" if m.is_lite else ".tar.gz")
      archive = out / served
      assert e.archive == served and archive.is_file()
      assert e.sha256 == _sha256(archive) and e.size == archive.stat().st_size
      assert e.checkpoint_sha256 == checkpoint_lib.checkpoint_sha256(prefix)
      assert e.exporter_version == manifest_lib.exporter_version()
      assert e.config == name and e.format == m.format
      main_file = ("model.tflite" if m.is_lite else
                   "model.json" if m.is_tfjs else
                   "model.onnx" if m.is_onnx else "saved_model.pb")
      assert (out / m.handle / main_file).is_file()


def test_lock_files_do_not_pile_up(family):
  """A run takes a lock file per module it exports and one for each
  manifest update (in the temporary directory); none is left after it."""
  assert family["first"].returncode == 0
  locks = family["tmp"] / "tfhub_export_locks"
  assert locks.is_dir()  # The runs did lock there.
  assert [os.path.join(d, n) for d, _, names in os.walk(locks)
          for n in names] == []
  assert os.listdir(locks) == []  # Nor a directory per output directory.


def _count_under_lock(args):
  """Adds 1 to a counter file `rounds` times, each under a lock of
  `manifest._locked` or `ModuleLocks` (in a spawned process)."""
  out, counter, rounds, which = args
  import time
  for _ in range(rounds):
    if which == "manifest":
      lock = manifest_lib._locked(  # pylint: disable=protected-access
          os.path.join(manifest_lib.locks_dir(out), manifest_lib.MANIFEST_LOCK))
      lock.__enter__()
    else:
      locks = manifest_lib.ModuleLocks(out)
      while not locks.acquire(["a/module/1"]):
        time.sleep(0.001)
    with open(counter) as f:
      value = int(f.read() or 0)
    with open(counter, "w") as f:
      f.write(str(value + 1))
    if which == "manifest":
      lock.__exit__(None, None, None)
    else:
      locks.release_all()


@pytest.mark.parametrize("which", ["manifest", "module"])
def test_locks_exclude_each_other_though_their_files_are_deleted(tmp_path,
                                                                 which):
  """Releasing a lock deletes its file; a process that opened the file
  before that must not hold a lock of a deleted file while another locks
  the new one (each locker checks that its file is still the one at the
  path): no increment is lost."""
  import multiprocessing
  out, counter = str(tmp_path / "out"), tmp_path / "counter"
  counter.write_text("0")
  with multiprocessing.get_context("spawn").Pool(4) as pool:
    pool.map(_count_under_lock, [(out, str(counter), 150, which)] * 4)
  assert counter.read_text() == "600"
  assert not os.path.exists(manifest_lib.locks_dir(out))


def test_noop_rerun_skips_everything(family):
  result = family["export_all"]("--jobs=2")
  assert result.returncode == 0, result.stderr
  assert {l[2] for l in _progress(result.stdout)} == {"up to date"}
  assert _summary(result) == {"exported": 0, "up to date": 24,
                                     "failed": 0}
  # The checkpoints were in place: only their remembered digests were
  # read, and no worker started (each would have left its log).
  logs = family["root"] / "cache" / "logs"
  assert not [n for n in os.listdir(logs) if n.startswith("worker-")]
  assert len(os.listdir(family["root"] / "cache" / "digests")) == 2


def test_config_change_reexports_only_its_modules(family):
  path = family["configs"] / f"{QUANT}.yaml"
  before = manifest_lib.load(str(family["out"]))
  path.write_text(path.read_text().replace(
      "mobilenet_v1_0.25_128_quant.ckpt", "mobilenet_v1_0.25_128_quant_v2.ckpt"))
  result = family["export_all"]("--jobs=2")
  assert result.returncode == 0, result.stderr
  status = {l[3]: l[2] for l in _progress(result.stdout)}
  quant = {m.handle for m in config.load(str(path)).modules}
  assert {h for h, s in status.items() if s == "exported"} == quant
  assert {h for h, s in status.items() if s == "up to date"} == (
      set(status) - quant)
  after = manifest_lib.load(str(family["out"]))
  assert all(after[h].inputs != before[h].inputs for h in quant)
  assert all(after[h] == before[h] for h in set(status) - quant)


def test_keep_going_exports_the_rest_and_exits_1(family, tmp_path):
  broken = tmp_path / "checkpoints"
  shutil.copytree(family["checkpoints"] / QUANT, broken / QUANT)
  (broken / FLOAT).mkdir()  # No checkpoint in it.
  out = tmp_path / "out"
  args = [f"--output_dir={out}", f"--checkpoint_dir={broken}",
          f"--cache_dir={tmp_path / 'cache'}",
          f"--configs={FLOAT},{QUANT}"]
  result = _run_export_all(*args, "--keep_going", "--jobs=2")
  assert result.returncode == 1
  counts = _summary(result)
  # The quantized config's 4 quantops modules, 2 Lite files and 2 ONNX
  # models; the float config's 8 modules, 2 Lite files, 4 TF.js models and
  # 2 ONNX models fail.
  assert counts == {"exported": 8, "up to date": 0, "failed": 16}
  # One cause, the float config's checkpoint, named once with its modules.
  failures = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(failures) == 1 and f"({FLOAT}): " in failures[0]
  assert str(broken / FLOAT) in failures[0]
  assert all(m.handle in failures[0] for m in config.load(FLOAT).modules)
  status = {l[3]: l[2] for l in _progress(result.stdout)}
  assert all(status[m.handle] == "exported"
             for m in config.load(QUANT).modules)
  # Without --keep_going the first failure stops the run: with one worker,
  # the float config fails first and no quantops module is started.
  shutil.rmtree(out)
  result = _run_export_all(*args, "--jobs=1")
  assert result.returncode == 1
  assert _summary(result) == {"exported": 0, "up to date": 0,
                                     "failed": 16, "not run": 8}
  assert "--keep_going runs all" in result.stdout
  assert not (out / "google/imagenet/mobilenet_v1_025_128/quantops").exists()


def test_packaged_module_loads_through_hub_compressed_resolver(
    family, tmp_path, monkeypatch):
  import tensorflow as tf
  import tensorflow_hub as hub
  out = str(family["out"])

  class Handler(http.server.SimpleHTTPRequestHandler):

    def __init__(self, *args, **kwargs):
      super().__init__(*args, directory=out, **kwargs)

    def log_message(self, *args):
      pass

  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub_cache"))
  try:
    handle = f"google/imagenet/mobilenet_{FLOAT}/classification/4"
    url = f"http://127.0.0.1:{server.server_address[1]}/{handle}.tar.gz"
    served = hub.load(url)
    local = tf.saved_model.load(os.path.join(out, handle))
    x = images(128)
    got = served(x).numpy()
    assert got.shape == (3, 1001)
    np.testing.assert_array_equal(got, local(x).numpy())
    # The download went through the resolver's cache, unpacked.
    assert any("saved_model.pb" in files
               for _, _, files in os.walk(tmp_path / "hub_cache"))
  finally:
    server.shutdown()


def test_archives_are_reproducible(family, tmp_path):
  module = family["out"] / f"google/imagenet/mobilenet_{FLOAT}/feature_vector/1"
  first = package.pack(str(module), str(tmp_path / "a.tar.gz"))
  second = package.pack(str(module), str(tmp_path / "b.tar.gz"))
  assert first == second
  assert (tmp_path / "a.tar.gz").read_bytes() == (
      tmp_path / "b.tar.gz").read_bytes()
  import tarfile
  with tarfile.open(tmp_path / "a.tar.gz") as tar:
    names = tar.getnames()
    assert "saved_model.pb" in names and "variables/variables.index" in names
    assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())

"""export.one: dry run, --only, exit statuses, atomic publication."""

import os

import pytest

from export.publishing import publish
from tests.conftest import run_cli

pytestmark = pytest.mark.slow
HANDLE = "google/imagenet/mobilenet_v1_050_160/feature_vector/1"


def test_dry_run_prints_plan_and_writes_nothing(tmp_path):
  out = tmp_path / "out"
  result = run_cli("one", "--config", "v1_050_160.yaml", "--dry_run",
                   "--output_dir", str(out))
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert len(lines) == 16
  assert lines[0].startswith(
      "google/imagenet/mobilenet_v1_050_160/classification/1 -> ")
  assert "TF1 Hub format" in lines[0] and "160x160 fixed" in lines[0]
  assert "TF2 SavedModel" in lines[2] and "signature" not in lines[2]
  assert "TF2 SavedModel; signature serving_default" in lines[3]
  assert "mobilenet_v1_0.5_160.tgz" in lines[0]
  assert lines[8].startswith(
      "google/tfjs-model/imagenet/mobilenet_v1_050_160/classification/1/"
      "default/1 -> ")
  assert ("TF.js graph model of google/imagenet/mobilenet_v1_050_160/"
          "classification/1 (signature default); input images float32 "
          "[-1, 160, 160, 3]") in lines[8]
  assert "input images float32 [-1, -1, -1, 3]" in lines[9]
  assert lines[12].startswith(
      "tensorflow/lite-model/mobilenet_v1_0.50_160/1/default/1 -> ")
  assert ("TensorFlow Lite (bare model); input float32 in [-1, 1] "
          "[1, 160, 160, 3]") in lines[12]
  assert "TensorFlow Lite (with model metadata and labels)" in lines[13]
  assert lines[14].startswith(
      "google/onnx-model/imagenet/mobilenet_v1_050_160/classification/5/"
      "default/1 -> ")
  assert ("ONNX model (opset 17); input images float32 NHWC in [0, 1], "
          "160x160 default, variable -> logits, feature_vector") in lines[14]
  assert not out.exists()


def test_only_unknown_handle_is_usage_error(tmp_path):
  result = run_cli("one", "--config", "v1_050_160", "--only", "google/x/1",
                   "--output_dir", str(tmp_path / "out"))
  assert result.returncode == 2
  assert "--only" in result.stderr and "google/x/1" in result.stderr


def test_only_exports_one_module_and_replaces_it_atomically(ckpt_prefix,
                                                            tmp_path):
  out = tmp_path / "out"
  # A local checkpoint needs no cache: an unusable one (as in a read-only
  # sandbox) does not matter.
  (tmp_path / "not_a_dir").write_text("")
  env = dict(os.environ, EXPORT_CACHE_DIR=str(tmp_path / "not_a_dir" / "c"))
  for force in ([], ["--force"]):  # The second run replaces the module.
    result = run_cli("one", "--config", "v1_050_160.yaml", "--checkpoint",
                     ckpt_prefix, "--only", HANDLE, "--output_dir", str(out),
                     *force, env=env)
    assert result.returncode == 0, result.stderr
    assert f"] exported   {HANDLE}" in result.stdout
  assert sorted(os.listdir(out / HANDLE)) == ["saved_model.pb",
                                               "tfhub_module.pb", "variables"]
  # No staging left behind.
  assert sorted(os.listdir(out)) == ["google", "manifest.json"]
  assert sorted(os.listdir(out / "google/imagenet/mobilenet_v1_050_160")) == [
      "feature_vector"]
  assert sorted(os.listdir(out / HANDLE / "..")) == ["1", "1.tar.gz"]


def test_failed_write_leaves_nothing(tmp_path):
  out = tmp_path / "out"
  with pytest.raises(RuntimeError):
    with publish.staged_directory(str(out), "a/b/1") as staging:
      os.makedirs(staging)
      raise RuntimeError("interrupted")
  assert os.listdir(out) == []


def test_export_all_dry_run_lists_every_module_of_every_config(tmp_path):
  from export.core import config
  result = run_cli("export_all", "--dry_run", f"--output_dir={tmp_path}")
  assert result.returncode == 0, result.stderr
  handles = [line.split(" -> ")[0] for line in result.stdout.splitlines()]
  assert handles == [m.handle for c in config.load_all() for m in c.modules]
  # The published family plus the test module, 68 Lite files, 196 TF.js
  # models and 110 ONNX models.
  assert len(handles) == 413 + 68 + 196 + 110


def _complete(module_dir):
  files = set()
  for d, _, names in os.walk(module_dir):
    files |= {os.path.relpath(os.path.join(d, n), module_dir) for n in names}
  if "/lite-model/" in str(module_dir):  # A Lite file's directory.
    return files == {"model.tflite"}
  if "/tfjs-model/" in str(module_dir):
    return "model.json" in files and any(f.endswith(".bin") for f in files)
  if "/onnx-model/" in str(module_dir):
    return "model.onnx" in files
  return {"saved_model.pb", "variables/variables.index"} <= files


def test_sigkill_never_leaves_a_partial_module(ckpt_prefix, tmp_path):
  import signal
  import subprocess
  import sys
  import time
  from export.core import config
  out = tmp_path / "out"
  cfg = config.load("v1_050_160")
  args = [sys.executable, "-m", "export.one", "--config", "v1_050_160",
          "--checkpoint", ckpt_prefix, "--output_dir", str(out)]
  env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(
      os.path.abspath(__file__))))

  def published():
    return {m.handle for m in cfg.modules if (out / m.handle).exists()}

  def mtime(handle):  # None while a module is being swapped for a new one.
    try:
      return os.path.getmtime(out / handle)
    except FileNotFoundError:
      return None

  # Kill before anything is written, then a moment after a module is
  # published (so during the writing of the next one, or of its staging).
  for after_publish in (None, 0.3, 1.5, 3.0):
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    if after_publish is None:
      time.sleep(2.0)
    else:
      mtimes = {h: mtime(h) for h in published()}
      deadline = time.time() + 300
      while time.time() < deadline and proc.poll() is None and not any(
          mtime(h) not in (None, mtimes.get(h)) for h in published()):
        time.sleep(0.05)
      time.sleep(after_publish)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for handle in published():  # Either absent or complete, never partial.
      assert _complete(out / handle), (after_publish, handle)
  assert published()  # Some kills landed after a module was published.
  result = run_cli("one", "--config", "v1_050_160", "--checkpoint",
                   ckpt_prefix, "--output_dir", str(out))
  assert result.returncode == 0, result.stderr
  assert all(_complete(out / m.handle) for m in cfg.modules)
  assert not [n for n in os.listdir(out) if n.startswith(".staging-")]


def _start_one(config_name, out, cache, *only):
  """Starts `python -m export.one` on a synthetic checkpoint."""
  import subprocess
  import sys
  args = [sys.executable, "-m", "export.one", "--config", config_name,
          "--synthetic", "--output_dir", str(out), "--cache_dir", str(cache)]
  for handle in only:
    args += ["--only", handle]
  env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(
      os.path.abspath(__file__))))
  return subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def _statuses(stdout):
  """{handle: status} from the progress lines."""
  found = {}
  for line in stdout.splitlines():
    if line.startswith("["):  # [ 3/8] up to date   <handle>
      rest = line.split("]", 1)[1].strip()
      status = "up to date" if rest.startswith("up to date") else (
          rest.split()[0])
      found[rest[len(status):].split()[0]] = status
  return found


def _only(config_name):
  from export.core import config
  cfg = config.load(config_name)
  return [m.handle for m in cfg.modules
          if m.version == 1 and not m.is_lite]


def test_overlapping_runs_of_two_configs_keep_both_in_the_manifest(tmp_path):
  """Two export.one runs of different configs into one output directory at
  once: the manifest lists every module of both (each run merges into it
  under its lock, rather than rewriting it from its own view)."""
  from export.publishing import manifest
  out = tmp_path / "out"
  runs = [_start_one(name, out, tmp_path / f"cache_{name}", *_only(name))
          for name in ("v1_025_128", "v1_025_160")]
  for proc in runs:
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    assert "exported" in stdout
  want = set(_only("v1_025_128")) | set(_only("v1_025_160"))
  assert len(want) == 8
  assert set(manifest.load(str(out))) == want


def test_a_module_another_run_is_exporting_is_waited_for(tmp_path):
  """A run that finds a module's lock held (another run is writing it)
  waits, writes nothing meanwhile, then finds it up to date or exports it;
  two runs of one config at once export each module once between them."""
  import time
  from export.publishing import manifest
  out = tmp_path / "out"
  handles = _only("v1_025_128")
  locks = manifest.ModuleLocks(str(out))
  assert locks.acquire(handles)
  proc = _start_one("v1_025_128", out, tmp_path / "cache", *handles)
  time.sleep(8)
  assert proc.poll() is None  # Still waiting for the locks.
  assert not any((out / h).exists() for h in handles)
  locks.release_all()
  stdout, stderr = proc.communicate(timeout=600)
  assert proc.returncode == 0, stderr[-3000:]
  assert set(_statuses(stdout).values()) == {"exported"}

  out2 = tmp_path / "out2"
  runs = [_start_one("v1_025_128", out2, tmp_path / f"cache_{i}", *handles)
          for i in range(2)]
  statuses = []
  for proc in runs:
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    statuses.append(_statuses(stdout))
  for handle in handles:  # Exported by one run; the other found it done.
    assert sorted(s[handle] for s in statuses) == ["exported",
                                                   "up to date"], handle
  assert set(manifest.load(str(out2))) == set(handles)


def test_a_mistyped_config_says_so_first_and_lists_the_configs(tmp_path):
  result = run_cli("one", "--config=v1_050_16", "--synthetic", "--dry_run",
                   f"--output_dir={tmp_path}")
  assert result.returncode == 2
  first = result.stderr.splitlines()[0]
  assert first.startswith("error: no such config: ")
  assert "v1_050_16.yaml (did you mean v1_050_160?); the configs in " in first
  assert "v1_025_128, v1_025_128_quant," in first
  assert "not allowed" not in result.stderr


@pytest.mark.parametrize("flag, command", [("checkpoint", "one"),
                                           ("checkpoint_dir", "export_all")])
def test_a_checkpoint_path_that_does_not_exist_is_a_usage_error(
    tmp_path, flag, command):
  missing = tmp_path / "nope" / "model.ckpt"
  config = ("--config=v1_050_160" if command == "one"
            else "--configs=v1_050_160")
  result = run_cli(command, config, f"--{flag}={missing}",
                   f"--output_dir={tmp_path / 'out'}")
  assert result.returncode == 2
  assert result.stdout == ""  # Said first, before any plan.
  assert result.stderr.startswith(
      f"error: --{flag}: no such file or directory: {missing} (expected ")
  assert not (tmp_path / "out").exists()

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
  assert "16 versions of 10 variations of 2 models" in result.stdout


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
  files = _tree(tree)
  assert _bazel("clean").returncode == 0
  second = _bazel("build", cache, target)
  assert second.returncode == 0, second.stderr[-3000:]
  assert "1 remote cache hit" in second.stderr
  with open(os.path.join(tree, "manifest.json"), "rb") as f:
    assert f.read() == manifest
  assert _tree(tree) == files  # Every file, byte for byte.


def _free_port():
  import socket
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


# Workers keep the user that starts nginx (as root they would otherwise
# become "nobody", who cannot write the test's cache directory).
NGINX_CONF = """
user {user};
worker_processes 1;
error_log {root}/error.log;
pid {root}/nginx.pid;
events {{ }}
http {{
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  access_log {root}/access.log;
  server {{
    listen 127.0.0.1:{port};
    root {root}/cache;
    client_max_body_size 0;
    location / {{
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw;
    }}
  }}
}}
"""


@pytest.fixture
def remote_cache(tmp_path):
  """An HTTP cache as Bazel documents it (nginx, WebDAV PUT) on loopback."""
  nginx = shutil.which("nginx") or "/usr/sbin/nginx"
  if not os.path.exists(nginx):
    pytest.fail("nginx missing (scripts/setup.sh installs nginx-light)")
  root, port = tmp_path / "nginx", _free_port()
  (root / "cache").mkdir(parents=True)
  conf = root / "nginx.conf"
  import getpass
  conf.write_text(NGINX_CONF.format(root=root, port=port,
                                    user=getpass.getuser()))
  server = subprocess.Popen([nginx, "-c", str(conf), "-p", str(root),
                             "-g", "daemon off;"],
                            stderr=subprocess.PIPE)
  import socket
  import time
  for _ in range(100):
    with socket.socket() as s:
      if s.connect_ex(("127.0.0.1", port)) == 0:
        break
    time.sleep(0.05)
  yield f"http://127.0.0.1:{port}"
  server.terminate()
  server.wait(timeout=30)


def _tree(directory):
  found = {}
  for d, dirs, files in os.walk(directory):
    for name in files:
      path = os.path.join(d, name)
      with open(path, "rb") as f:
        found[os.path.relpath(path, directory)] = f.read()
  return found


def test_a_second_clone_gets_every_export_from_the_remote_cache(
    tmp_path, remote_cache):
  """Two clones at other paths, one nginx cache: the second clone runs no
  export action and its outputs are byte-equal (no empty directory lost:
  the modules have none)."""
  target = "//configs:v1_050_160"
  flags = [f"--remote_cache={remote_cache}", "--remote_upload_local_results"]
  assert _bazel("clean").returncode == 0  # Run the export, and upload it.
  first = subprocess.run(["bazel", "build", *flags, target], cwd=REPO,
                         capture_output=True, text=True, timeout=1500)
  assert first.returncode == 0, first.stderr[-3000:]
  clone = tmp_path / "clone"
  subprocess.run(["git", "clone", "-q", REPO, str(clone)], check=True)
  # Uncommitted work in REPO (CI builds a clean checkout): the same files.
  for tracked in subprocess.run(["git", "ls-files", "-m"], cwd=REPO,
                                capture_output=True, text=True,
                                check=True).stdout.split():
    shutil.copy(os.path.join(REPO, tracked), clone / tracked)
  for venv in (".venv", ".venv-legacy", ".venv-lite", "node_modules"):
    os.symlink(os.path.join(REPO, venv), clone / venv)
  second = subprocess.run(["bazel", "build", *flags, target], cwd=clone,
                          capture_output=True, text=True, timeout=1500)
  try:
    assert second.returncode == 0, second.stderr[-3000:]
    assert "remote cache hit" in second.stderr, second.stderr[-3000:]
    assert "linux-sandbox" not in second.stderr.split("processes:")[-1]
    assert " local" not in second.stderr.split("processes:")[-1]
    trees = [_tree(os.path.join(root, "bazel-bin", "configs", "v1_050_160"))
             for root in (REPO, str(clone))]
    assert trees[0] and trees[0] == trees[1]
    empty = [d for d, dirs, files in os.walk(
        os.path.join(REPO, "bazel-bin", "configs", "v1_050_160"))
             if not dirs and not files]
    assert empty == []
  finally:
    subprocess.run(["bazel", "shutdown"], cwd=clone, capture_output=True)

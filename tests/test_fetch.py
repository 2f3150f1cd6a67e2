"""Published checkpoints over HTTP, against a loopback server: every fault
ends in its documented error with the cache and outputs as they were."""

import contextlib
import hashlib
import http.server
import io
import os
import tarfile
import threading
import time

import pytest

from export.sources import checkpoint
from export.core import config
from export.sources import source
from export.sources import fetch

PREFIX = "mobilenet_v1_0.5_160.ckpt"


def _tgz(members):
  """members: [(name, bytes)] regular files, or (name, TarInfo) as is."""
  buf = io.BytesIO()
  with tarfile.open(fileobj=buf, mode="w:gz") as tar:
    for name, content in members:
      if isinstance(content, tarfile.TarInfo):
        tar.addfile(content)
      else:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
  return buf.getvalue()


def _symlink(name, target):
  info = tarfile.TarInfo(name)
  info.type = tarfile.SYMTYPE
  info.linkname = target
  return (name, info)


@pytest.fixture(scope="module")
def archives(ckpt_prefix):
  files = [(f"./{PREFIX}{suffix}", open(ckpt_prefix + suffix, "rb").read())
           for suffix in (".index", ".data-00000-of-00001")]
  good = _tgz(files + [("./mobilenet_v1_0.5_160_info.txt", b"info")])
  return {
      "good": good,
      "corrupt": good[:-200] + bytes(200),
      "traversal": _tgz(files + [(f"../{PREFIX}.index", b"x")]),
      "absolute": _tgz(files + [("/tmp/evil.txt", b"x")]),
      "symlink": _tgz([files[1], _symlink(f"./{PREFIX}.index",
                                          "/etc/passwd")]),
  }


class _Handler(http.server.BaseHTTPRequestHandler):
  archives = {}
  requests = []

  def log_message(self, *args):
    pass

  def do_GET(self):  # pylint: disable=invalid-name
    name = self.path.strip("/").split(".")[0]
    self.requests.append(name)
    if name == "stall":
      self.send_response(200)
      self.send_header("Content-Length", "1000")
      self.end_headers()
      time.sleep(3)
      return
    body = self.archives.get("good" if name == "truncated" else name)
    if body is None:
      self.send_error(404, "Not Found")
      return
    self.send_response(200)
    self.send_header("Content-Length", str(len(body)))
    self.end_headers()
    self.wfile.write(body[:len(body) // 2] if name == "truncated" else body)


@contextlib.contextmanager
def _serve(archives):
  _Handler.archives = archives
  httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  try:
    yield httpd
  finally:
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def server(archives):
  with _serve(archives) as httpd:
    yield httpd


def _config(tmp_path, url, sha256=None):
  text = open(config.resolve_path("v1_050_160")).read()
  text = text.replace(
      "  url: https://storage.googleapis.com/download.tensorflow.org/models/"
      "mobilenet_v1_2018_02_22/mobilenet_v1_0.5_160.tgz",
      f"  url: {url}" + (f"\n  sha256: {sha256}" if sha256 else ""))
  path = tmp_path / "v1_050_160.yaml"
  path.write_text(text)
  return config.load(str(path))


def _files(root):
  return sorted(os.path.relpath(os.path.join(d, f), root)
                for d, _, names in os.walk(root) for f in names)


def _url(server, name):
  return f"http://127.0.0.1:{server.server_address[1]}/{name}.tgz"


def test_good_archive_is_verified_cached_and_reused_offline(archives,
                                                            tmp_path):
  sha = hashlib.sha256(archives["good"]).hexdigest()
  cache = tmp_path / "cache"
  with _serve(archives) as own_server:
    cfg = _config(tmp_path, _url(own_server, "good"), sha)
    prefix = source.resolve(cfg, None, str(cache),
                                         log=lambda _: None)
  assert os.path.basename(prefix) == PREFIX
  assert checkpoint.read_values(prefix, {"global_step": ()})
  archive = fetch.cached_archive_path(str(cache), cfg.checkpoint.url)
  assert fetch.sha256_of(archive) == sha
  # Only the checkpoint files the config names are extracted.
  assert sorted(os.listdir(os.path.dirname(prefix))) == [
      f"{PREFIX}.data-00000-of-00001", f"{PREFIX}.index"]
  # Second run with the server stopped: served from the cache.
  again = source.resolve(cfg, None, str(cache),
                                      log=lambda _: None)
  assert again == prefix


def test_unpinned_archive_warns_with_its_hash_or_is_refused(server, archives,
                                                            tmp_path):
  messages = []
  cache = tmp_path / "cache"
  fetch.fetch(_url(server, "good"), str(cache), log=messages.append)
  sha = hashlib.sha256(archives["good"]).hexdigest()
  assert sha in messages[0]
  with open(fetch.unpinned_record(str(cache))) as f:
    assert f.read() == f"{sha}  {_url(server, 'good')}\n"
  with pytest.raises(fetch.FetchError, match="--require_hashes"):
    fetch.fetch(_url(server, "good"), str(tmp_path / "c2"), require_hash=True)
  assert not (tmp_path / "c2").exists()


@pytest.mark.parametrize("name,error", [
    ("truncated", "IncompleteRead|truncated"),
    ("corrupt", "sha256 mismatch"),
    ("missing", "HTTP 404"),
    ("stall", "timed out"),
])
def test_download_faults_leave_cache_untouched(server, archives, tmp_path,
                                               name, error):
  sha = hashlib.sha256(archives["good"]).hexdigest()
  cache = tmp_path / "cache"
  cache.mkdir()
  (cache / "keep.txt").write_text("untouched")
  url = _url(server, name)
  with pytest.raises(fetch.FetchError, match=error) as info:
    fetch.fetch(url, str(cache), sha256=sha, retries=1, timeout=1.0,
                backoff=0.0)
  assert url in str(info.value)
  assert _files(cache) == ["keep.txt"]
  assert sorted(os.listdir(tmp_path)) == ["cache"]


@pytest.mark.parametrize("name", ["traversal", "absolute", "symlink"])
def test_unsafe_archives_are_refused(server, archives, tmp_path, name):
  sha = hashlib.sha256(archives[name]).hexdigest()
  cfg = _config(tmp_path, _url(server, name), sha)
  cache = tmp_path / "cache"
  with pytest.raises(checkpoint.CheckpointError, match="refused|not a regular"):
    source.resolve(cfg, None, str(cache), log=lambda _: None)
  # Nothing extracted anywhere, and the refused archive is not kept.
  assert _files(cache) == []
  assert not os.path.exists("/tmp/evil.txt")
  assert sorted(os.listdir(tmp_path)) == ["cache", "v1_050_160.yaml"]


@pytest.mark.slow
def test_cli_names_url_and_cause_and_writes_nothing(server, tmp_path):
  from tests.conftest import run_cli
  cfg_path = _config(tmp_path, _url(server, "missing")).path
  out = tmp_path / "out"
  result = run_cli("one", "--config", cfg_path, "--output_dir", str(out),
                   "--cache_dir", str(tmp_path / "cache"))
  assert result.returncode == 1
  assert _url(server, "missing") in result.stderr
  assert "HTTP 404" in result.stderr
  assert not out.exists()

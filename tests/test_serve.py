"""The hub server (`python -m export.serve`, nginx) on loopback.

Real clients ask it for modules the way they asked tfhub.dev: TF 2.21's
`hub.load` and `hub.KerasLayer`, the legacy venv's `hub.Module`, TF.js's
`loadGraphModel(url, {fromTFHub: true})` in Node and `?lite-format=tflite`;
what they get is byte-equal to the export and computes the same outputs.
Headless Chromium opens the pages; load, bad requests and a re-export while
serving show what a client never gets.
"""

import concurrent.futures
import contextlib
import hashlib
import html.parser
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

from tests.conftest import LEGACY_PYTHON, NODE, REPO, VARIANT, handle
from tests.conftest import images, run_cli, run_node

C3, C4, C5 = (handle("classification", v) for v in (3, 4, 5))
TFJS = (f"google/tfjs-model/imagenet/mobilenet_{VARIANT}/classification/3"
        "/default/1")
LITE = "tensorflow/lite-model/mobilenet_v1_0.50_160/1/default/1"
FV5 = handle("feature_vector", 5)  # C5's card links to it.
SERVED = [C3, C4, C5, FV5, TFJS, LITE]
pytestmark = pytest.mark.slow  # Real clients, a server, a browser.
SIZE = 160
LEGACY_SCRIPT = os.path.join(REPO, "tests", "legacy_consumer.py")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Plain urllib, never a proxy of the environment: the server is on loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@contextlib.contextmanager
def serving(output_dir, site_dir):
  """Runs `python -m export.serve` on a free loopback port; yields its URL.
  Stops it with SIGINT (Ctrl-C), which must exit 130."""
  port = _free_port()
  env = dict(os.environ, PYTHONPATH=REPO)
  proc = subprocess.Popen(
      [sys.executable, "-m", "export.serve", f"--output_dir={output_dir}",
       f"--site_dir={site_dir}", f"--port={port}"], cwd=REPO, env=env,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + 120
  while True:
    with socket.socket() as s:
      if s.connect_ex(("127.0.0.1", port)) == 0:
        break
    if proc.poll() is not None or time.monotonic() > deadline:
      proc.kill()
      out, err = proc.communicate()
      pytest.fail(f"export.serve did not start: {out}{err[-3000:]}")
    time.sleep(0.1)
  try:
    yield f"http://127.0.0.1:{port}"
  finally:
    proc.send_signal(signal.SIGINT)
    try:
      _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
      proc.kill()
      raise
    assert proc.returncode == 130, err[-3000:]


def get(url, headers=None, method="GET"):
  """(status, headers, body) of a request, errors included."""
  request = urllib.request.Request(url, headers=headers or {}, method=method)
  try:
    with _OPENER.open(request, timeout=60) as response:
      return response.status, response.headers, response.read()
  except urllib.error.HTTPError as e:
    return e.code, e.headers, e.read()


def raw(base, target):
  """(status, body) of `GET <target>` sent as is (no client normalizing)."""
  host, port = urllib.parse.urlsplit(base).netloc.split(":")
  with socket.create_connection((host, int(port)), timeout=30) as s:
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n"
              "Connection: close\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(1 << 16):
      data += chunk
  head, _, body = data.partition(b"\r\n\r\n")
  return int(head.split()[1]), body


def sha256(data):
  return hashlib.sha256(data).hexdigest()


def read(path):
  with open(path, "rb") as f:
    return f.read()


@pytest.fixture(scope="module")
def served(variant):
  """The exported modules: (Variant, output directory, manifest)."""
  v = variant(VARIANT, only=SERVED)
  out = v.modules[C5][:-len(C5) - 1]
  with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
    modules = json.load(f)["modules"]
  return v, out, modules


@pytest.fixture(scope="module")
def hub(served, tmp_path_factory):
  """The server on the session's export (its site directory aside)."""
  _, out, _ = served
  with serving(out, str(tmp_path_factory.mktemp("site"))) as base:
    yield base


@pytest.fixture(scope="module")
def own_copy(served, tmp_path_factory):
  """A copy of the export that tests may change, served: (base, out)."""
  _, out, _ = served
  copy = str(tmp_path_factory.mktemp("hub_copy") / "out")
  shutil.copytree(out, copy, symlinks=True)
  with serving(copy, str(tmp_path_factory.mktemp("copy_site"))) as base:
    yield base, copy


def test_hub_load_and_keras_layer_get_the_exported_modules(
    served, hub, tmp_path, monkeypatch):
  """TF 2.21's tensorflow_hub, as with tfhub.dev: the compressed archive,
  unpacked into its cache as the export's files; same outputs."""
  import tensorflow as tf
  import tensorflow_hub as tfhub
  v, out, _ = served
  cache = str(tmp_path / "tfhub_cache")
  monkeypatch.setenv("TFHUB_CACHE_DIR", cache)
  batch = images(SIZE)
  url = f"{hub}/{C5}"
  model = tfhub.load(url)
  local = tf.saved_model.load(v.modules[C5])
  np.testing.assert_array_equal(model(batch).numpy(), local(batch).numpy())
  unpacked = os.path.join(cache, hashlib.sha1(url.encode()).hexdigest())
  for d, _, names in os.walk(v.modules[C5]):
    for name in names:
      path = os.path.join(d, name)
      assert read(path) == read(os.path.join(
          unpacked, os.path.relpath(path, v.modules[C5]))), path
  layer = tfhub.KerasLayer(f"{hub}/{C4}")
  local_layer = tfhub.KerasLayer(v.modules[C4])
  np.testing.assert_array_equal(layer(batch).numpy(),
                                local_layer(batch).numpy())
  assert layer(batch).shape == (3, 1001)


def test_legacy_hub_module_gets_the_version_3_module(served, hub, tmp_path):
  v, _, _ = served
  batch_path = str(tmp_path / "images.npy")
  np.save(batch_path, images(SIZE))
  url = f"{hub}/{C3}"
  proc = subprocess.run(
      [LEGACY_PYTHON, LEGACY_SCRIPT, batch_path, url, v.modules[C3]],
      capture_output=True, text=True, timeout=600,
      env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": os.environ["PATH"],
           "TFHUB_CACHE_DIR": str(tmp_path / "cache")})
  assert proc.returncode == 0, proc.stderr[-3000:]
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  remote, local = result[url]["inference"], result[v.modules[C3]]["inference"]
  assert remote["signatures"] == local["signatures"]
  assert "image_classification" in remote["signatures"]
  for name in local["outputs"]:
    np.testing.assert_array_equal(np.array(remote["outputs"][name]),
                                  np.array(local["outputs"][name]))


def test_tfjs_load_graph_model_from_tfhub(served, hub, tmp_path):
  """tf.loadGraphModel(url, {fromTFHub: true}) asks for
  `<url>/model.json?tfjs-format=file` and the shards with the same query;
  its outputs equal the exported model's read from disk."""
  v, _, _ = served
  batch = images(SIZE, batch=2)
  input_path = str(tmp_path / "input.bin")
  batch.tofile(input_path)
  shape = list(batch.shape)
  remote = run_node("hub_load.js", {
      "url": f"{hub}/{TFJS}", "input": input_path, "shape": shape,
      "results": str(tmp_path / "remote")}, tmp_path)
  assert remote["fetched"][0] == f"{hub}/{TFJS}/model.json?tfjs-format=file"
  assert len(remote["fetched"]) > 1
  assert all(u.endswith(".bin?tfjs-format=file")
             for u in remote["fetched"][1:])
  local = run_node("run_model.js", {
      "model_dir": v.modules[TFJS], "input": input_path, "shape": shape,
      "outputs": [], "results": str(tmp_path / "local")}, tmp_path)
  assert remote["shape"] == local["shapes"][0] == [2, 1001]
  assert read(str(tmp_path / "remote.0.bin")) == read(
      str(tmp_path / "local.0.bin"))


PROTOCOL = os.path.join(REPO, "tests", "testdata", "hub_protocol.json")


def test_the_protocol_is_the_clients_own():
  """The queries served (catalog.QUERIES) are the ones the evidence shows
  the clients send, and the installed clients still send them."""
  from export.serving import catalog
  from tensorflow_hub import compressed_module_resolver
  with open(PROTOCOL, encoding="utf-8") as f:
    evidence = json.load(f)
  assert catalog.QUERIES == {
      ".tar.gz": tuple(evidence["compressed"]["query"]),
      ".tflite": tuple(evidence["lite"]["query"])}
  # pylint: disable-next=protected-access
  assert (compressed_module_resolver._COMPRESSED_FORMAT_QUERY ==
          tuple(evidence["compressed"]["query"]))
  # The tfjs-converter the Node tests load (wherever Node finds it).
  package = subprocess.run(
      [NODE, "-p",
       "require.resolve('@tensorflow/tfjs-converter/package.json')"],
      cwd=os.path.join(REPO, "tests", "tfjs"), capture_output=True, text=True,
      timeout=60, check=True).stdout.strip()
  graph_model = read(os.path.join(os.path.dirname(package), "dist",
                                  "executor", "graph_model.js")).decode()
  name, value = evidence["tfjs"]["query"]
  assert f"TFHUB_SEARCH_PARAM = '?{name}={value}'" in graph_model
  example = urllib.parse.urlsplit(evidence["lite"]["example"])
  assert example.path.startswith("/tensorflow/lite-model/")
  assert urllib.parse.parse_qsl(example.query) == [
      tuple(evidence["lite"]["query"])]
  assert LITE.startswith("tensorflow/lite-model/")


def test_lite_format_query_gives_the_bare_file(served, hub):
  _, out, modules = served
  status, headers, body = get(f"{hub}/{LITE}?lite-format=tflite")
  assert status == 200
  assert body == read(os.path.join(out, f"{LITE}.tflite"))
  assert sha256(body) == modules[LITE]["sha256"]
  assert body[4:8] == b"TFL3"  # The flatbuffer's file identifier.
  assert headers["Content-Type"] == "application/octet-stream"


def test_head_etag_range_and_cors(served, hub):
  _, out, modules = served
  url = f"{hub}/{C5}?tf-hub-format=compressed"
  data = read(os.path.join(out, modules[C5]["archive"]))
  status, headers, body = get(url, method="HEAD")
  assert (status, body) == (200, b"")
  assert int(headers["Content-Length"]) == modules[C5]["size"] == len(data)
  assert headers["Access-Control-Allow-Origin"] == "*"
  etag = headers["ETag"]
  assert get(url, {"If-None-Match": etag})[0] == 304
  assert get(url, {"If-None-Match": '"other"'})[0] == 200
  # A download cut off at 1 MB resumes from there.
  status, headers, body = get(url, {"Range": "bytes=1000000-",
                                    "If-Range": etag})
  assert status == 206
  assert headers["Content-Range"] == (f"bytes 1000000-{len(data) - 1}/"
                                      f"{len(data)}")
  assert data[:1000000] + body == data
  status, headers, _ = get(f"{hub}/{TFJS}/model.json?tfjs-format=file",
                           {"Origin": "https://example.com"})
  assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
  assert "ETag" in headers["Access-Control-Expose-Headers"]
  status, headers, _ = get(f"{hub}/{TFJS}/model.json",
                           {"Origin": "https://example.com",
                            "Access-Control-Request-Method": "GET"},
                           method="OPTIONS")
  assert status == 204 and "GET" in headers["Access-Control-Allow-Methods"]
  assert get(f"{hub}/google/no/such/module/1?tf-hub-format=compressed"
             )[0] == 404
  # A Lite file has no compressed form; a TF.js model has (its archive).
  assert get(f"{hub}/{LITE}?tf-hub-format=compressed")[0] == 404
  assert get(f"{hub}/{C5}?lite-format=tflite")[0] == 404
  status, headers, body = get(f"{hub}/{C5}", {"Accept": "text/html"})
  assert status == 200 and headers["Content-Type"].startswith("text/html")
  assert C5.encode() in body


def _artifacts(out, modules, base):
  """{url: expected bytes} of every file a client of the hub asks for."""
  found = {}
  for h, entry in modules.items():
    data = read(os.path.join(out, entry["archive"]))
    query = {".gz": "?tf-hub-format=compressed", ".tflite":
             "?lite-format=tflite"}.get(os.path.splitext(entry["archive"])[1])
    # Asked for by query, or by the archive's path (other formats).
    found[f"{base}/{h}{query}" if query else
          f"{base}/{entry['archive']}"] = data
    if entry["format"] == "tfjs":
      for name in sorted(os.listdir(os.path.join(out, h))):
        found[f"{base}/{h}/{name}?tfjs-format=file"] = read(
            os.path.join(out, h, name))
  return found


def test_64_concurrent_downloads_of_every_artifact(served, hub):
  _, out, modules = served
  artifacts = _artifacts(out, modules, hub)
  assert len(artifacts) >= len(SERVED) + 2  # TF.js: model.json, shards.
  want = {url: sha256(data) for url, data in artifacts.items()}

  def client(_):
    return {url: (lambda r: (r[0], sha256(r[2])))(get(url))
            for url in want}

  with concurrent.futures.ThreadPoolExecutor(64) as pool:
    results = list(pool.map(client, range(64)))
  assert len(results) == 64
  for got in results:
    assert got == {url: (200, sha) for url, sha in want.items()}


def test_traversal_symlinks_and_huge_queries_are_refused(own_copy, tmp_path):
  base, out = own_copy
  secret = tmp_path / "secret.txt"
  secret.write_text("SECRET-OUTSIDE-THE-OUTPUT-DIRECTORY\n")
  os.symlink(secret, os.path.join(out, "leak.txt"))
  os.symlink(tmp_path, os.path.join(out, "google", "leakdir"))
  # What an export in progress leaves for a moment: a half-written archive
  # and a staging directory.
  with open(os.path.join(out, f"{C5}.tar.gz.tmp-123"), "w") as f:
    f.write("SECRET-HALF-WRITTEN")
  os.makedirs(os.path.join(out, ".staging-1-x", "new"))
  with open(os.path.join(out, ".staging-1-x", "new", "saved_model.pb"),
            "w") as f:
    f.write("SECRET-STAGED")
  targets = [
      "/../secret.txt", "/google/../../secret.txt",
      "/%2e%2e/%2e%2e/etc/passwd", "/google/%2E%2E/%2e%2e/etc/passwd",
      "/..%2f..%2fetc%2fpasswd", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "/leak.txt", "/google/leakdir/secret.txt",
      "/.hub-files/manifest.json",
      f"/{C5}.tar.gz.tmp-123", "/.staging-1-x/new/saved_model.pb",
      f"/{C5}?tf-hub-format=compressed&x=" + "a" * 20000,
  ]
  for target in targets:
    status, body = raw(base, target)
    assert 400 <= status < 500, (target[:80], status)
    assert b"SECRET" not in body and b"root:" not in body, target[:80]
  assert raw(base, f"/{C5}?tf-hub-format=compressed&x=" + "a" * 20000
             )[0] == 414
  assert raw(base, "/leak.txt")[0] == 403
  # The same requests without the tricks are served.
  assert raw(base, "/manifest.json")[0] == 200


def test_a_module_reexported_while_served_is_never_half_written(
    own_copy, cache_dir):
  """The exporter renames a finished archive into place: downloads during
  a loop of re-exports each get one whole archive (the export is
  deterministic, so the same sha256), never a partial or mixed one."""
  from export.core import config
  from export.pipeline import runner
  from export.sources import source
  base, out = own_copy
  with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
    want = json.load(f)["modules"][C5]["sha256"]
  url = f"{base}/{C5}?tf-hub-format=compressed"
  stop, seen, etags = threading.Event(), [], set()

  def download():
    while not stop.is_set():
      status, headers, body = get(url)
      seen.append((status, sha256(body)))
      etags.add(headers.get("ETag"))

  threads = [threading.Thread(target=download) for _ in range(4)]
  for t in threads:
    t.start()
  try:
    cfg = config.load(VARIANT)
    for _ in range(2):
      results = runner.export_config(
          cfg, source.Source(synthetic=True, cache_dir=cache_dir), out,
          [C5], force=True)
      assert [r.status for r in results] == [runner.EXPORTED]
  finally:
    stop.set()
    for t in threads:
      t.join(timeout=60)
  assert len(seen) > 10
  assert set(seen) == {(200, want)}
  assert len(etags) > 1  # The archive was replaced while being served.


class _Links(html.parser.HTMLParser):
  """The hrefs, <title>, text and visible list items of a page."""

  def __init__(self):
    super().__init__()
    self.hrefs, self.text, self.items, self.labels = [], [], [], 0
    self.title, self._in_title = "", False

  def handle_starttag(self, tag, attrs):
    attrs = dict(attrs)
    if "href" in attrs and tag in ("a", "link"):
      self.hrefs.append(attrs["href"])
    if tag == "li" and "data-handle" in attrs and "hidden" not in attrs:
      self.items.append(attrs["data-handle"])
    if tag == "label":
      self.labels += 1
    self._in_title = tag == "title"

  def handle_endtag(self, tag):
    self._in_title = False

  def handle_data(self, data):
    if self._in_title:
      self.title += data
    self.text.append(data)


def _chromium(args, tmp_path):
  if not os.path.exists(CHROMIUM):
    pytest.fail(f"{CHROMIUM} missing (scripts/setup.sh installs chromium)")
  proc = subprocess.run(
      [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
       "--no-first-run", "--disable-background-networking",
       "--disable-component-update", "--disable-sync",
       f"--user-data-dir={tmp_path / 'chromium-profile'}",
       "--virtual-time-budget=5000", *args],
      capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc.stdout


def _dom(url, tmp_path):
  page = _Links()
  page.feed(_chromium(["--dump-dom", url], tmp_path))
  return page


def test_pages_in_chromium(served, hub, tmp_path, tmp_path_factory):
  _, _, modules = served
  shots = tmp_path_factory.mktemp("screenshots")
  print(f"screenshots: {shots}")
  for name, path, width in (("index", "/", 412), ("model", f"/{C5}", 412),
                            ("model-wide", f"/{C5}", 1280)):
    shot = shots / f"{name}.png"
    _chromium([f"--window-size={width},900", f"--screenshot={shot}",
               f"{hub}{path}"], tmp_path)
    assert read(str(shot))[:8] == b"\x89PNG\r\n\x1a\n"
  # The session's export may hold more than SERVED: expect what it holds.
  count = len(modules)
  index = _dom(f"{hub}/", tmp_path)
  assert sorted(index.items) == sorted(modules)
  assert index.labels == 6  # Every filter field has its label.
  assert f"{count} of {count} models" in "".join(index.text)
  page = _dom(f"{hub}/{C5}", tmp_path)
  text = " ".join(page.text)
  assert page.title == C5
  assert f"{SIZE} x {SIZE} pixels" in text
  assert "__call__, serving_default" in text
  assert f"/{modules[C5]['archive']}" in page.hrefs
  assert modules[C5]["sha256"] in text
  assert f'hub.load("{hub}/{C5}")' in text
  # The card's tfhub.dev links to modules served here point here.
  assert f"/{FV5}" in page.hrefs
  assert not [h for h in page.hrefs if h.startswith("https://tfhub.dev/")
              and h[len("https://tfhub.dev/"):] in modules]
  external = 0
  for base_page, links in ((f"{hub}/", index), (f"{hub}/{C5}", page)):
    for href in links.hrefs:
      url = urllib.parse.urljoin(base_page, href)
      if not url.startswith(hub + "/"):
        external += 1  # arXiv, GitHub, ...: no network in the tests.
        assert url.startswith("https://"), url
        continue
      assert get(url, method="HEAD")[0] == 200, url
  assert external  # The card's references.
  # The filter narrows the index (state in the query, as the form sets it).
  tfjs = sorted(h for h, e in modules.items() if e["format"] == "tfjs")
  tfjs_only = _dom(f"{hub}/?format=tfjs", tmp_path)
  assert TFJS in tfjs and sorted(tfjs_only.items) == tfjs
  assert f"{len(tfjs)} of {count} models" in "".join(tfjs_only.text)
  tf2 = _dom(f"{hub}/?format=saved_model_2&kind=classification", tmp_path)
  assert sorted(tf2.items) == sorted(
      h for h, e in modules.items()
      if e["format"] == "saved_model_2" and "/classification/" in h)
  assert C4 in tf2.items and C3 not in tf2.items
  assert _dom(f"{hub}/?q=classification/4", tmp_path).items == [C4]


def test_pages_are_deterministic_and_bad_flags_exit_2(served, tmp_path):
  _, out, modules = served
  trees = []
  for n in range(2):
    site = tmp_path / f"site{n}"
    proc = run_cli("serve", f"--output_dir={out}", f"--site_dir={site}",
                   "--pages_only", "--base_url=https://hub.example.com")
    assert proc.returncode == 0, proc.stderr[-3000:]
    tree = {}
    for d, _, names in os.walk(site / "pages"):
      for name in names:
        path = os.path.join(d, name)
        tree[os.path.relpath(path, site)] = read(path)
    trees.append(tree)
  assert trees[0] == trees[1] and len(trees[0]) == len(modules) + 1
  assert b'hub.load(&quot;https://hub.example.com/' in trees[0][
      f"pages/{C5}/index.html"]
  empty = tmp_path / "empty"
  empty.mkdir()
  proc = run_cli("serve", f"--output_dir={empty}", "--pages_only")
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines() == [
      f"error: --output_dir: {empty} has no manifest.json; expected the "
      "output directory of an export (python -m export.one ...)"]
  assert not os.listdir(empty)
  proc = run_cli("serve", f"--output_dir={out}", "--port=70000")
  assert proc.returncode == 2 and "--port" in proc.stderr
  # A port in use: nginx says so, exit 1.
  with socket.socket() as taken:
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    proc = run_cli("serve", f"--output_dir={out}",
                   f"--site_dir={tmp_path / 'busy'}",
                   f"--port={taken.getsockname()[1]}", timeout=60)
  assert proc.returncode == 1
  assert "Address already in use" in proc.stderr
  assert proc.stderr.strip().splitlines()[-1] == (
      "error: nginx exited with status 1")


class _DevTools:
  """Just enough of the Chrome DevTools Protocol (one page, over a
  minimal WebSocket client) to press keys and read the page."""

  def __init__(self, url, tmp_path):
    import base64
    port = _free_port()
    self.proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'devtools-profile'}",
         "--remote-debugging-address=127.0.0.1",
         f"--remote-debugging-port={port}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, page = time.monotonic() + 60, None
    while page is None:
      try:
        targets = json.loads(get(f"http://127.0.0.1:{port}/json")[2])
        page = next(t for t in targets if t["type"] == "page")
      except (OSError, ValueError, StopIteration):
        assert time.monotonic() < deadline, "no DevTools page"
        time.sleep(0.1)
    where = urllib.parse.urlsplit(page["webSocketDebuggerUrl"])
    self.sock = socket.create_connection((where.hostname, where.port),
                                         timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    self.sock.sendall(
        f"GET {where.path} HTTP/1.1\r\nHost: {where.netloc}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
      head += self._exact(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    self.last_id = 0
    # Navigated here, not on the command line: then the page is the one
    # loaded once `url` is the location and loading is complete.
    self.call("Page.navigate", url=url)
    while self.evaluate("location.href + ' ' + document.readyState") != (
        f"{url} complete"):
      assert time.monotonic() < deadline, "the page did not load"
      time.sleep(0.1)

  def _exact(self, n):
    data = b""
    while len(data) < n:
      chunk = self.sock.recv(n - len(data))
      assert chunk, "DevTools closed the connection"
      data += chunk
    return data

  def call(self, method, **params):
    self.last_id += 1
    data = json.dumps({"id": self.last_id, "method": method,
                       "params": params}).encode()
    mask = os.urandom(4)
    size = (bytes([0x80 | len(data)]) if len(data) < 126 else
            bytes([0x80 | 126]) + len(data).to_bytes(2, "big"))
    self.sock.sendall(b"\x81" + size + mask +
                      bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
    while True:
      _, length = self._exact(2)
      length &= 0x7F
      if length == 126:
        length = int.from_bytes(self._exact(2), "big")
      elif length == 127:
        length = int.from_bytes(self._exact(8), "big")
      message = json.loads(self._exact(length))
      if message.get("id") == self.last_id:
        return message["result"]

  def evaluate(self, expression):
    return self.call("Runtime.evaluate", expression=expression,
                     returnByValue=True)["result"].get("value")

  def key(self, name, code):
    for kind in ("rawKeyDown", "keyUp"):
      self.call("Input.dispatchKeyEvent", type=kind, key=name, code=name,
                windowsVirtualKeyCode=code)

  def close(self):
    self.sock.close()
    self.proc.terminate()
    self.proc.wait(timeout=30)


def test_the_index_filter_works_from_the_keyboard(served, hub, tmp_path):
  """Tab reaches each filter field in order; arrow keys choose a value,
  which narrows the list at once and is kept in the URL."""
  _, _, modules = served
  browser = _DevTools(f"{hub}/", tmp_path)
  try:
    # A click on the heading gives the page the keyboard focus, as a
    # user's first click or the browser's own focus on load does.
    for kind in ("mousePressed", "mouseReleased"):
      browser.call("Input.dispatchMouseEvent", type=kind, x=20, y=20,
                   button="left", clickCount=1)
    browser.key("Tab", 9)
    fields = [browser.evaluate("document.activeElement.name")]
    for _ in range(5):
      browser.key("Tab", 9)
      fields.append(browser.evaluate("document.activeElement.name"))
    assert fields == ["architecture", "multiplier", "input_size", "kind",
                      "format", "q"]
    for kind in ("rawKeyDown", "keyUp"):  # Shift-Tab: back to the format.
      browser.call("Input.dispatchKeyEvent", type=kind, key="Tab",
                   code="Tab", windowsVirtualKeyCode=9, modifiers=8)
    assert browser.evaluate("document.activeElement.name") == "format"
    browser.key("ArrowDown", 40)
    chosen = browser.evaluate("document.activeElement.value")
    want = sorted(h for h, e in modules.items() if e["format"] == chosen)
    assert chosen and want
    assert browser.evaluate(
        "document.getElementById('count').textContent") == (
            f"{len(want)} of {len(modules)} models")
    assert sorted(browser.evaluate(
        "[...document.querySelectorAll('ul.models li:not([hidden])')]"
        ".map(li => li.dataset.handle)")) == want
    assert browser.evaluate("location.search") == f"?format={chosen}"
  finally:
    browser.close()

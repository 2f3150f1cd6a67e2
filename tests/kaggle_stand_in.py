"""A loopback stand-in for Kaggle Models' API, for the real kagglehub client.

With `KAGGLE_API_ENVIRONMENT=TEST`, kagglesdk sends every call to
`http://localhost:7777/api/v1/<service>/<Method>` as a JSON POST
(kagglesdk/kaggle_env.py, kaggle_http_client.py), as kagglehub's own tests
do (tests/__init__.py). Written from these requests and answers (kagglehub
1.0.3, kagglesdk 0.1.38, kaggle CLI 2.2.5; field names are the JSON names of
kagglesdk's `_fields` tables):

* Errors of reads: HTTP status with `{"code": status, "message": ...}`
  (kagglesdk raises HTTPError when `code >= 400`); 404 for a missing model
  or variation (kagglehub's create_model_if_missing and _get_current_version
  rely on it), 401 for refused credentials.
* Errors of creates come with HTTP 200 and `{"error", "errorCode"}`
  (kagglehub.exceptions.handle_mutate_call); 409 for an existing variation
  (models_helpers.create_model_instance_or_version).
* models.ModelApiService: GetModel {ownerSlug, modelSlug} -> ApiModel;
  CreateModel {ownerSlug, slug, title, subtitle, isPrivate, description,
  publishTime, provenanceSources} -> {ref, url}; GetModelInstance
  {ownerSlug, modelSlug, framework, instanceSlug} -> ApiModelInstance with
  `versionNumber`; CreateModelInstance {ownerSlug, modelSlug, body:
  {instanceSlug, framework, overview, usage, fineTunable, trainingData,
  licenseName, modelInstanceType, files: [{token}], directories: [{name,
  files, directories}]}}; CreateModelInstanceVersion {ownerSlug, modelSlug,
  framework, instanceSlug, body: {versionNotes, files, directories}};
  ListModelInstanceVersionFiles {..., versionNumber, pageSize} -> {files:
  [{name, size}], nextPageToken}; DownloadModelInstanceVersion {...,
  versionNumber, path} -> a redirect to the bytes (kagglesdk follows it,
  HttpRedirect), with `x-goog-hash: md5=` (kagglehub checks it); without
  `path`, a tar.gz of the version.
* blobs.BlobApiService/StartBlobUpload {type, name, contentLength} ->
  {token, createUrl}; the upload URL takes resumable PUTs (GCS's protocol,
  as kagglehub.gcs_upload speaks it): `Content-Range: bytes a-b/total`,
  200 when complete, 308 with `Range: bytes=0-n` otherwise, and
  `Content-Range: bytes */total` asks how much arrived.
* A version's only file `archive.zip` (kagglehub zips more than 50 files)
  is unpacked into the version, as Kaggle serves the files (an assumption:
  kagglehub sends it as an ordinary file).

kagglehub's own stand-ins agree on the shape of these answers where they
overlap (Kaggle/kagglehub tests/server_stubs/model_upload_stub.py: an upload
start answers `{token, createUrl}` and the PUT 200; a create checks
`licenseName` "Apache 2.0"; model_download_stub.py: downloads carry
`x-goog-hash: md5=...`, file lists `nextPageToken: ""`), though those
versions still route REST paths. What the real client does with them was
measured against such a server (issue 20: license only when a variation is
created, no notes for version 1, retries only of dropped upload
connections); `test_the_stand_in_answers_kagglehubs_own_upload_flow` runs
kagglehub's unchanged `model_upload` against this one.

Faults for tests: `fail(method, status)` answers the next call of `method`
with an HTTP error; `fail(method, drop=True)` closes the connection instead,
after doing the call (a lost reply); `drop_upload_after(n)` closes the next
upload's connection after n bytes; `on_create(fn)` runs fn after each
create is done (e.g. to kill the client). `requests` logs every call,
without its Authorization header.
"""

import base64
import hashlib
import http.server
import io
import json
import tarfile
import threading
import urllib.parse
import zipfile

PORT = 7777
TOKEN = "stand-in-api-token-never-printed"
USERNAME, KEY = "stand-in-user", "stand-in-key-never-printed"
FRAMEWORKS = {"MODEL_FRAMEWORK_TENSOR_FLOW_1": "tensorFlow1",
              "MODEL_FRAMEWORK_TENSOR_FLOW_2": "tensorFlow2",
              "MODEL_FRAMEWORK_TF_LITE": "tfLite",
              "MODEL_FRAMEWORK_TF_JS": "tfJs"}


class _Drop(Exception):
  """Close the connection without an answer."""


class State:
  """What the service holds, and the faults to inject."""

  def __init__(self):
    self.lock = threading.RLock()
    self.models = {}     # "owner/slug" -> CreateModel fields
    self.instances = {}  # "owner/model/framework/slug" -> fields + versions
    self.blobs = {}      # token -> {"name", "size", "data"}
    self.downloads = {}  # key -> bytes
    self.requests = []   # (method, body) of every API call
    self.faults = {}     # method -> [fault, ...]
    self.upload_drop = None
    self.after_create = None

  def fail(self, method, status=500, drop=False, times=1):
    with self.lock:
      self.faults.setdefault(method, []).extend(
          [{"status": status, "drop": drop}] * times)

  def drop_upload_after(self, nbytes):
    self.upload_drop = nbytes

  def on_create(self, fn):
    self.after_create = fn

  def calls(self, method):
    return [body for m, body in self.requests if m == method]

  def versions(self, variation_handle):
    """[{number, files: {name: bytes}, notes}] of a variation."""
    instance = self.instances.get(variation_handle)
    return instance["versions"] if instance else []

  def add_foreign_version(self, variation_handle, files):
    """A version someone else published (not through the tool)."""
    owner, model, framework, slug = variation_handle.split("/")
    with self.lock:
      instance = self.instances.setdefault(variation_handle, {
          "slug": slug, "framework": framework, "versions": []})
      instance["versions"].append({"number": len(instance["versions"]) + 1,
                                   "files": dict(files), "notes": ""})


def _md5_header(data):
  return "md5=" + base64.b64encode(hashlib.md5(data).digest()).decode()


def _files_of(state, body):
  """{name: bytes} of the upload tokens in a create request's body."""
  files = {}

  def walk(directory, prefix):
    for f in directory.get("files") or []:
      blob = state.blobs[f["token"]]
      if len(blob["data"]) != blob["size"]:
        raise ValueError(f"blob {blob['name']} incomplete")
      files[prefix + blob["name"]] = bytes(blob["data"])
    for d in directory.get("directories") or []:
      walk(d, f"{prefix}{d['name']}/")
  walk(body, "")
  if list(files) == ["archive.zip"]:
    with zipfile.ZipFile(io.BytesIO(files.pop("archive.zip"))) as z:
      files = {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
  return files


class Handler(http.server.BaseHTTPRequestHandler):
  protocol_version = "HTTP/1.1"
  state = None  # Set by `serve`.

  def log_message(self, *args):  # Quiet.
    pass

  def _answer(self, status, data=None, headers=None, body=None):
    payload = body if body is not None else json.dumps(data or {}).encode()
    self.send_response(status)
    self.send_header("Content-Length", str(len(payload)))
    if body is None:
      self.send_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
      self.send_header(k, v)
    self.end_headers()
    self.wfile.write(payload)

  def _authorized(self):
    auth = self.headers.get("Authorization", "")
    basic = base64.b64encode(f"{USERNAME}:{KEY}".encode()).decode()
    return auth in (f"Bearer {TOKEN}", f"Basic {basic}")

  def _error(self, status, message):
    self._answer(status, {"code": status, "message": message})

  # --- API calls ---------------------------------------------------------

  def do_POST(self):
    length = int(self.headers.get("Content-Length") or 0)
    body = json.loads(self.rfile.read(length) or b"{}")
    method = self.path.rsplit("/", 1)[-1]
    state = self.state
    with state.lock:
      state.requests.append((method, body))
      queue = state.faults.get(method)
      fault = queue.pop(0) if queue else None
    if not self._authorized():
      return self._error(401, "Unauthenticated")
    if fault and not fault["drop"]:
      return self._error(fault["status"], "injected failure")
    try:
      with state.lock:
        status, data, headers = getattr(self, "_" + method)(body)
    except KeyError as e:
      return self._error(400, f"bad request: {e}")
    if fault and fault["drop"]:
      self.close_connection = True
      self.connection.shutdown(2)
      return None
    if method.startswith("Create") and not data.get("error") and (
        state.after_create):
      state.after_create(method, body)
    return self._answer(status, data, headers)

  def _variation(self, body):
    framework = body.get("framework") or body["body"]["framework"]
    slug = body.get("instanceSlug") or body["body"]["instanceSlug"]
    return (f"{body['ownerSlug']}/{body['modelSlug']}/"
            f"{FRAMEWORKS.get(framework, framework)}/{slug}")

  def _GetModel(self, body):
    handle = f"{body['ownerSlug']}/{body['modelSlug']}"
    model = self.state.models.get(handle)
    if model is None:
      return 404, {"code": 404, "message": f"model {handle} not found"}, None
    return 200, dict(model, ref=handle, slug=body["modelSlug"]), None

  def _CreateModel(self, body):
    handle = f"{body['ownerSlug']}/{body['slug']}"
    if handle in self.state.models:
      return 200, {"error": f"model {handle} exists", "errorCode": 409}, None
    self.state.models[handle] = {k: v for k, v in body.items()}
    return 200, {"ref": handle, "url": f"/models/{handle}"}, None

  def _GetModelInstance(self, body):
    handle = self._variation(body)
    instance = self.state.instances.get(handle)
    if instance is None:
      return 404, {"code": 404, "message": f"{handle} not found"}, None
    fields = {k: v for k, v in instance.items() if k != "versions"}
    return 200, dict(fields, versionNumber=len(instance["versions"])), None

  def _CreateModelInstance(self, body):
    handle = self._variation(body)
    if handle in self.state.instances:
      return 200, {"error": f"{handle} exists", "errorCode": 409}, None
    if f"{body['ownerSlug']}/{body['modelSlug']}" not in self.state.models:
      return 200, {"error": "no such model", "errorCode": 404}, None
    fields = dict(body["body"])
    files = _files_of(self.state, fields)
    fields.pop("files", None)
    fields.pop("directories", None)
    fields["framework"] = FRAMEWORKS.get(fields["framework"],
                                         fields["framework"])
    fields["slug"] = fields.pop("instanceSlug")
    fields["versions"] = [{"number": 1, "files": files, "notes": ""}]
    self.state.instances[handle] = fields
    return 200, {"ref": handle + "/1", "url": f"/models/{handle}/1"}, None

  def _CreateModelInstanceVersion(self, body):
    handle = self._variation(body)
    instance = self.state.instances.get(handle)
    if instance is None:
      return 200, {"error": f"{handle} not found", "errorCode": 404}, None
    number = len(instance["versions"]) + 1
    instance["versions"].append({
        "number": number, "files": _files_of(self.state, body["body"]),
        "notes": body["body"].get("versionNotes", "")})
    return 200, {"ref": f"{handle}/{number}",
                 "url": f"/models/{handle}/{number}"}, None

  def _version_files(self, body):
    versions = self.state.versions(self._variation(body))
    number = int(body["versionNumber"])
    if not 1 <= number <= len(versions):
      raise KeyError("versionNumber")
    return versions[number - 1]["files"]

  def _ListModelInstanceVersionFiles(self, body):
    files = self._version_files(body)
    return 200, {"files": [{"name": n, "size": len(d)}
                           for n, d in sorted(files.items())],
                 "nextPageToken": ""}, None

  def _DownloadModelInstanceVersion(self, body):
    files = self._version_files(body)
    if body.get("path"):
      data = files[body["path"]]
    else:
      buffer = io.BytesIO()
      with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in sorted(files.items()):
          info = tarfile.TarInfo(name)
          info.size = len(content)
          tar.addfile(info, io.BytesIO(content))
      data = buffer.getvalue()
    key = hashlib.sha256(data).hexdigest()
    self.state.downloads[key] = data
    return 302, {}, {"Location": f"http://localhost:{PORT}/download/{key}"}

  def _StartBlobUpload(self, body):
    token = hashlib.sha256(
        f"{len(self.state.blobs)}:{body['name']}".encode()).hexdigest()[:24]
    self.state.blobs[token] = {"name": body["name"],
                               "size": int(body.get("contentLength", 0)),
                               "data": bytearray()}
    return 200, {"token": token,
                 "createUrl": f"http://localhost:{PORT}/upload/{token}"}, None

  # --- Blob uploads and downloads ----------------------------------------

  def do_PUT(self):
    token = self.path.rsplit("/", 1)[-1]
    blob = self.state.blobs.get(token)
    if blob is None:
      return self._error(404, "no such upload")
    length = int(self.headers.get("Content-Length") or 0)
    content_range = self.headers.get("Content-Range", "")
    if content_range.startswith("bytes */"):  # How much arrived?
      self.rfile.read(length)
      return self._progress(blob)
    start = int(content_range[6:].split("-")[0]) if content_range else 0
    drop = self.state.upload_drop
    if drop is not None and length > drop:
      self.state.upload_drop = None
      data = self.rfile.read(drop)
      with self.state.lock:
        del blob["data"][start:]
        blob["data"].extend(data)
      self.close_connection = True
      self.connection.shutdown(2)
      return None
    data = self.rfile.read(length)
    with self.state.lock:
      del blob["data"][start:]
      blob["data"].extend(data)
    return self._progress(blob)

  def _progress(self, blob):
    if len(blob["data"]) >= blob["size"]:
      return self._answer(200, {"name": blob["name"]})
    headers = ({"Range": f"bytes=0-{len(blob['data']) - 1}"}
               if blob["data"] else {})
    return self._answer(308, {}, headers)

  def do_GET(self):
    key = urllib.parse.urlparse(self.path).path.rsplit("/", 1)[-1]
    data = self.state.downloads.get(key)
    if data is None:
      return self._error(404, "no such download")
    return self._answer(200, body=data, headers={
        "x-goog-hash": _md5_header(data),
        "Content-Type": "application/octet-stream"})

  def do_HEAD(self):
    self._answer(200, {})


class StandIn:
  """The stand-in served on localhost:PORT from a thread."""

  def __init__(self):
    self.handler = type("BoundHandler", (Handler,), {})
    self.use(State())
    self.server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT),
                                                  self.handler)
    self.server.daemon_threads = True
    self.thread = threading.Thread(target=self.server.serve_forever,
                                   daemon=True)

  def __enter__(self):
    self.thread.start()
    return self

  def use(self, state):
    """Serves `state` from now on (a fresh one: `use(State())`)."""
    self.state = self.handler.state = state
    return state

  def __exit__(self, *exc):
    self.server.shutdown()
    self.server.server_close()

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
  rely on it), or 403 (`missing_status`: Kaggle may answer 403 for what is
  not there, Kaggle/kaggle-cli#548, and create_model_if_missing reads 404
  and 403 alike), 401 for refused credentials.
* Errors of creates come with HTTP 200 and `{"error", "errorCode"}`
  (kagglehub.exceptions.handle_mutate_call); 409 for an existing variation
  (models_helpers.create_model_instance_or_version). A create the caller
  may not make (an owner not in `writable_owners`) answers HTTP 403
  "Permission '...' was denied", as the kaggle CLI shows Kaggle's refusals
  (Kaggle/kaggle-cli#642, #555).
* A new version shows (GetModelInstance's `versionNumber`, its files) only
  `processing_seconds` after its create, in order; a new variation not at
  all until then ("Files are being processed...", kagglehub's models_helpers;
  Kaggle/kagglehub#103 "the archive does eventually decompress").
* DiagnosticsService/Hello -> {userName}: kagglehub's `whoami`
  (auth._validate_credentials_helper).
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
after doing the call (a lost reply); `fail(method, status, done=True)` does
the call, then answers the error; `drop_upload_after(n)` closes the next
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
import time
import urllib.parse
import zipfile

PORT = 7777
TOKEN = "stand-in-api-token-never-printed"
USERNAME, KEY = "stand-in-user", "stand-in-key-never-printed"
FRAMEWORKS = {"MODEL_FRAMEWORK_TENSOR_FLOW_1": "tensorFlow1",
              "MODEL_FRAMEWORK_TENSOR_FLOW_2": "tensorFlow2",
              "MODEL_FRAMEWORK_TF_LITE": "tfLite",
              "MODEL_FRAMEWORK_TF_JS": "tfJs",
              "MODEL_FRAMEWORK_ONNX": "onnx"}


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
    # Modes of the real service (see the module docstring).
    self.missing_status = 404       # Or 403.
    self.processing_seconds = 0.0   # Until a new version shows.
    self.writable_owners = None     # Owners the caller may create under.

  def fail(self, method, status=500, drop=False, times=1, done=False):
    with self.lock:
      self.faults.setdefault(method, []).extend(
          [{"status": status, "drop": drop, "done": done}] * times)

  def drop_upload_after(self, nbytes):
    self.upload_drop = nbytes

  def on_create(self, fn):
    self.after_create = fn

  def calls(self, method):
    return [body for m, body in self.requests if m == method]

  def versions(self, variation_handle):
    """[{number, files: {name: bytes}, notes}] of a variation, shown or
    still processing."""
    instance = self.instances.get(variation_handle)
    return instance["versions"] if instance else []

  def shown(self, instance):
    """How many of an instance's versions show (processed, in order)."""
    now = time.monotonic()
    count = 0
    for version in instance["versions"]:
      if version["shows_at"] > now:
        break
      count += 1
    return count

  def new_version(self, files, notes=""):
    return {"files": files, "notes": notes,
            "shows_at": time.monotonic() + self.processing_seconds}

  def add_foreign_version(self, variation_handle, files):
    """A version someone else published (not through the tool)."""
    owner, model, framework, slug = variation_handle.split("/")
    with self.lock:
      instance = self.instances.setdefault(variation_handle, {
          "slug": slug, "framework": framework, "versions": []})
      instance["versions"].append({"number": len(instance["versions"]) + 1,
                                   "files": dict(files), "notes": "",
                                   "shows_at": 0.0})

  def add_foreign_model(self, handle):
    """A model someone else made (visible to the caller)."""
    with self.lock:
      self.models[handle] = {"title": handle, "isPrivate": False}


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
    if fault and not (fault["drop"] or fault["done"]):
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
    if fault:  # Done, then an error all the same.
      return self._error(fault["status"], "injected failure after doing it")
    if method.startswith("Create") and not data.get("error") and (
        state.after_create):
      state.after_create(method, body)
    return self._answer(status, data, headers)

  def _variation(self, body):
    framework = body.get("framework") or body["body"]["framework"]
    slug = body.get("instanceSlug") or body["body"]["instanceSlug"]
    return (f"{body['ownerSlug']}/{body['modelSlug']}/"
            f"{FRAMEWORKS.get(framework, framework)}/{slug}")

  def _missing(self, what):
    status = self.state.missing_status
    return status, {"code": status, "message": f"{what} not found"}, None

  def _refused(self, owner):
    """None, or the answer to a create under `owner` if refused."""
    writable = self.state.writable_owners
    if writable is None or owner in writable:
      return None
    return 403, {"code": 403,
                 "message": "Permission 'models.create' was denied"}, None

  def _Hello(self, body):
    del body
    return 200, {"userName": USERNAME}, None

  def _GetModel(self, body):
    handle = f"{body['ownerSlug']}/{body['modelSlug']}"
    model = self.state.models.get(handle)
    if model is None:
      return self._missing(f"model {handle}")
    return 200, dict(model, ref=handle, slug=body["modelSlug"]), None

  def _CreateModel(self, body):
    handle = f"{body['ownerSlug']}/{body['slug']}"
    refused = self._refused(body["ownerSlug"])
    if refused:
      return refused
    if handle in self.state.models:
      return 200, {"error": f"model {handle} exists", "errorCode": 409}, None
    self.state.models[handle] = {k: v for k, v in body.items()}
    return 200, {"ref": handle, "url": f"/models/{handle}"}, None

  def _GetModelInstance(self, body):
    handle = self._variation(body)
    instance = self.state.instances.get(handle)
    shown = self.state.shown(instance) if instance else 0
    if not shown:  # Not there, or its version 1 still processing.
      return self._missing(handle)
    fields = {k: v for k, v in instance.items() if k != "versions"}
    return 200, dict(fields, versionNumber=shown), None

  def _CreateModelInstance(self, body):
    handle = self._variation(body)
    refused = self._refused(body["ownerSlug"])
    if refused:
      return refused
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
    fields["versions"] = [dict(self.state.new_version(files), number=1)]
    self.state.instances[handle] = fields
    return 200, {"ref": handle + "/1", "url": f"/models/{handle}/1"}, None

  def _CreateModelInstanceVersion(self, body):
    handle = self._variation(body)
    refused = self._refused(body["ownerSlug"])
    if refused:
      return refused
    instance = self.state.instances.get(handle)
    if instance is None:
      return 200, {"error": f"{handle} not found", "errorCode": 404}, None
    number = len(instance["versions"]) + 1  # Kaggle numbers it, shown or not.
    instance["versions"].append(dict(self.state.new_version(
        _files_of(self.state, body["body"]),
        body["body"].get("versionNotes", "")), number=number))
    return 200, {"ref": f"{handle}/{number}",
                 "url": f"/models/{handle}/{number}"}, None

  def _version_files(self, body):
    """The files of a version that shows, else None."""
    instance = self.state.instances.get(self._variation(body))
    number = int(body["versionNumber"])
    if not instance or not 1 <= number <= self.state.shown(instance):
      return None
    return instance["versions"][number - 1]["files"]

  def _ListModelInstanceVersionFiles(self, body):
    files = self._version_files(body)
    if files is None:
      return self._missing(f"{self._variation(body)} version")
    return 200, {"files": [{"name": n, "size": len(d)}
                           for n, d in sorted(files.items())],
                 "nextPageToken": ""}, None

  def _DownloadModelInstanceVersion(self, body):
    files = self._version_files(body)
    if files is None:
      return self._missing(f"{self._variation(body)} version")
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

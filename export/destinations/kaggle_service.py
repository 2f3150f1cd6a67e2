"""Kaggle Models' API, one small function per call, through the official
client: `kagglehub` for credentials and the file uploads (its resumable
blob uploads, and one `archive.zip` for more than 50 files), the `kagglesdk`
it is built on for the calls kagglehub has none for (a model and a variation
with their metadata, a version with its notes).

What Kaggle answers (evidence: tests/testdata/kaggle_layout/README.md,
"What the service answers"):

* A read of a model or variation that is not there answers 404, or 403:
  "403 can in some cases also mean 'not found'" (Kaggle/kaggle-cli#548), and
  kagglehub's `create_model_if_missing` creates the model on either. Reads
  here do the same: "not there (or not visible to you)".
* A create the credentials may not make answers 403 ("403 - Forbidden -
  Permission '...' was denied", as the kaggle CLI prints it):
  RefusedError, naming the credentials' user (`whoami`, kagglehub's).
* A create of what exists answers 409 in its body (ExistsError), which
  kagglehub's `create_model_instance_or_version` relies on.
* A new version shows only once Kaggle has processed its files ("Files are
  being processed...", kagglehub; Kaggle/kagglehub#103).

The real client retries only dropped upload connections and is not
idempotent (a create whose reply is lost made its version all the same):
`retrying` repeats a call after HTTP 5xx or a dropped connection, and for a
create asks the caller's `done` first whether it happened all the same
(kaggle_publish).

Nothing the client prints reaches the output: in its TEST environment
kagglesdk prints every request with its Authorization header (`_quiet`).
"""

import contextlib
import io
import logging
import os
import re
import shutil
import tempfile
import time

import requests

from export.publishing import package

RETRIES = 4
RETRY_WAIT_SECONDS = 2.0   # Doubles after each failure.
NOT_FOUND, UNAUTHORIZED, FORBIDDEN, CONFLICT = 404, 401, 403, 409
# What a read of something missing may answer: "not there (or not visible
# to you)", as kagglehub's create_model_if_missing reads both.
NOT_THERE = (NOT_FOUND, FORBIDDEN)


class ServiceError(RuntimeError):
  """A call failed for good (after its retries, or not transient)."""


class CredentialsError(ServiceError):
  """No credentials, or the service refused them."""


class TransientError(ServiceError):
  """HTTP 5xx or a dropped connection."""


class RefusedError(ServiceError):
  """Kaggle refused a create (HTTP 403): the credentials may not write
  there."""


class ExistsError(ServiceError):
  """A create of something that exists (409)."""


@contextlib.contextmanager
def _quiet():
  """Swallows what the client prints (requests with their credentials in
  kagglesdk's TEST environment; progress bars) and logs."""
  logger = logging.getLogger("kagglehub")
  level = logger.level
  logger.setLevel(logging.ERROR)
  try:
    with contextlib.redirect_stdout(io.StringIO()), \
        contextlib.redirect_stderr(io.StringIO()):
      yield
  finally:
    logger.setLevel(level)


def check_credentials():
  """Raises CredentialsError unless kagglehub finds credentials
  (KAGGLE_API_TOKEN, KAGGLE_USERNAME and KAGGLE_KEY, or kaggle.json)."""
  from kagglehub import config  # pylint: disable=g-import-not-at-top
  try:
    found = config.get_kaggle_credentials()
  except ValueError as e:  # A kaggle.json without its keys.
    raise CredentialsError(str(e)) from None
  if not found:
    raise CredentialsError(
        "no Kaggle credentials: set KAGGLE_API_TOKEN, or KAGGLE_USERNAME and "
        "KAGGLE_KEY, or write kaggle.json (in $KAGGLE_CONFIG_DIR or "
        "~/.kaggle); see https://www.kaggle.com/settings")


def _status(error):
  response = getattr(error, "response", None)
  return getattr(response, "status_code", None)


def _classify(error, what):
  """The ServiceError of a client exception."""
  status = _status(error)
  if status == UNAUTHORIZED:
    return CredentialsError(f"{what}: Kaggle refused the credentials "
                            f"(HTTP {status})")
  if status == FORBIDDEN:
    return RefusedError(f"{what}: Kaggle refused it (HTTP {status})")
  if (status is not None and status >= 500) or isinstance(
      error, (requests.ConnectionError, requests.Timeout)):
    detail = f"HTTP {status}" if status else type(error).__name__
    return TransientError(f"{what}: {detail}")
  from kagglehub import exceptions  # pylint: disable=g-import-not-at-top
  if isinstance(error, exceptions.BackendError) and (
      "status code 5" in str(error)):  # An upload's HTTP 5xx.
    return TransientError(f"{what}: {error}")
  return ServiceError(f"{what}: {type(error).__name__}: {error}")


def _call(what, fn):
  """Runs fn() quietly, mapping client exceptions to ServiceError."""
  try:
    with _quiet():
      return fn()
  except ServiceError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    raise _classify(e, what) from None


def retrying(what, fn, retries=RETRIES, wait=RETRY_WAIT_SECONDS,
             sleep=time.sleep, done=None):
  """fn() with up to `retries` more tries after a TransientError, waiting
  `wait` seconds, doubled each time. For a call that may have taken effect
  although it failed (a create whose reply was lost), `done()` is asked
  before each repeat: if it says the call was done, nothing is repeated
  (and None returned)."""
  for attempt in range(retries + 1):
    try:
      return fn()
    except TransientError as e:
      if done is not None and done():
        return None
      if attempt == retries:
        raise TransientError(f"{e} (gave up after {retries + 1} tries)"
                             ) from None
      sleep(wait * 2 ** attempt)


def whoami():
  """The user name of the credentials (kagglehub's `whoami`: the API's
  Hello), or None if it cannot be had."""
  import kagglehub  # pylint: disable=g-import-not-at-top
  try:
    with _quiet():
      return kagglehub.whoami(verbose=False)["username"]
  except Exception:  # pylint: disable=broad-except
    return None


def _client():
  from kagglehub import clients  # pylint: disable=g-import-not-at-top
  return clients.build_kaggle_client()


def _framework(variation):
  from kagglehub import handle  # pylint: disable=g-import-not-at-top
  return handle.parse_model_handle(variation.handle).framework_enum()


def _create(what, method, request):
  """Sends create call `method` of the models client quietly, and checks
  its answer (a create's errors come with HTTP 200, in the body)."""

  def create():
    with _client() as client:
      data = getattr(client.models.model_api_client, method)(
          request).to_dict()
    if data.get("error"):
      code = data.get("errorCode")
      error = {CONFLICT: ExistsError, FORBIDDEN: RefusedError}.get(
          code, ServiceError)
      raise error(f"{what}: Kaggle answered: {data['error']}"
                  + (f" ({code})" if code else ""))
    return data
  return _call(what, create)


# --- Reads ----------------------------------------------------------------------

def get_model(owner, slug):
  """The model's fields (dict), or None if there is none (or it is not
  visible to these credentials: NOT_THERE)."""
  from kagglesdk.models.types import model_api_service as api  # pylint: disable=g-import-not-at-top
  request = api.ApiGetModelRequest()
  request.owner_slug, request.model_slug = owner, slug

  def read():
    with _client() as client:
      try:
        return client.models.model_api_client.get_model(request).to_dict()
      except requests.HTTPError as e:
        if _status(e) in NOT_THERE:
          return None
        raise
  return _call(f"GetModel {owner}/{slug}", read)


def latest_version(variation):
  """The variation's latest version number Kaggle shows (processed); 0 if
  it has none, or is not there (or not visible: NOT_THERE)."""
  from kagglesdk.models.types import model_api_service as api  # pylint: disable=g-import-not-at-top
  request = api.ApiGetModelInstanceRequest()
  request.owner_slug, request.model_slug = variation.owner, variation.model
  request.framework = _framework(variation)
  request.instance_slug = variation.slug

  def read():
    with _client() as client:
      try:
        return client.models.model_api_client.get_model_instance(
            request).version_number
      except requests.HTTPError as e:
        if _status(e) in NOT_THERE:
          return 0
        raise
  return _call(f"GetModelInstance {variation.handle}", read)


# --- Uploads and creates --------------------------------------------------------

def upload(handle, files):
  """Uploads VersionFiles `files` (named as on Kaggle) with kagglehub's
  uploader; returns its UploadDirectoryInfo (the blob tokens)."""
  from kagglehub import gcs_upload  # pylint: disable=g-import-not-at-top
  from kagglesdk.blobs.types.blob_api_service import ApiBlobType  # pylint: disable=g-import-not-at-top
  folder = tempfile.mkdtemp(prefix="kaggle-upload-")
  try:
    for name, path, _, _ in files.files:
      package.link_or_copy(path, os.path.join(folder, name))
    return _call(f"uploading the files of {handle}",
                 lambda: gcs_upload.upload_files_and_directories(
                     folder, ignore_patterns=[], item_type=ApiBlobType.MODEL,
                     quiet=True))
  finally:
    shutil.rmtree(folder, ignore_errors=True)


def create_model(model):
  """Creates `model` (kaggle_plan.Model) with its metadata."""
  import datetime  # pylint: disable=g-import-not-at-top
  from kagglesdk.models.types import model_api_service as api  # pylint: disable=g-import-not-at-top
  request = api.ApiCreateModelRequest()
  request.owner_slug, request.slug = model.owner, model.slug
  request.title, request.subtitle = model.title, model.subtitle
  request.is_private = model.is_private
  request.description = model.description
  if model.publish_time:
    request.publish_time = datetime.datetime.strptime(model.publish_time,
                                                      "%Y-%m-%d")
  request.provenance_sources = model.provenance_sources
  return _create(f"CreateModel {model.handle}", "create_model", request)


def create_variation(variation, tokens):
  """Creates `variation` (kaggle_plan.Variation) with its metadata and its
  version 1 of the uploaded files `tokens`."""
  from kagglesdk.models.types import model_api_service as api  # pylint: disable=g-import-not-at-top
  from kagglesdk.models.types import model_enums  # pylint: disable=g-import-not-at-top
  proto = tokens.to_proto()
  body = api.ApiCreateModelInstanceRequestBody()
  body.instance_slug = variation.slug
  body.framework = _framework(variation)
  body.overview, body.usage = variation.overview, variation.usage
  body.fine_tunable = variation.fine_tunable
  body.training_data = list(variation.training_data)
  body.license_name = variation.license_name
  # "BaseModel" -> MODEL_INSTANCE_TYPE_BASE_MODEL, as the kaggle CLI reads
  # its metadata files' modelInstanceType.
  body.model_instance_type = model_enums.ModelInstanceType[
      "MODEL_INSTANCE_TYPE_" +
      re.sub(r"(?<!^)(?=[A-Z])", "_", variation.instance_type).upper()]
  body.files, body.directories = proto.files, proto.directories
  request = api.ApiCreateModelInstanceRequest()
  request.owner_slug, request.model_slug = variation.owner, variation.model
  request.body = body
  return _create(f"CreateModelInstance {variation.handle}",
                 "create_model_instance", request)


def create_version(variation, notes, tokens):
  """Creates the next version of `variation` from the uploaded `tokens`."""
  from kagglesdk.models.types import model_api_service as api  # pylint: disable=g-import-not-at-top
  proto = tokens.to_proto()
  body = api.ApiCreateModelInstanceVersionRequestBody()
  body.version_notes = notes
  body.files, body.directories = proto.files, proto.directories
  request = api.ApiCreateModelInstanceVersionRequest()
  request.owner_slug, request.model_slug = variation.owner, variation.model
  request.framework = _framework(variation)
  request.instance_slug = variation.slug
  request.body = body
  return _create(f"CreateModelInstanceVersion {variation.handle}",
                 "create_model_instance_version", request)

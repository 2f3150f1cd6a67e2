"""`python -m export.kaggle` against a loopback stand-in of Kaggle's API
(tests/kaggle_stand_in.py), driven by the real kagglehub/kagglesdk client.

The expected handles below are written from the public evidence of how
Google's MobileNets are laid out on Kaggle (tests/testdata/kaggle_layout:
models, framework spellings, variation slugs, tfhub.dev versions renumbered
per framework), not from the exporter's own rules, and checked against
every record of the evidence file that names one of them.

The stand-in also answers as the real service may (tests/testdata/
kaggle_layout/README.md, "What the service answers"): 403 for what is not
there, versions shown only once processed, owners the credentials may not
publish under.
"""

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests import kaggle_stand_in
from tests import test_kaggle_layout as layout_evidence
from tests.conftest import REPO, export, images
from tests.test_custom_models import write_config

pytestmark = pytest.mark.slow

CONFIGS = ("v1_050_160", "v1_025_128_quant", "v2_100_224")
G1, G2 = "google/mobilenet-v1", "google/mobilenet-v2"
T1, T2 = "tensorflow/mobilenet-v1", "tensorflow/mobilenet-v2"


def _expected():
  """{tfhub.dev handle: Kaggle handle} of the three configs' modules."""
  want = {}
  for kind, slug in (("classification", "classification"),
                     ("feature_vector", "feature-vector")):
    v1 = f"google/imagenet/mobilenet_v1_050_160/{kind}"
    want.update({f"{v1}/1": f"{G1}/tensorFlow1/050-160-{slug}/1",
                 f"{v1}/3": f"{G1}/tensorFlow1/050-160-{slug}/2",
                 f"{v1}/4": f"{G1}/tensorFlow2/050-160-{slug}/1",
                 f"{v1}/5": f"{G1}/tensorFlow2/050-160-{slug}/2"})
    js = f"google/tfjs-model/imagenet/mobilenet_v1_050_160/{kind}"
    want.update({f"{js}/1/default/1": f"{G1}/tfJs/050-160-{slug}/1",
                 f"{js}/3/default/1": f"{G1}/tfJs/050-160-{slug}/2"})
    q = f"google/imagenet/mobilenet_v1_025_128/quantops/{kind}"
    want.update({f"{q}/1": f"{G1}/tensorFlow1/025-128-quantops-{slug}/1",
                 f"{q}/3": f"{G1}/tensorFlow1/025-128-quantops-{slug}/2"})
    v2 = f"google/imagenet/mobilenet_v2_100_224/{kind}"
    js2 = f"google/tfjs-model/imagenet/mobilenet_v2_100_224/{kind}"
    for n in (1, 2, 3):
      want[f"{v2}/{n}"] = f"{G2}/tensorFlow1/100-224-{slug}/{n}"
      want[f"{js2}/{n}/default/1"] = f"{G2}/tfJs/100-224-{slug}/{n}"
    want.update({f"{v2}/4": f"{G2}/tensorFlow2/100-224-{slug}/1",
                 f"{v2}/5": f"{G2}/tensorFlow2/100-224-{slug}/2"})
  lite = "tensorflow/lite-model"
  for name, model, slug in (("mobilenet_v1_0.50_160", T1, "0-50-160"),
                            ("mobilenet_v1_0.25_128_quantized", T1,
                             "0-25-128-quantized"),
                            ("mobilenet_v2_1.0_224", T2, "1-0-224")):
    want[f"{lite}/{name}/1/default/1"] = f"{model}/tfLite/{slug}/1"
    want[f"{lite}/{name}/1/metadata/1"] = f"{model}/tfLite/{slug}-metadata/1"
  # ONNX models: framework `onnx` (E25); Google published none, so their
  # variations are issue 30's choice: the TF2 module's slug, the quantized
  # Lite file's (its kind after it for the feature vector), version 1.
  for kind, slug in (("classification", "classification"),
                     ("feature_vector", "feature-vector")):
    for name, model, size in (("mobilenet_v1_050_160", G1, "050-160"),
                              ("mobilenet_v2_100_224", G2, "100-224")):
      want[f"google/onnx-model/imagenet/{name}/{kind}/5/default/1"] = (
          f"{model}/onnx/{size}-{slug}/1")
    want[f"tensorflow/onnx-model/mobilenet_v1_0.25_128_quantized/1/{kind}/"
         "1"] = (f"{T1}/onnx/0-25-128-quantized"
                 f"{'' if kind == 'classification' else '-' + slug}/1")
  return want


EXPECTED = _expected()
# Variations of CONFIGS the tests of the service's ways publish alone.
V1_TF2 = f"{G1}/tensorFlow2/050-160-classification"   # Versions 1, 2.
V1_TF1 = f"{G1}/tensorFlow1/050-160-feature-vector"    # Versions 1, 2.
V1_LITE = f"{T1}/tfLite/0-50-160"                      # Version 1.
V1_TF2_1 = "google/imagenet/mobilenet_v1_050_160/classification/4"
V1_LITE_1 = "tensorflow/lite-model/mobilenet_v1_0.50_160/1/default/1"


def test_expected_handles_agree_with_the_evidence():
  comparable, _ = layout_evidence.usable_evidence()
  named = [(r, m) for r, m in comparable if m in EXPECTED]
  assert len(named) >= 8, named
  for record, module in named:
    said = (f"{record['owner']}/{record['model']}/{record['framework']}/"
            f"{record['variation']}")
    want = EXPECTED[module]
    if record["version"] is None:
      want = want.rsplit("/", 1)[0]
    else:
      said += f"/{record['version']}"
    assert said.lower() == want.lower(), (record["kaggle"], want)


@pytest.fixture(scope="session")
def kaggle_exports(tmp_path_factory, cache_dir):
  """One output directory with every module of CONFIGS (synthetic)."""
  from export.core import config
  out = str(tmp_path_factory.mktemp("kaggle_exports"))
  for name in CONFIGS:
    export(config.load(name), out, cache_dir)
  return out


@pytest.fixture(scope="session")
def stand_in():
  with kaggle_stand_in.StandIn() as server:
    yield server


@pytest.fixture
def service(stand_in):
  """A fresh, empty service for one test."""
  return stand_in.use(kaggle_stand_in.State())


def _copy(out, dest):
  """A copy of output directory `out` (files hard-linked; its own
  manifest, whose Kaggle records the test's runs write)."""
  shutil.copytree(out, dest, copy_function=os.link)
  os.remove(os.path.join(dest, "manifest.json"))
  shutil.copyfile(os.path.join(out, "manifest.json"),
                  os.path.join(dest, "manifest.json"))
  return str(dest)


def _env(tmp_path, **extra):
  env = {k: v for k, v in os.environ.items()
         if not k.startswith(("KAGGLE_", "KAGGLEHUB_"))}
  env.update(KAGGLE_API_ENVIRONMENT="TEST",
             KAGGLE_CONFIG_DIR=str(tmp_path / "no_kaggle_config"),
             HOME=str(tmp_path / "home"), PYTHONPATH=REPO)
  env.update(extra)
  return env


def publish(out, tmp_path, *args, credentials=True, wait=True,
            configs=CONFIGS, **env):
  """Runs export.kaggle on `out`; returns the CompletedProcess (or the
  Popen, with wait=False). Kaggle's processing is waited for 30 s at most."""
  if credentials:
    env.setdefault("KAGGLE_API_TOKEN", kaggle_stand_in.TOKEN)
  command = [sys.executable, "-m", "export.kaggle", f"--output_dir={out}",
             f"--configs={','.join(configs)}", "--retry_wait=0.01",
             "--processing_wait=30", *args]
  if not wait:
    return subprocess.Popen(command, cwd=REPO, env=_env(tmp_path, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
  return subprocess.run(command, cwd=REPO, env=_env(tmp_path, **env),
                        capture_output=True, text=True, timeout=600)


def _files(directory):
  found = {}
  for d, _, names in os.walk(directory):
    for n in names:
      path = os.path.join(d, n)
      with open(path, "rb") as f:
        found[os.path.relpath(path, directory)] = f.read()
  return found


def _published(state):
  """{Kaggle version handle: version dict} on the service."""
  return {f"{handle}/{v['number']}": v
          for handle, instance in state.instances.items()
          for v in instance["versions"]}


def _check_complete(state, out):
  """Every expected version is there once, with the export's bytes."""
  on_service = _published(state)
  assert sorted(on_service) == sorted(EXPECTED.values())
  for module, kaggle_handle in EXPECTED.items():
    files = on_service[kaggle_handle]["files"]
    local = _files(os.path.join(out, module))
    if "lite-model" in module:
      # Kaggle names a migrated Lite version's file `1.tflite` (E19).
      assert files == {"1.tflite": local["model.tflite"]}, kaggle_handle
    else:
      assert files == local, kaggle_handle


@pytest.fixture(scope="module")
def published(kaggle_exports, stand_in, tmp_path_factory):
  """The three configs published once to a fresh service:
  (output directory, service state, CompletedProcess)."""
  tmp = tmp_path_factory.mktemp("kaggle_published")
  out = _copy(kaggle_exports, tmp / "out")
  state = stand_in.use(kaggle_stand_in.State())
  result = publish(out, tmp)
  return out, state, result


def test_publishes_the_family_layout_with_the_exports_bytes(published):
  out, state, result = published
  assert result.returncode == 0, result.stderr
  assert sorted(state.models) == [G1, G2, T1, T2]
  _check_complete(state, out)
  assert f"{len(EXPECTED)} versions created, 0 already there" in result.stdout
  # Versions of a variation were created in order: 1 with the variation,
  # then each next one.
  created = [(m, b) for m, b in state.requests if m.startswith("Create")]
  assert [m for m, _ in created].count("CreateModel") == 4
  assert ([m for m, _ in created].count("CreateModelInstance") ==
          len({h.rsplit("/", 1)[0] for h in EXPECTED.values()}))


def test_model_and_variation_metadata(published):
  _, state, _ = published
  v1 = state.models[G1]
  assert v1["title"] == "MobileNet V1" and v1["isPrivate"] is True
  assert v1["publishTime"].startswith("2017-04-17")
  assert "https://arxiv.org/abs/1704.04861" in v1["description"]
  assert "`050-160-classification`" in v1["description"]
  assert "mobilenet_v1_2018_02_22" in v1["provenanceSources"]
  float_tf2 = state.instances[f"{G1}/tensorFlow2/050-160-classification"]
  quantops = state.instances[f"{G1}/tensorFlow1/025-128-quantops-"
                             "feature-vector"]
  lite = state.instances[f"{T2}/tfLite/1-0-224-metadata"]
  for instance in (float_tf2, quantops, lite):
    assert instance["licenseName"] == "Apache 2.0"
    assert instance["trainingData"] == ["ImageNet (ILSVRC-2012-CLS)"]
    assert instance["modelInstanceType"] == "MODEL_INSTANCE_TYPE_BASE_MODEL"
    assert instance["overview"].strip() and instance["usage"].strip()
  assert float_tf2["fineTunable"] is True
  assert quantops["fineTunable"] is False
  # The card's handles and URLs, as Kaggle's: the usage loads the Kaggle URL
  # (tfhub.dev-era hub.KerasLayer fetches it as it fetched tfhub.dev's).
  kaggle_url = ("https://www.kaggle.com/models/google/mobilenet-v1/"
                "tensorFlow2/050-160-classification/1")
  assert f'hub.KerasLayer("{kaggle_url}")' in float_tf2["usage"]
  assert ("google/mobilenet-v1/tensorFlow2/050-160-feature-vector/1"
          in float_tf2["overview"])
  assert "tfhub.dev/google/imagenet/mobilenet_v1_050_160" not in (
      float_tf2["overview"] + float_tf2["usage"])
  tfjs = state.instances[f"{G2}/tfJs/100-224-classification"]
  assert ("https://www.kaggle.com/models/google/mobilenet-v2/tfJs/"
          "100-224-classification/1\", { fromTFHub: true }") in tfjs["usage"]
  # Version notes: the card's changelog entry of that tfhub.dev version.
  v3 = state.instances[f"{G2}/tensorFlow1/100-224-classification"][
      "versions"][2]
  assert v3["notes"].startswith(
      "google/imagenet/mobilenet_v2_100_224/classification/3 (tfhub.dev "
      "version 3)")
  assert "configurable" in v3["notes"]


def test_output_never_shows_credentials(published):
  _, _, result = published
  assert kaggle_stand_in.TOKEN not in result.stdout + result.stderr
  assert "Authorization" not in result.stdout + result.stderr


def test_rerun_uploads_and_creates_nothing(published, stand_in, tmp_path):
  out, state, _ = published
  stand_in.use(state)
  before = len(state.requests)
  result = publish(out, tmp_path)
  assert result.returncode == 0, result.stderr
  assert f"0 versions created, {len(EXPECTED)} already there" in result.stdout
  methods = {m for m, _ in state.requests[before:]}
  assert methods <= {"GetModelInstance", "GetModel"}, methods
  _check_complete(state, out)


def _download(handle, cache, monkeypatch):
  import kagglehub
  monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
  monkeypatch.setenv("KAGGLE_API_TOKEN", kaggle_stand_in.TOKEN)
  monkeypatch.setenv("KAGGLEHUB_CACHE", str(cache))
  with contextlib.redirect_stdout(io.StringIO()):  # kagglesdk's TEST logs.
    return kagglehub.model_download(handle)


def test_round_trip_through_kagglehub_and_hub_load(published, stand_in,
                                                   tmp_path, monkeypatch):
  import tensorflow as tf
  import tensorflow_hub as hub
  out, state, _ = published
  stand_in.use(state)
  batch = tf.constant(images(160, batch=2, seed=3))
  for module, kaggle_handle in (
      ("google/imagenet/mobilenet_v1_050_160/classification/5",
       f"{G1}/tensorFlow2/050-160-classification/2"),
      ("google/imagenet/mobilenet_v1_050_160/feature_vector/3",
       f"{G1}/tensorFlow1/050-160-feature-vector/2")):
    path = _download(kaggle_handle, tmp_path / "cache", monkeypatch)
    want = hub.load(os.path.join(out, module))
    got = hub.load(path)
    if "feature_vector/3" in module:  # TF1 Hub format: its signature.
      want = want.signatures["default"]
      got = got.signatures["default"]
      np.testing.assert_array_equal(got(batch)["default"],
                                    want(batch)["default"])
    else:
      np.testing.assert_array_equal(got(batch), want(batch))
  tfjs = f"{G2}/tfJs/100-224-feature-vector/3"
  path = _download(tfjs, tmp_path / "cache", monkeypatch)
  assert _files(path) == _files(os.path.join(
      out, "google/tfjs-model/imagenet/mobilenet_v2_100_224/feature_vector/"
      "3/default/1"))



def test_onnx_variations_round_trip_through_kagglehub(published, stand_in,
                                                       tmp_path, monkeypatch):
  """The ONNX variations hold the exported model and labels (and ONNX
  Runtime gives the export's outputs from the download); their usage loads
  them from Kaggle, under the handle they are published at."""
  import onnxruntime as ort
  out, state, _ = published
  stand_in.use(state)
  for module, kaggle_handle, size in (
      ("google/onnx-model/imagenet/mobilenet_v1_050_160/classification/5/"
       "default/1", f"{G1}/onnx/050-160-classification/1", 160),
      ("tensorflow/onnx-model/mobilenet_v1_0.25_128_quantized/1/"
       "feature_vector/1", f"{T1}/onnx/0-25-128-quantized-feature-vector/1",
       128)):
    path = _download(kaggle_handle, tmp_path / "cache", monkeypatch)
    local = _files(os.path.join(out, module))
    assert _files(path) == local and "model.onnx" in local, kaggle_handle
    batch = images(size, batch=2, seed=5)
    outputs = [ort.InferenceSession(
        os.path.join(d, "model.onnx"),
        providers=["CPUExecutionProvider"]).run(None, {"images": batch})
               for d in (path, os.path.join(out, module))]
    for got, want in zip(*outputs):
      np.testing.assert_array_equal(got, want)
    usage = state.instances[kaggle_handle.rsplit("/", 1)[0]]["usage"]
    assert f'kagglehub.model_download("{kaggle_handle}")' in usage, usage
    assert "onnxruntime" in usage


def test_killed_run_completes_on_rerun(kaggle_exports, service, tmp_path):
  out = _copy(kaggle_exports, tmp_path / "out")
  creates = []

  def kill_after_three(method, body):
    if method != "CreateModel":
      creates.append(method)
    if len(creates) == 3:  # Done on the service; the reply never arrives.
      os.kill(process.pid, signal.SIGKILL)

  service.on_create(kill_after_three)
  process = publish(out, tmp_path, wait=False)
  process.communicate(timeout=600)
  assert process.returncode == -signal.SIGKILL
  service.on_create(None)
  assert 0 < len(_published(service)) < len(EXPECTED)
  result = publish(out, tmp_path)
  assert result.returncode == 0, result.stderr
  assert "created by an earlier run (confirmed)" in result.stdout
  _check_complete(service, out)


def test_dropped_connections_and_server_errors_are_retried(
    kaggle_exports, service, tmp_path):
  out = _copy(kaggle_exports, tmp_path / "out")
  service.drop_upload_after(100_000)              # Mid-upload.
  service.fail("StartBlobUpload", status=503)
  service.fail("GetModelInstance", status=500)
  # Done, but the reply is lost: retrying blindly would add a version.
  service.fail("CreateModelInstanceVersion", drop=True)
  result = publish(out, tmp_path)
  assert result.returncode == 0, result.stderr
  _check_complete(service, out)


@pytest.mark.parametrize("drop", [False, True], ids=["http_500", "dropped"])
def test_persistent_failure_names_the_version_and_rerun_continues(
    kaggle_exports, service, tmp_path, drop):
  out = _copy(kaggle_exports, tmp_path / "out")
  service.fail("StartBlobUpload", status=500, drop=drop, times=100)
  result = publish(out, tmp_path, "--retries=2")
  assert result.returncode == 1
  cause = "ConnectionError" if drop else "HTTP 500"
  # The first version in the plan's order (by variation handle).
  assert ("uploading the files of google/mobilenet-v1/onnx/"
          f"050-160-classification/1: {cause} (gave up after 3 "
          "tries)") in result.stderr
  assert "rerun to continue" in result.stderr
  service.faults.clear()
  result = publish(out, tmp_path)
  assert result.returncode == 0, result.stderr
  _check_complete(service, out)


def test_someone_elses_version_stops_before_anything_is_created(
    kaggle_exports, service, tmp_path):
  out = _copy(kaggle_exports, tmp_path / "out")
  foreign = f"{G2}/tensorFlow2/100-224-feature-vector"
  service.add_foreign_version(foreign, {"saved_model.pb": b"theirs"})
  result = publish(out, tmp_path)
  assert result.returncode == 1
  assert f"{foreign}/1 is on Kaggle but" in result.stderr
  assert "nothing was created" in result.stderr
  assert not [m for m, _ in service.requests
              if m.startswith("Create") or m == "StartBlobUpload"]


def test_one_publishing_run_per_output_directory(kaggle_exports, service,
                                                 tmp_path):
  from export.destinations import kaggle_publish
  from export.publishing import manifest
  out = _copy(kaggle_exports, tmp_path / "out")
  locks = manifest.ModuleLocks(out)
  assert locks.acquire([kaggle_publish.PUBLISHING_LOCK])  # Another run.
  try:
    result = publish(out, tmp_path)
  finally:
    locks.release_all()
  assert result.returncode == 1
  assert "another export.kaggle run is publishing from" in result.stderr
  assert service.requests == []


@pytest.mark.parametrize("credentials", ["none", "refused", "empty_file"])
def test_missing_or_refused_credentials_exit_2_sending_nothing(
    kaggle_exports, service, tmp_path, credentials):
  out = _copy(kaggle_exports, tmp_path / "out")
  env = {}
  if credentials == "refused":
    env["KAGGLE_API_TOKEN"] = "not-the-token"
  elif credentials == "empty_file":
    config = tmp_path / "no_kaggle_config"
    config.mkdir()
    (config / "kaggle.json").write_text(json.dumps({"username": "x"}))
  result = publish(out, tmp_path, credentials=False, **env)
  assert result.returncode == 2, result.stdout + result.stderr
  assert result.stderr.count("error:") == 1
  assert "not-the-token" not in result.stdout + result.stderr
  sent = [m for m, _ in service.requests]
  if credentials == "refused":
    assert sent and all(m.startswith("Get") for m in sent), sent
    assert "refused the credentials" in result.stderr
  else:
    assert sent == []
  assert not service.models and not service.instances


def test_modules_missing_or_changed_are_refused(kaggle_exports, service,
                                                tmp_path):
  out = _copy(kaggle_exports, tmp_path / "out")
  variables = os.path.join(
      out, "google/imagenet/mobilenet_v1_050_160/classification/4/"
      "variables/variables.index")
  os.remove(variables)  # A hard link: write a changed copy instead.
  with open(variables, "wb") as f:
    f.write(b"changed")
  added = os.path.join(out, "google/tfjs-model/imagenet/mobilenet_v2_100_224/"
                       "feature_vector/2/default/1/extra.bin")
  with open(added, "wb") as f:
    f.write(b"not exported")
  result = publish(out, tmp_path)
  assert result.returncode == 1
  # Every problem, each naming its module and file, nothing sent.
  assert ("google/imagenet/mobilenet_v1_050_160/classification/4 (for "
          f"{G1}/tensorFlow2/050-160-classification/1): {variables}: "
          "differs from the manifest's archive; export the module again"
          ) in result.stderr
  assert ("google/tfjs-model/imagenet/mobilenet_v2_100_224/feature_vector/2/"
          "default/1 (for google/mobilenet-v2/tfJs/100-224-feature-vector/2): "
          f"{added}: not in the archive") in result.stderr
  assert not [m for m, _ in service.requests if m.startswith("Create")]
  # A config whose modules were never exported here.
  result = publish(out, tmp_path, "--configs=v1_025_160")
  assert result.returncode == 1
  assert "google/imagenet/mobilenet_v1_025_160/classification/1" in (
      result.stderr) and "not in" in result.stderr


def test_owner_mapping_publishes_under_the_given_slugs(kaggle_exports,
                                                       service, tmp_path):
  out = _copy(kaggle_exports, tmp_path / "out")
  result = publish(out, tmp_path, "--owner=google=my-team,tensorflow=me",
                   "--only=google/imagenet/mobilenet_v2_100_224/"
                   "classification/1",
                   "--only=me/mobilenet-v2/tfLite/1-0-224")
  assert result.returncode == 0, result.stderr
  assert sorted(_published(service)) == [
      "me/mobilenet-v2/tfLite/1-0-224/1",
      "my-team/mobilenet-v2/tensorFlow1/100-224-classification/1"]
  # --only a later version alone would leave a gap: refused.
  result = publish(out, tmp_path, "--owner=google=my-team",
                   "--only=google/imagenet/mobilenet_v2_100_224/"
                   "classification/3")
  assert result.returncode == 1
  assert "would be numbered 2" in result.stderr


# --- As the real service may answer ---------------------------------------


def _creates(state, since=0):
  return [m for m, _ in state.requests[since:]
          if m.startswith("Create") or m == "StartBlobUpload"]


def _check_versions(state, out, variations):
  """Each of `variations` holds exactly its expected versions, each with
  its module's bytes."""
  for variation in variations:
    want = sorted((k, m) for m, k in EXPECTED.items()
                  if k.rsplit("/", 1)[0] == variation)
    versions = state.versions(variation)
    assert [v["number"] for v in versions] == list(
        range(1, len(want) + 1)), (variation, len(versions))
    for (_, module), version in zip(want, versions):
      local = _files(os.path.join(out, module))
      if "lite-model" in module:
        local = {"1.tflite": local["model.tflite"]}
      assert version["files"] == local, module


def test_first_publish_when_kaggle_answers_403_for_what_is_missing(
    kaggle_exports, service, tmp_path):
  """Kaggle may answer 403 for a model or variation that is not there
  (Kaggle/kaggle-cli#548); kagglehub creates a model on 404 and 403 alike."""
  out = _copy(kaggle_exports, tmp_path / "out")
  service.missing_status = 403
  result = publish(out, tmp_path, f"--only={V1_TF2}", f"--only={V1_LITE}")
  assert result.returncode == 0, result.stderr
  assert sorted(service.models) == [G1, T1]
  _check_versions(service, out, [V1_TF2, V1_LITE])
  assert "3 versions created, 0 already there" in result.stdout
  before = len(service.requests)
  result = publish(out, tmp_path, f"--only={V1_TF2}", f"--only={V1_LITE}")
  assert result.returncode == 0, result.stderr
  assert "0 versions created, 3 already there" in result.stdout
  assert not _creates(service, before)


def test_lost_create_replies_while_kaggle_processes_add_no_version(
    kaggle_exports, service, tmp_path):
  """Versions show only after processing; creates whose replies are lost
  (dropped, or HTTP 503 after the create was done) are waited for, not
  repeated; a rerun while Kaggle still processes creates nothing."""
  out = _copy(kaggle_exports, tmp_path / "out")
  service.processing_seconds = 1.0
  service.fail("CreateModelInstance", drop=True)          # V1_TF1 1.
  service.fail("CreateModelInstanceVersion", drop=True)   # V1_TF1 2.
  service.fail("CreateModelInstanceVersion", status=503,  # V1_TF2 2.
               done=True)
  only = [V1_TF1, V1_TF2, V1_LITE]
  args = [f"--only={h}" for h in only]
  result = publish(out, tmp_path, *args)
  assert result.returncode == 0, result.stderr
  _check_versions(service, out, only)
  assert "5 versions created, 0 already there" in result.stdout
  # The last version created is still being processed: a rerun waits for
  # it, bounded; not shown within --processing_wait, nothing is created.
  lite = service.versions(V1_LITE)[0]
  lite["shows_at"] = time.monotonic() + 60
  before = len(service.requests)
  result = publish(out, tmp_path, *args, "--processing_wait=0.5")
  assert result.returncode == 1
  assert (f"{V1_LITE}/1: Kaggle confirmed creating it but does not show it "
          "after 0.5 s") in result.stderr
  lite["shows_at"] = time.monotonic() + 1.5
  result = publish(out, tmp_path, *args)
  assert result.returncode == 0, result.stderr
  assert "0 versions created, 5 already there" in result.stdout
  assert not _creates(service, before)
  _check_versions(service, out, only)


def test_an_owner_the_credentials_may_not_publish_under_is_refused(
    kaggle_exports, service, tmp_path):
  """One line naming the owner and the credentials' user (never the
  token); exit 2 while nothing was created, 1 after."""
  out = _copy(kaggle_exports, tmp_path / "out")
  service.missing_status = 403
  service.writable_owners = {kaggle_stand_in.USERNAME}
  user = kaggle_stand_in.USERNAME

  def refused(result, create, owner, done):
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(
        "error: "), result.stderr
    assert result.stderr.strip() == (
        f"error: {create}: Kaggle refused it (HTTP 403): the credentials' "
        f"user {user} may not publish under owner {owner}; {done}; publish "
        f"under an owner they may write to, e.g. --owner {user}")
    assert kaggle_stand_in.TOKEN not in result.stdout + result.stderr

  # A model that is not there (403 too): refused before anything is made.
  result = publish(out, tmp_path, f"--only={V1_TF2}")
  assert result.returncode == 2
  refused(result, f"CreateModel {G1}", "google", "nothing was created")
  # Their model, visible, takes no variation of these credentials.
  service.add_foreign_model(G1)
  result = publish(out, tmp_path, f"--only={V1_TF2}")
  assert result.returncode == 2
  refused(result, f"CreateModelInstance {V1_TF2}", "google",
          "nothing was created")
  assert not service.instances
  # Their own model made first, then refused: exit 1.
  result = publish(out, tmp_path, f"--owner=google={user}",
                   f"--only={V1_TF2_1}", f"--only={V1_LITE_1}")
  assert result.returncode == 1
  refused(result, f"CreateModel {T1}", "tensorflow",
          "this run created something before it")
  assert sorted(service.models) == [G1, f"{user}/mobilenet-v1"]


@pytest.fixture(scope="module")
def own_model(tmp_path_factory, cache_dir):
  """A model of one's own whose config names its Kaggle owner (V1 0.25/96,
  3 classes: its TF2 SavedModel and Lite file), exported synthetic:
  (config path, output directory)."""
  from export.core import config
  from export.sources import synthetic
  tmp = tmp_path_factory.mktemp("kaggle_own_model")
  path = write_config(
      str(tmp / "dials"),
      dict(name="dials", architecture="mobilenet_v1", multiplier=0.25,
           size=96, classes=3, publisher="dial-works", calibration=0,
           modules=("  - {kind: classification, format: saved_model_2}\n"
                    "  - {kind: classification, format: lite}\n")))
  with open(path, encoding="utf-8") as f:
    text = f.read()
  with open(path, "w", encoding="utf-8") as f:
    f.write(text.replace("  authors: The test suite\n",
                         "  authors: The test suite\n"
                         "  kaggle_owner: dial-works\n"))
  cfg = config.load(path)
  synthetic.write(cfg, os.path.join(os.path.dirname(path), "ckpt",
                                    "model.ckpt"))
  out = str(tmp / "out")
  export(cfg, out, cache_dir)
  return path, out


def test_owner_moves_a_model_of_ones_own(own_model, service, tmp_path):
  path, exported = own_model
  out = _copy(exported, tmp_path / "out")
  result = publish(out, tmp_path, "--owner=me", configs=[path])
  assert result.returncode == 0, result.stderr
  assert sorted(service.models) == ["me/dials-model"]
  assert sorted(_published(service)) == [
      "me/dials-model/tensorFlow2/025-96-classification/1",
      "me/dials-model/tfLite/0-25-96/1"]
  # Its texts point to where it is now, not to the config's owner.
  for instance in service.instances.values():
    texts = instance["overview"] + instance["usage"]
    assert "dial-works/dials-model" not in texts
  assert "me/dials-model/tensorFlow2/025-96-classification/1" in (
      service.instances["me/dials-model/tensorFlow2/025-96-classification"]
      ["usage"])


def test_the_family_under_one_owner_gets_one_card_of_all_it_holds(
    kaggle_exports, service, tmp_path):
  """`--owner me` folds google/mobilenet-v1 (TF1, TF2, TF.js) and
  tensorflow/mobilenet-v1 (Lite) into me/mobilenet-v1: its card describes
  both."""
  out = _copy(kaggle_exports, tmp_path / "out")
  result = publish(out, tmp_path, "--owner=me", f"--only={V1_TF2_1}",
                   f"--only={V1_LITE_1}")
  assert result.returncode == 0, result.stderr
  assert sorted(service.models) == ["me/mobilenet-v1"]
  assert sorted(_published(service)) == [
      "me/mobilenet-v1/tensorFlow2/050-160-classification/1",
      "me/mobilenet-v1/tfLite/0-50-160/1"]
  card = service.models["me/mobilenet-v1"]["description"]
  prose = " ".join(card.split())
  assert ("in the TF1 Hub format (`hub.Module`), as a TF2 SavedModel "
          "(`hub.KerasLayer`), as a TF.js graph model and as an ONNX model "
          "(ONNX Runtime; `model.onnx` with its label file).") in prose
  assert ("hold the MobileNet V1 image classifiers converted to TensorFlow "
          "Lite (float, and quantized to `uint8`") in prose
  assert "This model holds" not in prose  # What a Lite-only card says.
  assert ("the quantized variations (`-quantized`) hold the same "
          "classifiers as `uint8` QDQ ONNX models") in prose
  rows = [l for l in card.splitlines() if l.startswith("| `")]
  assert ("| `050-160-classification` | 0.5 | 160x160 | logits of 1001 "
          "classes | float | TF1 Hub format, TF2 SavedModel, TF.js, ONNX |"
          ) in rows
  assert ("| `0-50-160` | 0.5 | 160x160 | class probabilities | float | "
          "TensorFlow Lite |") in rows
  assert ("| `0-50-160-quantized` | 0.5 | 160x160 | class probabilities "
          "(Lite), logits (ONNX); uint8 | quantization-aware | TensorFlow "
          "Lite, ONNX |") in rows
  # Every V1 variation of both: 16 sizes x 2 kinds, float and quantops;
  # 16 Lite models, float and quantized, each with and without metadata;
  # the quantized ONNX feature vector models (the rest share a slug).
  assert len(rows) == 64 + 64 + 16


def test_the_stand_in_answers_kagglehubs_own_upload_flow(
    service, tmp_path, monkeypatch):
  """kagglehub.model_upload, unchanged, against the stand-in: it creates a
  missing model private and titled with its slug, a variation with the
  license (version 1, no notes), then on the second upload gets 409 and
  creates version 2 with its notes: what the real client was measured to
  do (issue 20)."""
  import kagglehub
  monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
  monkeypatch.setenv("KAGGLE_API_TOKEN", kaggle_stand_in.TOKEN)
  folder = tmp_path / "model"
  (folder / "variables").mkdir(parents=True)
  (folder / "saved_model.pb").write_bytes(b"graph")
  (folder / "variables" / "variables.index").write_bytes(b"index" * 1000)
  handle = "someone/my-model/tensorFlow2/default"
  with contextlib.redirect_stdout(io.StringIO()):
    kagglehub.model_upload(handle, str(folder), license_name="Apache 2.0")
    kagglehub.model_upload(handle, str(folder), license_name="Apache 2.0",
                           version_notes="second")
  assert service.models["someone/my-model"]["title"] == "my-model"
  assert service.models["someone/my-model"]["isPrivate"] is True
  assert [m for m, _ in service.requests if m.startswith("Create")] == [
      "CreateModel", "CreateModelInstance", "CreateModelInstance",
      "CreateModelInstanceVersion"]
  versions = service.versions(handle)
  assert [v["notes"] for v in versions] == ["", "second"]
  assert versions[1]["files"] == {
      "saved_model.pb": b"graph", "variables/variables.index": b"index" * 1000}
  assert service.instances[handle]["licenseName"] == "Apache 2.0"


def test_dry_run_lists_the_whole_family_without_sending(service, tmp_path):
  from export.core import config
  configs = config.load_all()
  want = sum(1 for c in configs for m in c.modules if m.served_url is None)
  command = [sys.executable, "-m", "export.kaggle",
             f"--output_dir={tmp_path}", "--dry_run"]
  result = subprocess.run(command, cwd=REPO, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert len(lines) == want + 1 and want > 600
  assert (f"{G1}/tensorFlow1/050-160-classification/2  version 2  <- "
          "google/imagenet/mobilenet_v1_050_160/classification/3: 0 files, "
          "0 bytes, not exported") in lines
  assert service.requests == []


def test_dry_run_after_publishing_says_already_there(published, tmp_path):
  out, _, _ = published
  result = subprocess.run(
      [sys.executable, "-m", "export.kaggle", f"--output_dir={out}",
       f"--configs={','.join(CONFIGS)}", "--dry_run"],
      cwd=REPO, env=_env(tmp_path), capture_output=True, text=True,
      timeout=120)
  assert result.returncode == 0, result.stderr
  line = next(l for l in result.stdout.splitlines()
              if l.startswith(f"{T2}/tfLite/1-0-224/1 "))
  size = os.path.getsize(os.path.join(
      out, "tensorflow/lite-model/mobilenet_v2_1.0_224/1/default/1/"
      "model.tflite"))
  assert line.endswith(f": 1 files, {size} bytes, already there")


def test_staging_dir_is_read_by_the_kaggle_cli(kaggle_exports, service,
                                               tmp_path, monkeypatch):
  out = _copy(kaggle_exports, tmp_path / "out")
  staging = tmp_path / "staging"
  result = publish(out, tmp_path, f"--staging_dir={staging}")
  assert result.returncode == 0, result.stderr
  assert service.requests == []
  model_dir = staging / G1
  version_1 = model_dir / "tensorFlow2/050-160-classification/1"
  exported = os.path.join(
      out, "google/imagenet/mobilenet_v1_050_160/classification/4")
  assert (os.stat(version_1 / "saved_model.pb").st_ino ==
          os.stat(os.path.join(exported, "saved_model.pb")).st_ino)
  assert os.path.exists(model_dir / "tensorFlow2/050-160-classification/2/"
                        "saved_model.pb")
  plan = json.loads((staging / "plan.json").read_text())
  assert len([s for s in plan["steps"] if "version" in s]) == len(EXPECTED)
  # The kaggle CLI's own reading and checks of these files, sending to the
  # stand-in: the CLI has no TEST environment (it picks PROD unless told
  # --local/--staging), so its PROD endpoint is pointed there, and it signs
  # in with a legacy key (a token would be introspected first).
  from kagglesdk import kaggle_env
  monkeypatch.setitem(kaggle_env._env_to_endpoint, kaggle_env.KaggleEnv.PROD,
                      f"http://localhost:{kaggle_stand_in.PORT}")
  monkeypatch.setenv("KAGGLE_USERNAME", kaggle_stand_in.USERNAME)
  monkeypatch.setenv("KAGGLE_KEY", kaggle_stand_in.KEY)
  monkeypatch.delenv("KAGGLE_API_TOKEN", raising=False)
  monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle_cli"))
  from kaggle.api.kaggle_api_extended import KaggleApi
  api = KaggleApi()
  with contextlib.redirect_stdout(io.StringIO()):
    api.authenticate()
    api.model_create_new(str(model_dir))
    api.model_instance_create(str(version_1), quiet=True, dir_mode="zip")
  model = service.models[G1]
  assert model["title"] == "MobileNet V1" and model["isPrivate"] is True
  instance = service.instances[f"{G1}/tensorFlow2/050-160-classification"]
  assert instance["licenseName"] == "Apache 2.0"
  assert instance["fineTunable"] is True
  assert instance["modelInstanceType"] == "MODEL_INSTANCE_TYPE_BASE_MODEL"
  assert "saved_model.pb" in instance["versions"][0]["files"]

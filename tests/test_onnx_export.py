"""The ONNX models as a format of the toolchain (issue 30): configs that list
them, `export.one` writing, packing and signing them, `export.verify`, the
bytes of another process's export, and their cards' snippets run against
the export. Their outputs against the SavedModels and Lite files:
tests/test_onnx.py (the family) and tests/test_custom_models.py (models of
one's own); Kaggle: tests/test_kaggle_publish.py.
"""

import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

from export.core import config
from tests.conftest import REPO, run_cli

FLOAT = "v1_025_128"
QUANT = "v1_025_128_quant"


def _onnx_handles(name):
  return [m.handle for m in config.load(name).modules if m.is_onnx]


# --- Configs ------------------------------------------------------------------


def test_family_configs_list_onnx_models_at_their_handles():
  """Float configs: both kinds, of the TF2 version 5 (whose input sizes
  they take); quantized ones: both kinds, of the quantized Lite file."""
  from export.core import signatures
  v1 = config.load("v1_050_160")
  onnx = [m for m in v1.modules if m.is_onnx]
  assert [(m.handle, m.parent, m.variable_input_size) for m in onnx] == [
      (f"google/onnx-model/imagenet/mobilenet_v1_050_160/{k}/5/default/1",
       f"google/imagenet/mobilenet_v1_050_160/{k}/5", True)
      for k in ("classification", "feature_vector")]
  v5 = {m.kind: m for m in v1.modules if m.version == 5 and not m.is_onnx}
  for m in onnx:
    iface = signatures.interface(m)
    assert iface.variable_input_size == signatures.interface(
        v5[m.kind]).variable_input_size
    assert not (iface.batch_norm_momentum_input or iface.serving_signature)
    assert iface.handle == m.handle and iface.network.handle is None
  quant = config.load(QUANT)
  lite = next(m for m in quant.modules if m.is_lite and m.variant == "default")
  assert [(m.handle, m.parent) for m in quant.modules if m.is_onnx] == [
      (f"tensorflow/onnx-model/mobilenet_v1_0.25_128_quantized/1/{k}/1",
       "tensorflow/mobilenet_v1_0.25_128_quantized/1")
      for k in ("classification", "feature_vector")]
  for m in quant.modules:
    if m.is_onnx:  # Converted from the Lite classifier: its network.
      iface = signatures.interface(m)
      assert iface.quantized_input_range == (-1.0, 127 / 128)
      assert iface.network == signatures.interface(lite)
  v2 = config.load("v2_100_224")
  assert [m.variable_input_size for m in v2.modules if m.is_onnx] == [
      False, False]


@pytest.mark.parametrize("name, entry, message", [
    ("v1_050_160", "{kind: classification, version: 4, format: onnx}",
     "modules[0].version: 4 is not allowed; allowed values: 5"),
    ("v1_025_128_quant", "{kind: classification, version: 5, format: onnx}",
     "modules[0].version: 5 is not allowed; allowed values: 1"),
    ("v1_050_160", "{kind: classification, version: 5, format: onnx, "
     "variant: metadata}", "modules[0].variant: 'metadata' is not allowed; "
     "allowed values: default"),
    ("v1_050_160", "{kind: classification, version: 5, format: onnx, "
     "handle: google/imagenet/x/classification/5}",
     "expected a handle of lowercase path parts <publisher>/onnx-model/.../"
     "classification/5/default/1"),
])
def test_bad_onnx_entries_name_file_key_and_value(tmp_path, name, entry,
                                                   message):
  text = open(os.path.join(config.CONFIGS_DIR, f"{name}.yaml"),
              encoding="utf-8").read()
  head = text.split("modules:\n")[0]
  path = tmp_path / f"{name}.yaml"
  path.write_text(f"{head}modules:\n  - {entry}\n")
  with pytest.raises(config.ConfigError) as error:
    config.load(str(path))
  assert str(error.value).startswith(f"{path}: ") and message in str(
      error.value), str(error.value)


def test_custom_configs_list_onnx_models(tmp_path):
  """Float: of the TF2 SavedModel's handle; `quantization: post_training`
  (or a quantization-aware checkpoint): of the quantized Lite model."""
  from tests.test_custom_models import write_config
  spec = dict(name="dials", architecture="mobilenet_v1", multiplier=0.25,
              size=96, classes=3, publisher="dial-works", calibration=0,
              modules="  - {kind: feature_vector, format: onnx}\n"
                      "  - {kind: classification, format: onnx, "
                      "quantization: post_training}\n")
  path = write_config(str(tmp_path), spec)
  with open(path, encoding="utf-8") as f:
    text = f.read()
  with open(path, "w", encoding="utf-8") as f:
    f.write(text.replace("modules:", "calibration: images\nmodules:"))
  (tmp_path / "images").mkdir()
  # A post-training quantized ONNX model is calibrated as its Lite file is.
  with pytest.raises(config.ConfigError, match="calibration: .* expected a "
                     "directory holding images"):
    config.load(path)
  from PIL import Image
  Image.new("RGB", (8, 8)).save(tmp_path / "images" / "a.png")
  cfg = config.load(path)
  assert [(m.handle, m.variable_input_size) for m in cfg.modules] == [
      ("dial-works/onnx-model/dials_model/feature_vector/2/default/1", False),
      ("dial-works/onnx-model/dials_model_quantized/1/classification/1",
       False)]
  bad = write_config(str(tmp_path / "bad"), spec, modules=(
      "  - {kind: classification, format: hub, "
      "quantization: post_training}\n"))
  with pytest.raises(config.ConfigError, match="only lite and onnx modules of "
                     "a float checkpoint take quantization: post_training"):
    config.load(bad)


# --- export.one, export.verify, signing ---------------------------------------


@pytest.fixture(scope="module")
def signed(tmp_path_factory, cache_dir):
  """(output dir, public key, another key) of a signed export, by the
  `export.one` CLI, of the ONNX models of FLOAT and QUANT alone (a
  quantized one: with the Lite classifier it is converted from, which the
  run reads and converts but does not publish)."""
  from tests.test_signing import _key_pair
  tmp = str(tmp_path_factory.mktemp("onnx_signed"))
  private, public = _key_pair(tmp, "ours")
  other, _ = _key_pair(tmp, "theirs")
  out = os.path.join(tmp, "out")
  for name in (FLOAT, QUANT):
    result = run_cli("one", f"--config={name}", "--synthetic",
                     f"--output_dir={out}", f"--cache_dir={cache_dir}",
                     f"--sign_key={private}",
                     *[f"--only={h}" for h in _onnx_handles(name)])
    assert result.returncode == 0, result.stderr[-3000:]
  return out, public, other


def _files(directory):
  found = {}
  for name in sorted(os.listdir(directory)):
    with open(os.path.join(directory, name), "rb") as f:
      found[name] = f.read()
  return found


@pytest.mark.slow
def test_published_packed_signed_and_recorded(signed):
  from export.publishing import manifest
  out, _, _ = signed
  entries = manifest.load(out)
  handles = _onnx_handles(FLOAT) + _onnx_handles(QUANT)
  assert sorted(entries) == sorted(handles)  # Not the Lite file read.
  for handle in handles:
    labels = ["labels.txt"] if "/classification/" in handle else []
    assert sorted(os.listdir(os.path.join(out, handle))) == sorted(
        ["model.onnx", "model.sig"] + labels)
    entry = entries[handle]
    assert entry.format == "onnx" and entry.archive == handle + ".tar.gz"
    with tarfile.open(os.path.join(out, entry.archive)) as tar:
      assert sorted(tar.getnames()) == sorted(
          ["model.onnx", "model.sig"] + labels)


@pytest.mark.slow
def test_bytes_equal_the_export_of_another_process(signed, variant):
  """The CLI's export (its own process) and this process's (the session's
  `variant`, unsigned) have the same files, float and quantized (the
  quantized one's Lite conversion included)."""
  out, _, _ = signed
  for name in (FLOAT, QUANT):
    here = variant(name, only=_onnx_handles(name))
    for handle in _onnx_handles(name):
      cli = _files(os.path.join(out, handle))
      del cli["model.sig"]
      assert cli == _files(here.modules[handle]), handle


@pytest.mark.slow
def test_verify_passes_and_catches_a_changed_byte(signed, tmp_path,
                                                  cache_dir):
  out, public, other = signed
  handles = _onnx_handles(FLOAT) + _onnx_handles(QUANT)
  result = run_cli("verify", *[os.path.join(out, h) for h in handles],
                   f"--public_key={public}")
  assert result.returncode == 0, result.stdout + result.stderr
  assert result.stdout.count("(manifest, signature)") == 4, result.stdout
  # The archive as served, and the model_signing tool itself.
  quantized = os.path.join(out, _onnx_handles(QUANT)[0])
  result = run_cli("verify", quantized + ".tar.gz", f"--public_key={public}")
  assert result.returncode == 0, result.stdout + result.stderr
  tool = subprocess.run(
      [sys.executable, "-m", "model_signing", "verify", "key", quantized,
       "--signature", os.path.join(quantized, "model.sig"),
       "--public_key", public], capture_output=True, text=True, timeout=300)
  assert tool.returncode == 0, tool.stdout + tool.stderr
  # Rebuilt from its config and checkpoint: the same files.
  result = run_cli("verify", quantized, "--rebuild", "--synthetic",
                   f"--cache_dir={cache_dir}")
  assert result.returncode == 0, result.stdout + result.stderr
  assert "(manifest, rebuild)" in result.stdout
  # One byte of a copy's model changed: named, with and without the key.
  copy = str(tmp_path / "copy")
  shutil.copytree(out, copy)
  module = os.path.join(copy, _onnx_handles(FLOAT)[0])
  model = os.path.join(module, "model.onnx")
  with open(model, "r+b") as f:
    f.seek(50000)
    byte = f.read(1)
    f.seek(50000)
    f.write(bytes([byte[0] ^ 1]))
  for key in ([f"--public_key={public}"], []):
    result = run_cli("verify", module, *key)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines and all("model.onnx" in l for l in lines), lines
  # Signed by another key: the signature check says so.
  from export.publishing import signing
  other_copy = os.path.join(copy, _onnx_handles(FLOAT)[1])
  signing.Signer(key=other).sign(other_copy, "onnx")
  result = run_cli("verify", other_copy, f"--public_key={public}")
  assert result.returncode == 1 and "model.sig" in result.stdout, (
      result.stdout)


# --- Cards --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name, kind", [(FLOAT, "classification"),
                                        (QUANT, "feature_vector")])
def test_card_snippet_runs_on_the_export(signed, tmp_path, name, kind):
  """The card's Python snippet, run as written where `out/` is the export
  (and `image.jpg` a photo): it loads the model with ONNX Runtime, its
  shape comments hold, and the classifier prints the label ONNX Runtime
  gives the same input."""
  import numpy as np
  import onnxruntime as ort
  from PIL import Image
  from skimage import data
  from export import cards
  from tests import test_readme
  out, _, _ = signed
  cfg = config.load(name)
  module = next(m for m in cfg.modules if m.is_onnx and m.kind == kind)
  card = cards.render(cfg, module)
  (code,) = re.findall(r"```python\n(.*?)```", card, re.S)
  os.symlink(out, tmp_path / "out")
  Image.fromarray(data.astronaut()).save(tmp_path / "image.jpg")
  proc = test_readme.run_python(f"onnx_{kind}", code, str(tmp_path),
                                sys.executable)
  if kind == "classification":
    directory = os.path.join(out, module.handle)
    image = Image.open(tmp_path / "image.jpg").convert("RGB").resize(
        (cfg.input_size, cfg.input_size))
    logits = ort.InferenceSession(
        os.path.join(directory, "model.onnx"),
        providers=["CPUExecutionProvider"]).run(None, {"images": np.asarray(
            image, np.float32)[None] / 255})[0]
    with open(os.path.join(directory, "labels.txt"), encoding="utf-8") as f:
      labels = f.read().splitlines()
    assert proc.stdout.splitlines()[0] == labels[int(logits[0].argmax())]


def test_dry_run_describes_them():
  result = run_cli("one", f"--config={QUANT}", "--dry_run", "--synthetic")
  assert result.returncode == 0, result.stderr
  lines = [l for l in result.stdout.splitlines() if "onnx-model" in l]
  assert len(lines) == 2
  assert ("ONNX model (uint8 QDQ of tensorflow/lite-model/"
          "mobilenet_v1_0.25_128_quantized/1/default/1, opset 17); input "
          "images float32 NHWC in [0, 1], 128x128 fixed -> logits, "
          "feature_vector") in lines[0]

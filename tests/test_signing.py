"""Signed exports and `export.verify` (issue 22): OpenSSF Model Signing
signatures that the `model_signing` tool itself verifies, and every kind of
tampering reported with the file it touched."""

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.slow

CONFIG = "v1_050_160"
MODULES = {  # One of each kind of module directory.
    "tf1": "google/imagenet/mobilenet_v1_050_160/classification/3",
    "tf2": "google/imagenet/mobilenet_v1_050_160/feature_vector/5",
    "lite": "tensorflow/lite-model/mobilenet_v1_0.50_160/1/default/1",
    "tfjs": "google/tfjs-model/imagenet/mobilenet_v1_050_160/classification/3/"
            "default/1",
}


def _key_pair(directory, name):
  from cryptography.hazmat.primitives import serialization
  from cryptography.hazmat.primitives.asymmetric import ec
  key = ec.generate_private_key(ec.SECP256R1())
  private = os.path.join(directory, f"{name}.pem")
  public = os.path.join(directory, f"{name}.pub.pem")
  with open(private, "wb") as f:
    f.write(key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))
  with open(public, "wb") as f:
    f.write(key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo))
  return private, public


@pytest.fixture(scope="module")
def signed(tmp_path_factory, cache_dir):
  """(output dir, private key, public key, another key pair) of a signed
  export of MODULES, through the CLI."""
  tmp = str(tmp_path_factory.mktemp("signed"))
  private, public = _key_pair(tmp, "ours")
  other = _key_pair(tmp, "theirs")
  out = os.path.join(tmp, "out")
  result = run_cli("one", f"--config={CONFIG}", "--synthetic",
                   f"--output_dir={out}", f"--cache_dir={cache_dir}",
                   f"--sign_key={private}",
                   *[f"--only={h}" for h in MODULES.values()])
  assert result.returncode == 0, result.stderr[-3000:]
  return out, private, public, other


def _copy(out, tmp_path):
  dest = str(tmp_path / "copy")
  shutil.copytree(out, dest)
  return dest


def test_every_module_is_signed_and_verifies(signed):
  out, _, public, _ = signed
  paths = [os.path.join(out, h) for h in MODULES.values()]
  result = run_cli("verify", *paths, f"--public_key={public}")
  assert result.returncode == 0, result.stdout + result.stderr
  assert result.stdout.count("OK ") == 4
  assert "(manifest, signature)" in result.stdout
  # The archives carry the signature.
  import tarfile
  with tarfile.open(os.path.join(out, MODULES["tf2"] + ".tar.gz")) as tar:
    assert "model.sig" in tar.getnames()
  result = run_cli("verify", os.path.join(out, MODULES["tf2"] + ".tar.gz"),
                   f"--public_key={public}")
  assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("which", ["tf2", "lite"])
def test_the_model_signing_tool_itself_verifies(signed, which):
  out, _, public, _ = signed
  module = os.path.join(out, MODULES[which])
  target = (os.path.join(module, "model.tflite") if which == "lite"
            else module)
  result = subprocess.run(
      [sys.executable, "-m", "model_signing", "verify", "key", target,
       "--signature", os.path.join(module, "model.sig"),
       "--public_key", public], capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stdout + result.stderr
  assert "Verification succeeded" in result.stdout + result.stderr


def _tamper(module, how, other_key):
  """Tampers with a module directory; returns the file named."""
  if how == "changed byte":
    path = os.path.join(module, "variables", "variables.data-00000-of-00001")
    with open(path, "r+b") as f:
      f.seek(100)
      byte = f.read(1)
      f.seek(100)
      f.write(bytes([byte[0] ^ 1]))
    return "variables/variables.data-00000-of-00001"
  if how == "removed file":
    os.remove(os.path.join(module, "variables", "variables.index"))
    return "variables/variables.index"
  if how == "added file":
    with open(os.path.join(module, "extra.txt"), "w") as f:
      f.write("not exported")
    return "extra.txt"
  from export.publishing import signing
  signing.Signer(key=other_key).sign(module, "saved_model_2")
  return "model.sig"


@pytest.mark.parametrize("how", ["changed byte", "removed file", "added file",
                                 "another key"])
def test_tampering_is_reported_naming_the_file(signed, tmp_path, how):
  out, _, public, (other_key, _) = signed
  copy = _copy(out, tmp_path)
  module = os.path.join(copy, MODULES["tf2"])
  named = _tamper(module, how, other_key)
  result = run_cli("verify", module, f"--public_key={public}")
  assert result.returncode == 1
  lines = result.stdout.splitlines()
  assert lines and all(named in l or "Key mismatch" in l for l in lines), lines
  assert any(named in l for l in lines) or how == "another key"
  if how == "another key":  # And it is not the one the archive holds.
    signature = os.path.join(module, "model.sig")
    assert all(l.startswith(signature + ": ") for l in lines), lines
    assert any(l.startswith(signature + ": Key mismatch") for l in lines)
  else:  # The manifest check names it too, without any key.
    result = run_cli("verify", module)
    assert result.returncode == 1 and named in result.stdout


def test_rebuild_passes_untouched_and_names_a_tampered_file(signed,
                                                            cache_dir,
                                                            tmp_path):
  out, _, _, _ = signed
  module = os.path.join(out, MODULES["tf1"])
  result = run_cli("verify", module, "--rebuild", "--synthetic",
                   f"--cache_dir={cache_dir}")
  assert result.returncode == 0, result.stdout + result.stderr
  assert "(manifest, rebuild)" in result.stdout
  copy = _copy(out, tmp_path)
  module = os.path.join(copy, MODULES["tf1"])
  with open(os.path.join(module, "tfhub_module.pb"), "ab") as f:
    f.write(b"\0")
  result = run_cli("verify", module, "--rebuild", "--synthetic",
                   f"--cache_dir={cache_dir}")
  assert result.returncode == 1
  assert f"{os.path.join(module, 'tfhub_module.pb')}: differs from the " \
      "rebuild" in result.stdout


def test_rebuild_of_a_copy_outside_an_output_directory(signed, cache_dir,
                                                      tmp_path):
  """A downloaded copy carries neither its config nor its handle in its
  files: --rebuild takes its module from the path (kagglehub's cache keeps
  a version at `<cache>/models/<owner>/<model>/<framework>/<variation>/
  <version>`, kagglehub 1.0.3 `cache._get_model_path`; a served file is
  `<handle>.tflite`), or from --module."""
  import json
  out = signed[0]
  with open(os.path.join(REPO, "tests/testdata/kaggle_layout/handles.json"),
            encoding="utf-8") as f:
    record = next(r for r in json.load(f)
                  if r["tfhub_equivalent"] == MODULES["tf2"])
  kaggle = "/".join(str(record[k]) for k in ("owner", "model", "framework",
                                               "variation", "version"))
  download = tmp_path / "kagglehub" / "models" / kaggle
  shutil.copytree(os.path.join(out, MODULES["tf2"]), download)
  served = tmp_path / "mirror" / (MODULES["lite"] + ".tflite")
  served.parent.mkdir(parents=True)
  shutil.copy(os.path.join(out, MODULES["lite"] + ".tflite"), served)
  result = run_cli("verify", str(download), str(served), "--rebuild",
                   "--synthetic", f"--cache_dir={cache_dir}")
  assert result.returncode == 0, result.stdout + result.stderr
  assert result.stdout.splitlines() == [f"OK {download} (rebuild)",
                                        f"OK {served} (rebuild)"]
  # A Kaggle Lite download (`1.tflite`, `model.sig`) in a directory that
  # names nothing: --module names it; a changed byte is found.
  lite = tmp_path / "lite"
  lite.mkdir()
  shutil.copy(os.path.join(out, MODULES["lite"], "model.sig"), lite)
  data = bytearray(open(os.path.join(out, MODULES["lite"], "model.tflite"),
                        "rb").read())
  data[len(data) // 2] ^= 1
  (lite / "1.tflite").write_bytes(bytes(data))
  result = run_cli("verify", str(lite), "--rebuild", "--synthetic",
                   f"--cache_dir={cache_dir}", f"--module={MODULES['lite']}")
  assert result.returncode == 1
  assert result.stdout == f"{lite / '1.tflite'}: differs from the rebuild\n"
  # Without --module: one line, before any rebuild.
  result = run_cli("verify", str(download), str(lite), "--rebuild",
                   "--synthetic", f"--cache_dir={cache_dir}")
  assert result.returncode == 2 and result.stdout == ""
  assert result.stderr.splitlines() == [
      f"error: --rebuild: {lite} is not in an output directory with a "
      "manifest.json, and its path names no module: pass --module HANDLE "
      "(e.g. google/imagenet/mobilenet_v1_050_160/feature_vector/5, or its "
      "Kaggle handle), with --config FILE for a model of one's own"]


def test_missing_input_is_exit_2(tmp_path):
  result = run_cli("verify", str(tmp_path / "nothing"))
  assert result.returncode == 2
  assert result.stderr.startswith("error: no such file or directory: ")


def test_a_kaggle_download_is_checked_by_its_signature(signed, tmp_path):
  """A downloaded Lite version is `1.tflite` and `model.sig`."""
  out, _, public, _ = signed
  download = tmp_path / "download"
  download.mkdir()
  module = os.path.join(out, MODULES["lite"])
  shutil.copy(os.path.join(module, "model.tflite"), download / "1.tflite")
  shutil.copy(os.path.join(module, "model.sig"), download / "model.sig")
  result = run_cli("verify", str(download), f"--public_key={public}")
  assert result.returncode == 0, result.stdout + result.stderr
  assert "(signature)" in result.stdout


def _certificates(directory):
  """(CA certificate, signing key, signing certificate) PEM files: a test
  CA and a code-signing leaf it issued."""
  import datetime
  from cryptography import x509
  from cryptography.hazmat.primitives import hashes, serialization
  from cryptography.hazmat.primitives.asymmetric import ec
  from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
  now = datetime.datetime.now(datetime.timezone.utc)

  def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

  def usage(ca):
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        key_cert_sign=ca, crl_sign=ca, encipher_only=False,
        decipher_only=False)

  def certificate(subject, key, issuer_key, ca, serial):
    builder = (x509.CertificateBuilder().subject_name(name(subject))
               .issuer_name(name("Test CA")).public_key(key.public_key())
               .serial_number(serial)
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                              critical=True)
               .add_extension(usage(ca), critical=True))
    if not ca:
      builder = builder.add_extension(
          x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
          critical=False).add_extension(
              x509.AuthorityKeyIdentifier.from_issuer_public_key(
                  issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())

  ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
      ec.SECP256R1())
  paths = [os.path.join(directory, n) for n in ("ca.pem", "leaf.key",
                                                 "leaf.pem")]
  with open(paths[0], "wb") as f:
    f.write(certificate("Test CA", ca_key, ca_key, True, 1).public_bytes(
        serialization.Encoding.PEM))
  with open(paths[1], "wb") as f:
    f.write(key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))
  with open(paths[2], "wb") as f:
    f.write(certificate("Signer", key, ca_key, False, 2).public_bytes(
        serialization.Encoding.PEM))
  return paths


def test_certificate_signing_verifies_against_its_chain(tmp_path, cache_dir):
  ca, key, leaf = _certificates(str(tmp_path))
  out = str(tmp_path / "out")
  module = MODULES["tf1"]
  result = run_cli("one", f"--config={CONFIG}", "--synthetic",
                   f"--output_dir={out}", f"--cache_dir={cache_dir}",
                   f"--only={module}", f"--sign_key={key}",
                   f"--sign_certificate={leaf}",
                   f"--sign_certificate_chain={ca}")
  assert result.returncode == 0, result.stderr[-3000:]
  result = run_cli("verify", os.path.join(out, module),
                   f"--certificate_chain={ca}")
  assert result.returncode == 0, result.stdout + result.stderr
  # Another CA's chain does not verify it.
  (tmp_path / "other").mkdir()
  other_ca, _, _ = _certificates(str(tmp_path / "other"))
  result = run_cli("verify", os.path.join(out, module),
                   f"--certificate_chain={other_ca}")
  assert result.returncode == 1


def test_kaggle_versions_carry_the_signature(signed):
  """`export.kaggle` uploads a version's files, `model.sig` with them (a
  Lite version: `1.tflite` and `model.sig`)."""
  from export.core import config
  from export.destinations import kaggle_plan
  from export.publishing import manifest
  out = signed[0]
  plan = kaggle_plan.plan([config.load(CONFIG)], out,
                          only=[MODULES["lite"], MODULES["tf2"]])
  entries = manifest.load(out)
  names = {v.module: sorted(n for n, _, _, _ in
                            kaggle_plan.module_files(v, entries, out).files)
           for v in plan.versions}
  assert names[MODULES["lite"]] == ["1.tflite", "model.sig"]
  assert "model.sig" in names[MODULES["tf2"]]

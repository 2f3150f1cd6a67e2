"""Mistakes and interruptions of the command-line tools (issue 28): each
ends in one line and a non-zero exit, found before any work where it can
be; Ctrl-C stops an export cleanly, saying what is done and what is left."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.slow

CONFIG = "v1_025_128"  # The smallest V1 variant: 16 modules.


def _error_line(result):
  """The one line a refused command printed (asserting it is one)."""
  lines = result.stderr.splitlines()
  assert len(lines) == 1, result.stderr
  assert "Traceback" not in result.stderr
  return lines[0]


# --- Ctrl-C -------------------------------------------------------------------


def _children(pid):
  """Pids of the processes `pid` started (its workers among them)."""
  found = []
  for task in os.listdir(f"/proc/{pid}/task"):
    with open(f"/proc/{pid}/task/{task}/children") as f:
      found += [int(c) for c in f.read().split()]
  return found


def _running(pid):
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # Not a zombie.
  except FileNotFoundError:
    return False


def _files(out):
  """Relative paths of the files below `out`."""
  return {os.path.relpath(os.path.join(d, n), out)
          for d, _, names in os.walk(out) for n in names}


def _manifest_files(out):
  """What the manifest accounts for: itself, each module's archive and the
  files of its directory."""
  with open(os.path.join(out, "manifest.json")) as f:
    modules = json.load(f)["modules"]
  files = {"manifest.json"}
  for handle, entry in modules.items():
    files.add(entry["archive"])
    files |= {os.path.join(handle, f) for f in _files(os.path.join(out,
                                                                   handle))}
  return modules, files


def _interrupt(args):
  """Starts `python -m export.<args>` as a terminal would (its own process
  group), presses Ctrl-C once the first module is exported; returns
  (the completed process's stdout, stderr, exit status, its children while
  it ran)."""
  env = dict(os.environ, PYTHONPATH=REPO)
  proc = subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True)
  stdout = []
  for line in proc.stdout:
    stdout.append(line)
    if "] exported" in line:
      break
  assert proc.poll() is None, "".join(stdout) + proc.stderr.read()
  children = _children(proc.pid)
  os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole group.
  # Read through the same buffered files (communicate() would skip what
  # their buffers hold already); what it writes now is short.
  rest, stderr = proc.stdout.read(), proc.stderr.read()
  return "".join(stdout) + rest, stderr, proc.wait(timeout=120), children


@pytest.mark.parametrize("command", ["one", "export_all"])
def test_ctrl_c_stops_cleanly_saying_what_is_done_and_left(command, tmp_path,
                                                          cache_dir):
  out = tmp_path / "out"
  summary = tmp_path / "summary.json"
  # export.one: one worker, three tasks (TF1 version 1's two modules, then
  # each TF2 module); export_all: two workers, the config's 16 modules.
  only = [f"--only=google/imagenet/mobilenet_{CONFIG}/{kind}/{version}"
          for kind, version in (("classification", 1), ("feature_vector", 1),
                                ("classification", 4), ("feature_vector", 4))]
  args = ([f"export.{command}", f"--config={CONFIG}", *only]
          if command == "one" else
          [f"export.{command}", f"--configs={CONFIG}", "--jobs=2"])
  total = len(only) if command == "one" else 16
  args += ["--synthetic", f"--output_dir={out}", f"--cache_dir={cache_dir}",
           f"--summary_json={summary}"]
  stdout, stderr, status, children = _interrupt(args)
  assert status == 130, stderr
  assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
  last = stderr.splitlines()[-1]
  match = re.fullmatch(rf"interrupted: (\d+) of {total} modules done \((\d+) "
                       r"exported\), (\d+) not run; rerun the command to "
                       r"finish \(what is done is kept\)", last)
  assert match, stderr
  done, exported, not_run = map(int, match.groups())
  assert done == exported >= 1 and not_run >= 1 and done + not_run == total
  # The workers are gone with it.
  assert children
  deadline = time.time() + 10
  while time.time() < deadline and any(_running(p) for p in children):
    time.sleep(0.2)
  assert not any(_running(p) for p in children)
  # Nothing half-written: no staging, no file the manifest does not account
  # for, and every module it lists is what it recorded.
  modules, accounted = _manifest_files(str(out))
  assert len(modules) == exported
  assert _files(str(out)) == accounted
  result = run_cli("verify", f"--output_dir={out}")
  assert result.returncode == 0, result.stdout + result.stderr
  assert result.stdout.count("OK ") == exported
  with open(summary) as f:
    assert json.load(f)["counts"] == {"exported": exported, "up to date": 0,
                                      "failed": 0, "not run": not_run}
  assert stdout.count("] exported") == exported
  if command == "one":  # A rerun finishes what was left.
    result = run_cli("one", *args[1:-1])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("] up to date") == exported
    assert result.stdout.count("] exported") == not_run


def test_ctrl_c_while_a_module_is_replaced_leaves_no_mix(tmp_path,
                                                        cache_dir):
  """Ctrl-C right after a worker published a module's new directory (its
  archive and manifest entry still the old ones): that module is removed
  with its entry, and everything the manifest lists is what it records."""
  out = tmp_path / "out"
  group = [f"google/imagenet/mobilenet_{CONFIG}/{kind}/1"
           for kind in ("classification", "feature_vector")]
  args = ["export.one", f"--config={CONFIG}", "--synthetic",
          f"--output_dir={out}", f"--cache_dir={cache_dir}",
          *[f"--only={h}" for h in group]]
  result = run_cli("one", *args[1:])
  assert result.returncode == 0, result.stderr[-3000:]
  first = out / group[0]
  inode = first.stat().st_ino
  # Signed now: new inputs, and files (model.sig) the old archive lacks.
  key = _write_key(tmp_path / "key.pem", "p256")
  proc = subprocess.Popen(
      [sys.executable, "-m", *args, f"--sign_key={key}"], cwd=REPO,
      env=dict(os.environ, PYTHONPATH=REPO), stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True, start_new_session=True)
  deadline = time.time() + 300
  while time.time() < deadline and proc.poll() is None:
    try:
      if first.stat().st_ino != inode:
        break
    except FileNotFoundError:
      pass  # Moved aside, the new one about to be renamed in.
    time.sleep(0.005)
  os.killpg(proc.pid, signal.SIGINT)
  stdout, stderr = proc.communicate(timeout=120)
  assert proc.returncode == 130, stderr
  assert stderr.splitlines()[-1].startswith(
      "interrupted: 0 of 2 modules done (0 exported), 2 not run; ")
  modules, accounted = _manifest_files(str(out))
  assert group[0] not in modules and not first.exists()
  assert not (out / (group[0] + ".tar.gz")).exists()
  assert _files(str(out)) == accounted
  result = run_cli("verify", f"--output_dir={out}")
  assert result.returncode == 0, result.stdout + result.stderr
  assert "exported" not in stdout


# --- Keys ---------------------------------------------------------------------


def _write_key(path, kind, public=False, password=None):
  from cryptography.hazmat.primitives import serialization
  from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
  key = {"p256": lambda: ec.generate_private_key(ec.SECP256R1()),
         "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
         "p521": lambda: ec.generate_private_key(ec.SECP521R1()),
         "secp256k1": lambda: ec.generate_private_key(ec.SECP256K1()),
         "rsa": lambda: rsa.generate_private_key(65537, 2048),
         "ed25519": ed25519.Ed25519PrivateKey.generate}[kind]()
  if public:
    data = key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)
  else:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password) if password
        else serialization.NoEncryption())
  path.write_bytes(data)
  return str(path)


@pytest.mark.parametrize("kind", ["p256", "p384", "p521", "secp256k1", "rsa",
                                  "ed25519"])
def test_keys_are_checked_as_model_signing_takes_them(tmp_path, kind):
  """The up-front check accepts a key exactly when model_signing's own key
  signer and verifier do (EC on P-256, P-384, P-521)."""
  from model_signing import signing as ms
  from model_signing import verifying
  from export.publishing import signing
  private = _write_key(tmp_path / "key.pem", kind)
  public = _write_key(tmp_path / "key.pub.pem", kind, public=True)
  for check, use in (
      (signing.check_private_key,
       lambda: ms.Config().use_elliptic_key_signer(private_key=private)),
      (signing.check_public_key,
       lambda: verifying.Config().use_elliptic_key_verifier(
           public_key=public))):
    try:
      use()
      takes = True
    except Exception:  # pylint: disable=broad-except
      takes = False  # ValueError, or AttributeError 'curve' (RSA).
    try:
      check(private if check is signing.check_private_key else public)
      ours = True
    except signing.SigningError:
      ours = False
    assert ours == takes == (kind in ("p256", "p384", "p521")), check


@pytest.mark.parametrize("kind, said", [
    ("rsa", "is an RSA key; expected an unencrypted PEM private key, EC on "
            "P-256, P-384 or P-521"),
    ("ed25519", "is an Ed25519 key; expected an unencrypted PEM private key"),
    ("secp256k1", "is an EC key on secp256k1; expected an unencrypted PEM "
                  "private key"),
    ("encrypted", "is encrypted; expected an unencrypted PEM private key"),
    ("public", "is a public key; expected an unencrypted PEM private key"),
    ("garbage", "is not a PEM private key; expected an unencrypted PEM "
                "private key"),
])
def test_a_sign_key_model_signing_cannot_use_is_refused_first(tmp_path, kind,
                                                              said):
  key = tmp_path / "key.pem"
  if kind == "garbage":
    key.write_text("not a key\n")
  elif kind in ("encrypted", "public"):
    _write_key(key, "p256", public=kind == "public",
               password=b"secret" if kind == "encrypted" else None)
  else:
    _write_key(key, kind)
  out, cache = tmp_path / "out", tmp_path / "cache"
  result = run_cli("one", f"--config={CONFIG}", "--synthetic",
                   f"--output_dir={out}", f"--cache_dir={cache}",
                   f"--sign_key={key}")
  assert result.returncode == 2
  assert _error_line(result).startswith(f"error: --sign_key: {key} {said}")
  assert result.stdout == ""
  assert not out.exists() and not cache.exists()  # No work was done.
  if kind == "encrypted":  # The way out it names.
    assert "openssl pkey -in" in result.stderr


def test_a_certificate_of_another_key_is_refused_first(tmp_path):
  from tests.test_signing import _certificates
  _, _, leaf = _certificates(str(tmp_path))
  other = _write_key(tmp_path / "other.pem", "p256")
  result = run_cli("one", f"--config={CONFIG}", "--synthetic",
                   f"--output_dir={tmp_path / 'out'}", f"--sign_key={other}",
                   f"--sign_certificate={leaf}")
  assert result.returncode == 2
  assert _error_line(result) == (
      f"error: --sign_certificate: {leaf} is not the certificate of the "
      f"private key {other}; expected that key's signing certificate")
  assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind, said", [
    ("private", "is a private key; expected a PEM public key, EC on P-256, "
                "P-384 or P-521"),
    ("rsa_public", "is an RSA key; expected a PEM public key"),
    ("garbage", "is not a PEM public key; expected a PEM public key"),
])
def test_verify_public_key_must_be_a_public_key(tmp_path, kind, said):
  key = tmp_path / "key.pem"
  if kind == "garbage":
    key.write_text("-----BEGIN NOTHING-----\n")
  else:
    _write_key(key, "p256" if kind == "private" else "rsa",
               public=kind != "private")
  result = run_cli("verify", str(tmp_path), f"--public_key={key}")
  assert result.returncode == 2
  line = _error_line(result)
  assert line.startswith(f"error: --public_key: {key} {said}")
  if kind == "private":  # The command it gives makes what is due.
    command = re.search(r"`(openssl pkey [^`]*)`", line).group(1)
    public = tmp_path / "derived.pub.pem"
    assert command == f"openssl pkey -in {key} -pubout -out KEY.pub.pem"
    subprocess.run(command.replace("KEY.pub.pem", str(public)).split(),
                   check=True)
    from export.publishing import signing
    signing.check_public_key(str(public))  # Raises if not.


# --- Directories --------------------------------------------------------------


@pytest.mark.parametrize("what", ["missing", "empty", "a file"])
def test_configs_dir_missing_or_empty_is_one_line(tmp_path, what):
  """Every command taking --configs_dir loads it through config.load_all;
  export.cards shows it."""
  configs = tmp_path / "configs"
  if what == "empty":
    configs.mkdir()
    (configs / "notes.txt").write_text("no configs here\n")
  elif what == "a file":
    configs.write_text("")
  said = {"missing": "no such directory", "empty": "holds no config (*.yaml)",
          "a file": "not a directory"}[what]
  result = run_cli("cards", f"--configs_dir={configs}",
                   f"--docs_dir={tmp_path / 'docs'}")
  assert result.returncode == 2
  assert _error_line(result) == (
      f"error: {configs}: {said}; expected a configs directory: variant "
      f"configs, one *.yaml file each (as in {os.path.join(REPO, 'configs')})")
  assert not (tmp_path / "docs").exists()


@pytest.mark.parametrize("command", ["one", "export_all"])
@pytest.mark.parametrize("where", ["under a file", "a file"])
def test_an_unwritable_output_dir_is_refused_before_any_work(tmp_path,
                                                             command, where):
  # Tests run as root, whom permission bits do not stop: a path whose
  # parent is a regular file cannot be written by anyone.
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  out = blocker / "out" if where == "under a file" else blocker
  cache = tmp_path / "cache"
  config = (f"--config={CONFIG}" if command == "one" else
            f"--configs={CONFIG}")
  result = run_cli(command, config, "--synthetic", f"--output_dir={out}",
                   f"--cache_dir={cache}")
  assert result.returncode == 2
  shown = f"{out}: {blocker}" if where == "under a file" else f"{out}"
  assert _error_line(result) == (
      f"error: --output_dir: {shown} is a file; expected a directory this "
      "user can write in")
  assert result.stdout == ""
  assert not cache.exists()  # Not even the synthetic checkpoint was made.
  # The summary's place likewise, before the output directory is made.
  result = run_cli(command, config, "--synthetic",
                   f"--output_dir={tmp_path / 'out'}", f"--cache_dir={cache}",
                   f"--summary_json={blocker / 'summary.json'}")
  assert result.returncode == 2
  assert _error_line(result).startswith(
      f"error: --summary_json: {blocker / 'summary.json'}: {blocker} is a "
      "file; expected a file in a directory")
  assert not (tmp_path / "out").exists() and not cache.exists()

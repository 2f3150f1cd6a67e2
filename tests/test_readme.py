"""The README's code blocks run, and the numbers and versions it states are
the real ones (STATED, STATED_VERSIONS).

Every fenced block of README.md has a mark on the line before it,
`<!-- readme-test: NAME -->`, and NAME is either run here (RUN: how, below)
or listed as not run with the reason (NOT_RUN). A block without a mark, a
name in neither list or used twice, or a listed name no block has fails
`test_every_block_is_run_or_listed`, so a new snippet cannot go untested
silently.

Blocks run as written, in a fresh working directory holding what they name,
with these substitutions (documented here, and as few as possible):

* `python` is the interpreter running the tests (first on PATH; the README's
  sections after "Usage" assume the venv is active), `.venv-legacy/bin/python`
  the legacy venv's;
* `out/` is the output directory of the session's synthetic exports
  (tests/conftest.py `variant`), exported on first use, or what the blocks
  before export into it;
* a block that downloads the published checkpoint exports from the synthetic
  one instead (SUBSTITUTIONS: `--synthetic`, and `--only` the modules the
  README goes on to use), and a downloaded archive it names is the synthetic
  checkpoint packed as the published one is;
* `$EDITOR` is `true` (the config is left as `export.new_config` wrote it,
  which exports as it is);
* a checkpoint of one's own (`train/`) is a synthetic one of MobileNet V1
  0.25 with 5 classes, the cheapest shape.

Blocks that are not commands are checked for what they show: the usage
synopsis's flags exist, a file listing is what an export writes, the
example config loads. Comments giving a shape (`x = ...  # [batch, 28, 28,
48]`) in Python blocks are checked against the value's shape.
"""

import collections
import json
import os
import re
import subprocess
import sys
import tarfile

import pytest

from tests.conftest import LEGACY_PYTHON, REPO

README = os.path.join(REPO, "README.md")
MARK = re.compile(r"^<!-- readme-test: ([\w-]+) -->$")
FENCE = re.compile(r"^```(\w*)$")

NOT_RUN = {
    "quickstart": "sets up every venv (scripts/setup.sh) and runs the whole "
                  "suite or exports a whole config: what CI itself runs",
    "bazel_caches": "needs remote cache and execution services; "
                    "tests/test_bazel.py runs --disk_cache, and nginx on "
                    "loopback as the remote cache",
    "bazel_http_cache": "needs a cache server (cache.internal); "
                        "tests/test_bazel.py runs nginx on loopback as it",
    "kaggle": "publishes to Kaggle: needs credentials and the network (and "
              "first exports all of v1_050_160); tests/test_kaggle_publish.py "
              "runs export.kaggle against a loopback stand-in of Kaggle's API",
    "serve_start": "runs nginx in the foreground until Ctrl-C; "
                   "tests/test_serve.py runs this command on a free loopback "
                   "port and stops it with SIGINT",
    "serve_clients": "needs the server of serve_start; tests/test_serve.py "
                     "runs hub.load (and hub.KerasLayer, hub.Module, TF.js) "
                     "against it",
    "serve_production": "listens on port 80 of every interface; "
                        "tests/test_serve.py runs --pages_only and the same "
                        "configuration on loopback",
    "keras_model": "needs a fine-tuned Keras model, and publishes to Kaggle; "
                   "tests/test_keras_source.py runs these commands "
                   "(export.kaggle with --dry_run) on one",
}
# Blocks run by the tests below, by name (each test says how).
RUN = {"usage", "intermediate_activations", "lite_files", "tfjs_files",
       "onnx_files", "onnx_usage", "own_model", "own_config", "signing",
       "verify", "offline_caches"}
SIGNED = {  # The modules the "verify" block checks.
    "tf2": "google/imagenet/mobilenet_v1_050_160/feature_vector/5",
    "lite": "tensorflow/lite-model/mobilenet_v1_0.50_160/1/default/1",
}
SUBSTITUTIONS = {
    "signing": [(
        "python -m export.one --config v1_050_160 --output_dir out "
        "--sign_key ours.key.pem",
        "python -m export.one --config v1_050_160 --output_dir out "
        "--sign_key ours.key.pem --synthetic " +
        " ".join(f"--only={h}" for h in SIGNED.values()))],
}

Block = collections.namedtuple("Block", "name lang code line")


def blocks(text):
  """[Block] of `text`'s fenced blocks (name: the mark above it, or None)."""
  found, lines, i = [], text.split("\n"), 0
  while i < len(lines):
    fence = FENCE.match(lines[i])
    if not fence:
      i += 1
      continue
    end = next((j for j in range(i + 1, len(lines))
                if lines[j].startswith("```")), None)
    if end is None:
      raise AssertionError(f"README.md:{i + 1}: unclosed ``` block")
    mark = MARK.match(lines[i - 1]) if i else None
    found.append(Block(mark.group(1) if mark else None, fence.group(1),
                       "\n".join(lines[i + 1:end]) + "\n", i + 1))
    i = end + 1
  return found


def problems(text):
  """What keeps `text`'s blocks from being all run or listed, one line each."""
  found, seen = [], collections.Counter()
  for block in blocks(text):
    if block.name is None:
      found.append(f"README.md:{block.line}: a ```{block.lang} block without "
                   "a `<!-- readme-test: NAME -->` line above it")
    elif block.name not in RUN and block.name not in NOT_RUN:
      found.append(f"README.md:{block.line}: {block.name!r} is neither run "
                   "(RUN) nor listed as not run (NOT_RUN) in "
                   "tests/test_readme.py")
    seen[block.name] += 1
  found += [f"README.md: {name!r} marks {n} blocks" for name, n in
            seen.items() if name and n > 1]
  found += [f"tests/test_readme.py: no README block is {name!r}"
            for name in sorted((RUN | set(NOT_RUN)) - set(seen))]
  return found


def _readme():
  with open(README, encoding="utf-8") as f:
    return f.read()


def block(name):
  """The code of the README block `name`, with its SUBSTITUTIONS made."""
  (code,) = [b.code for b in blocks(_readme()) if b.name == name]
  for old, new in SUBSTITUTIONS.get(name, ()):
    assert code.count(old) == 1, f"README block {name!r} no longer has {old!r}"
    code = code.replace(old, new)
  return code


# --- Every block is run or listed ---------------------------------------------


def test_every_block_is_run_or_listed():
  assert problems(_readme()) == []


def test_a_new_or_stale_block_is_caught():
  text = _readme()
  added = text + "\nNew:\n\n```sh\npython -m export.one --help\n```\n"
  line = len(text.split("\n")) + 3  # Of the new fence.
  assert problems(added) == [
      f"README.md:{line}: a ```sh block without a `<!-- readme-test: NAME -->`"
      " line above it"]
  unknown = text + "\n<!-- readme-test: mine -->\n```python\nx = 1\n```\n"
  assert problems(unknown) == [
      f"README.md:{line - 1}: 'mine' is neither run (RUN) nor listed as not "
      "run (NOT_RUN) in tests/test_readme.py"]
  removed = text.replace("<!-- readme-test: verify -->\n", "")
  assert len(problems(removed)) == 2  # Unmarked, and "verify" is gone.


# --- Running blocks -----------------------------------------------------------


class SnippetError(AssertionError):
  """A README block failed: names the block, the command and its output."""


def _bin_dir(work):
  """A directory whose `python` is the interpreter running the tests."""
  path = os.path.join(work, ".bin")
  os.makedirs(path, exist_ok=True)
  # A script, not a symlink: a venv's python finds its venv by its path.
  with open(os.path.join(path, "python"), "w", encoding="utf-8") as f:
    f.write(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
  os.chmod(os.path.join(path, "python"), 0o755)
  return path


def run_sh(name, code, work, cache_dir, timeout=900):
  """Runs sh `code` (README block `name`) in `work`, stopping at the first
  failing command; raises SnippetError naming it."""
  env = dict(os.environ, PATH=f"{_bin_dir(work)}:{os.environ['PATH']}",
             PYTHONPATH=REPO, EXPORT_CACHE_DIR=cache_dir, EDITOR="true",
             TF_CPP_MIN_LOG_LEVEL="3")
  proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-x", "-c", code],
                        cwd=work, env=env, capture_output=True, text=True,
                        timeout=timeout)
  if proc.returncode != 0:
    traced = [l for l in proc.stderr.splitlines() if l.startswith("+ ")]
    raise SnippetError(
        f"README block {name!r} failed (exit {proc.returncode}) at: "
        f"{traced[-1] if traced else '?'}\n{proc.stdout[-2000:]}\n"
        f"{proc.stderr[-3000:]}")
  return proc


SHAPE_COMMENT = re.compile(r"^(\w+) = .*#\s*\[([\w, ]+)\]\s*$")


def run_python(name, code, work, python):
  """Runs Python `code` (README block `name`) with `python` in `work`, then
  checks each `x = ...  # [batch, ...]` comment against x's shape."""
  shapes = {m.group(1): [None if d.strip() == "batch" else int(d)
                         for d in m.group(2).split(",")]
            for m in map(SHAPE_COMMENT.match, code.splitlines()) if m}
  epilogue = (
      "\nimport json as _json\n"
      "def _shape(_v):\n"
      "  _s = _v.shape\n"
      "  return _s.as_list() if hasattr(_s, 'as_list') else list(_s)\n"
      f"print('SHAPES ' + _json.dumps({{_n: _shape(globals()[_n]) for _n in "
      f"{sorted(shapes)!r}}}))\n")
  script = os.path.join(work, f"{name}.py")
  with open(script, "w", encoding="utf-8") as f:
    f.write(code + epilogue)
  proc = subprocess.run([python, script], cwd=work, capture_output=True,
                        text=True, timeout=900,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  if proc.returncode != 0:
    raise SnippetError(f"README block {name!r} failed with {python}:\n"
                       f"{proc.stderr[-3000:]}")
  (line,) = [l for l in proc.stdout.splitlines() if l.startswith("SHAPES ")]
  got = json.loads(line[len("SHAPES "):])
  assert got == shapes, f"README block {name!r}: shapes {got}, comments say " \
                        f"{shapes}"
  return proc


def _output_dir(variant, handle):
  """The output directory of `variant` (a conftest Variant) holding
  `handle`."""
  path = variant.modules[handle]
  assert path.endswith("/" + handle)
  return path[:-len(handle) - 1]


def test_a_failing_command_is_named(tmp_path, cache_dir):
  with pytest.raises(SnippetError, match=r"at: \+ python -m export.one "
                     r"--no_such_flag"):
    run_sh("broken", "true\npython -m export.one --no_such_flag\necho never\n",
           str(tmp_path), cache_dir)


# The "Intermediate activations" snippet as the README had it.
OLD_ACTIVATIONS = """\
import tensorflow.compat.v1 as tf
import tensorflow_hub as hub  # 0.15, TF1 graphs (hub.Module)

module = hub.Module("out/google/imagenet/mobilenet_v2_140_224/feature_vector/1")
outputs = module(images, signature="image_feature_vector", as_dict=True)
layer_7 = outputs["MobilenetV2/layer_7/output"]      # [batch, 28, 28, 48]
features = outputs["default"]                         # [batch, 1792]
"""


@pytest.mark.slow
def test_a_python_block_that_fails_is_caught(activations_work):
  """The activations snippet as the README had it fails (hub.Module under
  eager execution, before `images`, which it never defined, is reached),
  and so does a shape comment that does not hold."""
  with pytest.raises(SnippetError, match="eager"):
    run_python("old", OLD_ACTIVATIONS, activations_work, LEGACY_PYTHON)
  with pytest.raises(AssertionError, match=r"shapes \{'x': \[2, 3\]\}"):
    run_python("shape", "import numpy as np\n"
               "x = np.zeros([2, 3])  # [batch, 4]\n", activations_work,
               sys.executable)


def _command_flags(command):
  """The flags `python -m export.<command>` defines (absl --helpfull)."""
  proc = subprocess.run([sys.executable, "-m", f"export.{command}",
                         "--helpfull"], cwd=REPO, capture_output=True,
                        text=True, timeout=300,
                        env=dict(os.environ, PYTHONPATH=REPO))
  # absl exits 1 after printing the help.
  found = set(re.findall(r"^  --(?:\[no\])?(\w+):", proc.stdout, re.M))
  assert "helpfull" in found, proc.stdout[-2000:] + proc.stderr[-2000:]
  return found


def test_usage_names_only_flags_the_commands_have():
  """The synopsis (not runnable: it shows alternatives in brackets): every
  `--flag` of each `python -m export.<command>` line is one of that
  command's flags. (Its bazel lines: tests/test_bazel.py.)"""
  code = re.sub(r"\\\n\s*", " ", block("usage"))
  commands = re.findall(r"^\.venv/bin/python -m export\.(\w+)(.*)$", code,
                        re.M)
  assert len(commands) >= 5
  for command, args in commands:
    shown = set(re.findall(r"--(\w+)", args))
    assert shown - _command_flags(command) == set(), command


@pytest.fixture(scope="module")
def activations_work(variant, tmp_path_factory):
  """A working directory whose out/ holds the session's V2 1.4/224 feature
  vector/1 (shared with tests/test_endpoints.py)."""
  handle = "google/imagenet/mobilenet_v2_140_224/feature_vector/1"
  v = variant("v2_140_224", only=[handle])
  work = tmp_path_factory.mktemp("readme_activations")
  os.symlink(_output_dir(v, handle), work / "out")
  return str(work)


@pytest.mark.slow
def test_intermediate_activations(activations_work):
  """In the legacy venv (hub.Module)."""
  run_python("intermediate_activations", block("intermediate_activations"),
             activations_work, LEGACY_PYTHON)


def _listed_files(name):
  """{listed path below out/: (config name, handle)} of a file listing."""
  from export.core import config
  owners = {m.handle: cfg.name for cfg in config.load_all()
            for m in cfg.modules}
  listed = {}
  for line in block(name).splitlines():
    assert line.startswith("out/"), line
    rest = line[len("out/"):]
    handle = next((h for h in owners if rest.startswith((h + "/", h + "."))),
                  None)
    assert handle, f"README block {name!r}: no module writes {line}"
    listed[rest] = (owners[handle], handle)
  return listed


@pytest.mark.parametrize("name", ["lite_files", "tfjs_files", "onnx_files"])
def test_file_listings_are_what_an_export_writes(variant, name):
  """Each listed file (`...`: a listed directory's files) is in the export
  of its module (the session's, shared with test_lite and test_tfjs)."""
  listed = _listed_files(name)
  wanted = collections.defaultdict(set)
  for config_name, handle in listed.values():
    wanted[config_name].add(handle)
  exports = {c: variant(c, only=sorted(h)) for c, h in wanted.items()}
  for rest, (config_name, handle) in listed.items():
    out = _output_dir(exports[config_name], handle)
    if rest.endswith("/..."):
      directory = os.path.join(out, rest[:-len("/...")])
      assert os.listdir(directory), rest
    else:
      assert os.path.isfile(os.path.join(out, rest)), rest


def test_onnx_usage(variant, tmp_path):
  """Run where out/ holds the session's V1 0.5/160 ONNX models (shared with
  tests/test_onnx.py); its shape comments hold, and the metadata and labels
  are what it says."""
  from export.core import config
  cfg = config.load("v1_050_160")
  handles = [m.handle for m in cfg.modules if m.is_onnx]
  v = variant("v1_050_160", only=handles)
  os.symlink(_output_dir(v, handles[0]), tmp_path / "out")
  code = block("onnx_usage") + (
      "\nassert meta['handle'] == path[len('out/'):], meta\n"
      "assert meta['input_range'] == '[0, 1]' and len(labels) == 1001\n"
      "assert labels[0] == 'background'\n")
  run_python("onnx_usage", code, str(tmp_path), sys.executable)


def _own_checkpoint(work):
  """A synthetic checkpoint of one's own in `work`/train (V1 0.25, 5
  classes) and its label file."""
  from export.core import config
  from export.sources import synthetic
  with open(os.path.join(work, "labels.txt"), "w", encoding="utf-8") as f:
    f.write("".join(f"flower_{i}\n" for i in range(5)))
  shape = os.path.join(work, "shape.yaml")
  with open(shape, "w", encoding="utf-8") as f:
    f.write("family: custom\narchitecture: mobilenet_v1\n"
            "depth_multiplier: 0.25\ninput_size: 192\nnum_classes: 5\n"
            "labels: labels.txt\nmodel:\n  publisher: acme\n  name: shape\n"
            "  title: t\n  dataset: d\n  description: d.\n  authors: a\n"
            "checkpoint:\n  path: train\n"
            "modules:\n  - {kind: classification, format: hub}\n")
  synthetic.write(config.load(shape),
                  os.path.join(work, "train", "model.ckpt-1000"))
  os.remove(shape)


@pytest.mark.slow
def test_own_model(tmp_path, cache_dir):
  """new_config, export, cards, Kaggle dry run, on a checkpoint of one's
  own: every command succeeds, and each writes what it says."""
  work = str(tmp_path)
  _own_checkpoint(work)
  proc = run_sh("own_model", block("own_model"), work, cache_dir)
  from export.core import config
  cfg = config.load(os.path.join(work, "flowers.yaml"))
  with open(os.path.join(work, "out", "manifest.json"), encoding="utf-8") as f:
    assert set(json.load(f)["modules"]) == {m.handle for m in cfg.modules}
  for m in cfg.modules:
    assert os.path.isdir(os.path.join(work, "out", m.handle)), m.handle
  from export.cards import facts
  for m in cfg.modules:
    assert os.path.isfile(os.path.join(work, "docs", facts.docs_path(m)))
  assert f"{len(cfg.modules)} versions" in proc.stdout


def test_own_config(tmp_path):
  """The example config loads as written (its label file, checkpoint and
  calibration images in place), with the handles its comments give; its
  cards load it from where the prose says, and from Kaggle once it names
  an owner."""
  from export import cards
  from export.core import config
  import numpy as np
  from PIL import Image
  work = tmp_path
  text = block("own_config")
  (work / "labels.txt").write_text("".join(f"f{i}\n" for i in range(5)))
  (work / "images").mkdir()
  Image.fromarray(np.zeros([8, 8, 3], np.uint8)).save(work / "images" /
                                                      "a.png")
  (work / "flowers.yaml").write_text(text)
  cfg = config.load(str(work / "flowers.yaml"))
  assert (cfg.architecture, cfg.depth_multiplier, cfg.input_size,
          cfg.num_classes) == ("mobilenet_v2", 0.6, 192, 5)
  listed = [line for line in text.splitlines() if line.startswith("  - {")]
  assert len(listed) == len(cfg.modules)
  for line, module in zip(listed, cfg.modules):
    comment = line.partition("#")[2].strip()
    if comment:
      want = comment.replace("<name>", cfg.model.name)
      assert (module.handle == want if not want.startswith("...") else
              module.handle.endswith(want[3:])), (line, module.handle)
  readme = _readme()
  local = re.findall(r'`(path = "out/[^"]+")`', readme)
  on_kaggle = re.findall(r'`(path = kagglehub\.model_download\("[^"]+"\))`',
                         readme)
  assert local and on_kaggle
  tree = cards.render_all([cfg])
  for quoted in local:
    assert any(quoted in card for card in tree.values()), quoted
  (work / "flowers.yaml").write_text(text.replace(
      "  authors:", "  kaggle_owner: acme\n  authors:"))
  tree = cards.render_all([config.load(str(work / "flowers.yaml"))])
  for quoted in on_kaggle:
    assert any(quoted in card for card in tree.values()), quoted


@pytest.fixture(scope="module")
def signed_work(tmp_path_factory, cache_dir):
  """The working directory after the "signing" block: a key pair made by
  openssl and a signed export (synthetic checkpoint) in out/."""
  work = str(tmp_path_factory.mktemp("readme_signing"))
  run_sh("signing", block("signing"), work, cache_dir)
  return work


@pytest.mark.slow
def test_signing(signed_work):
  with open(os.path.join(signed_work, "ours.key.pem"), encoding="ascii") as f:
    assert "PRIVATE KEY" in f.read()
  for handle in SIGNED.values():
    assert os.path.isfile(os.path.join(signed_work, "out", handle,
                                       "model.sig")), handle


@pytest.mark.slow
def test_verify(signed_work, synthetic_checkpoint, cache_dir):
  """Every command of the block succeeds on the signed export, the
  `--rebuild` one given the synthetic checkpoint packed as the published
  archive is (`mobilenet_v1_0.5_160.ckpt.*`); the model_signing tool checks
  a module directory and a Lite module's file. Then a changed byte in the
  Lite file fails the block."""
  prefix = synthetic_checkpoint("v1_050_160")
  with tarfile.open(os.path.join(signed_work, "mobilenet_v1_0.5_160.tgz"),
                    "w:gz") as tar:
    for suffix in (".index", ".data-00000-of-00001"):
      tar.add(prefix + suffix,
              arcname=f"mobilenet_v1_0.5_160/mobilenet_v1_0.5_160.ckpt{suffix}")
  proc = run_sh("verify", block("verify"), signed_work, cache_dir)
  assert proc.stdout.count("Verification succeeded") + proc.stderr.count(
      "Verification succeeded") == 2
  lite = os.path.join(signed_work, "out", SIGNED["lite"], "model.tflite")
  _flip_byte(lite)
  try:
    with pytest.raises(SnippetError, match="at: \\+ python -m export.verify"):
      run_sh("verify", block("verify"), signed_work, cache_dir)
  finally:
    _flip_byte(lite)  # In place: `<handle>.tflite` is a hard link of it.


def _flip_byte(path, offset=1000):
  with open(path, "r+b") as f:
    f.seek(offset)
    byte = f.read(1)
    f.seek(offset)
    f.write(bytes([byte[0] ^ 1]))


# --- The numbers the README states --------------------------------------------


def _computed():
  """The counts the README states, computed from the configs, the cards,
  the Kaggle layout and the published cards kept as test data."""
  from export import cards
  from export.core import config
  from export.core import signatures
  from export.destinations import kaggle_layout
  configs = config.load_all()
  modules = [(c, m) for c in configs for m in c.modules]
  tf12 = [(c, m) for c, m in modules
          if not (m.is_lite or m.is_tfjs or m.is_onnx)]
  test_bucket = [m for _, m in modules if m.served_url]
  copies = collections.Counter()
  for c in configs:
    seen = set()
    for m in c.modules:
      iface = signatures.interface(m)
      if iface in seen:
        copies["tfjs" if m.is_tfjs else "lite" if m.is_lite else
               "onnx" if m.is_onnx else "tf12"] += 1
      seen.add(iface)
  published = os.path.join(REPO, "tests", "testdata", "published_cards")
  published_cards = [os.path.relpath(os.path.join(d, f), published)
                     for d, _, files in os.walk(published) for f in files
                     if f.endswith(".md") and f != "README.md"]
  publisher_pages = [p for p in published_cards if p.count("/") == 1]
  v1 = [c for c in configs if c.architecture == "mobilenet_v1"]
  return dict(
      artifacts=len(modules),
      configs=len(configs),
      float_configs=sum(not c.quantized for c in configs),
      quantops_configs=sum(c.quantized and any(
          m.quantized and not (m.is_lite or m.is_onnx) for m in c.modules)
                           for c in configs),
      family_tf12=len(tf12) - len(test_bucket),
      tf12=len(tf12),
      lite=sum(m.is_lite for _, m in modules),
      tfjs=sum(m.is_tfjs for _, m in modules),
      onnx=sum(m.is_onnx for _, m in modules),
      cards=len(cards.render_all(configs)),
      published_cards=len(published_cards) - len(publisher_pages),
      publisher_pages=len(publisher_pages),
      published_tfjs_cards=sum("/tfjs/" in p for p in published_cards),
      kaggle_versions=sum(kaggle_layout.locate(c, m) is not None
                          for c, m in modules),
      copies=sum(copies.values()), tf12_copies=copies["tf12"],
      tfjs_copies=copies["tfjs"],
      v1_lite_float=sum(any(m.is_lite for m in c.modules) and not c.quantized
                        for c in v1),
      v1_lite_quantized=sum(any(m.is_lite for m in c.modules) and c.quantized
                            for c in v1),
      # The TF2 feature vectors of the two layouts over the size target.
      size_misses=sum(m.format == "saved_model_2" and
                      m.kind == "feature_vector" and
                      (c.architecture, c.depth_multiplier) in
                      {("mobilenet_v1", 0.25), ("mobilenet_v2", 0.35)}
                      for c, m in tf12),
  )


# (pattern, the computed facts its groups state); every pattern must match
# somewhere, and every match must state them. A space matches line breaks.
STATED = [
    (r"(\d+)\s+artifacts\b", ["artifacts"]),
    (r"\b(\d+) configs\b", ["configs"]),
    (r"(\d+) configs \((\d+) float, (\d+) quantops, and V2 1\.0/224's",
     ["configs", "float_configs", "quantops_configs"]),
    (r"(\d+) TF1 and TF2 modules,\s+the test-bucket module",
     ["family_tf12"]),
    (r"of the (\d+) TF1 and TF2\s+modules", ["tf12"]),
    (r"(\d+) Lite files\b", ["lite"]),
    (r"(?:and |the |, )(\d+) TF\.js models(?! \(those)", ["tfjs"]),
    (r"\b(\d+) ONNX models\b", ["onnx"]),
    (r"all (\d+) cards in", ["cards"]),
    (r"an earlier session; (\d+) now", ["cards"]),
    (r"the (\d+) published cards \(and\s+the two publishers' pages\)",
     ["published_cards"]),
    (r"the (\d+) published cards at hand are\s+compared",
     ["published_tfjs_cards"]),
    (r"\[ ?\d+/(\d+)\] exported", ["artifacts"]),
    (r"whole family[^.|]*?\(?(\d+) versions", ["kaggle_versions"]),
    (r"(\d+) of the (\d+) artifacts are copies", ["copies", "artifacts"]),
    (r"(\d+) of the (\d+) TF1 and TF2 modules\s+\(V2 version 2",
     ["tf12_copies", "tf12"]),
    (r"(\d+) TF\.js\s+models \(those of V2 version 2\)", ["tfjs_copies"]),
    (r"Every MobileNet V1 variant \((\d+) float, (\d+) from",
     ["v1_lite_float", "v1_lite_quantized"]),
    (r"missed for (\d+) of the (\d+) TF1 and TF2\s+modules",
     ["size_misses", "tf12"]),
]


def stated_problems(text, computed):
  """Where `text` states other numbers than `computed`, one line each."""
  found = []
  for pattern, names in STATED:
    # A space in a pattern is any run of spaces or line breaks.
    matches = list(re.finditer(pattern.replace(" ", r"\s+"), text))
    if not matches:
      found.append(f"README.md states nothing matching {pattern!r}")
    for match in matches:
      want = [computed[n] for n in names]
      got = [int(g) for g in match.groups()]
      if got != want:
        line = text[:match.start()].count("\n") + 1
        found.append(f"README.md:{line}: {match.group(0)!r} states {got}, "
                     f"computed {dict(zip(names, want))}")
  return found


@pytest.mark.slow
def test_offline_caches(variant, tmp_path, cache_dir):
  """The block fills both caches from the session's export of v1_050_160
  (tests/test_cache.py loads from them offline): the version 5 module's
  tfhub.dev URL and the Kaggle handle the README names are there."""
  import hashlib
  handle = "google/imagenet/mobilenet_v1_050_160/classification/5"
  os.symlink(_output_dir(variant("v1_050_160"), handle), tmp_path / "out")
  run_sh("offline_caches", block("offline_caches"), str(tmp_path), cache_dir)
  url = f"https://tfhub.dev/{handle}".encode()
  assert os.path.isfile(tmp_path / "tfhub_modules" /
                        hashlib.sha1(url).hexdigest() / "saved_model.pb")
  kaggle = "google/mobilenet-v1/tensorFlow2/050-160-classification/2"
  assert kaggle in _readme()
  assert os.path.isfile(tmp_path / "kagglehub" / "models" /
                        f"{kaggle[:-2]}" / "2.complete")
  assert os.path.isfile(tmp_path / "kagglehub" / "models" / kaggle /
                        "saved_model.pb")


def test_stated_numbers_are_the_computed_ones():
  computed = _computed()
  assert computed["publisher_pages"] == 2  # "the two publishers' pages".
  assert stated_problems(_readme(), computed) == []


def test_a_stale_number_is_caught():
  computed = _computed()
  stale = _readme().replace("graphs of all 55 configs",
                            "graphs of all 54 configs")
  stale = stale.replace("all 823 cards in", "all 337 cards in")
  found = stated_problems(stale, computed)
  assert len(found) == 2, found
  assert "'54 configs' states [54], computed {'configs': 55}" in found[0]
  assert "'all 337 cards in' states [337], computed {'cards': 823}" in (
      found[1])


# (pattern, Python distribution in this venv or npm package in
# package-lock.json): the README's version equals (or is the start of) the
# installed one.
STATED_VERSIONS = [
    (r"\(TensorFlow (\d+\.\d+),", "tensorflow"),
    (r"tf-keras (\d+\.\d+)", "tf_keras"),
    (r"tensorflow-hub (\d+\.\d+\.\d+)", "tensorflow-hub"),
    (r"tf-slim (\d+\.\d+\.\d+)", "tf-slim"),
    (r"`tensorflowjs` (\d+\.\d+\.\d+)", "tensorflowjs"),
    (r"kagglehub (\d+\.\d+\.\d+)", "kagglehub"),
    (r"kagglesdk (\d+\.\d+\.\d+)", "kagglesdk"),
    (r"`model-signing` (\d+\.\d+\.\d+)", "model-signing"),
    (r"LiteRT (\d+\.\d+\.\d+)", "ai-edge-litert"),
    (r"`-backend-wasm` (\d+\.\d+\.\d+)", "npm:@tensorflow/tfjs-backend-wasm"),
    (r"`@tensorflow-models/mobilenet` (\d+\.\d+\.\d+)",
     "npm:@tensorflow-models/mobilenet"),
    (r"`isal` (\d+\.\d+\.\d+)", "isal"),
]


def test_stated_versions_are_the_installed_ones():
  from importlib import metadata
  with open(os.path.join(REPO, "package-lock.json"), encoding="utf-8") as f:
    npm = json.load(f)["packages"]
  text = _readme()
  for pattern, package in STATED_VERSIONS:
    stated = re.findall(pattern, text)
    assert stated, f"README.md states no version matching {pattern!r}"
    installed = (npm[f"node_modules/{package[4:]}"]["version"]
                 if package.startswith("npm:") else metadata.version(package))
    for version in stated:
      assert f"{installed}.".startswith(f"{version}."), (package, version,
                                                         installed)

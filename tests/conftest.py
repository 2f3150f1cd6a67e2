"""Session fixtures: synthetic checkpoints and exports, made once per variant.

`variant(name)` exports every module of a config from its synthetic
checkpoint the first time a test asks for it and hands the same result to
every later test; `slim_reference` gives what the plain Slim graph computes
on the same checkpoint, the ground truth every module is compared with.
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _launcher(launcher, default):
  """Under `bazel test`, @project_venv's `launcher` in runfiles; else
  `default`."""
  in_runfiles = os.path.join(os.path.dirname(REPO), "project_venv", launcher)
  if os.environ.get("TEST_SRCDIR") and os.path.exists(in_runfiles):
    return in_runfiles
  return default


def _venv_python(venv, launcher):
  """The python of `venv` (made by scripts/setup.sh), or its launcher."""
  return _launcher(launcher, os.path.join(REPO, venv, "bin", "python"))


# The legacy consumer (TF 2.15, tensorflow-hub 0.15) and the TFLite support
# library, each in its own venv.
LEGACY_PYTHON = _venv_python(".venv-legacy", "legacy_python")
LITE_PYTHON = _venv_python(".venv-lite", "lite_python")
# Node, whose scripts in tests/tfjs find the TF.js runtime in node_modules.
NODE = _launcher("node", "node")
VARIANT = "v1_050_160"


def run_cli(module, *args, env=None, timeout=600):
  """Runs `python -m export.<module> args...` from the repo root."""
  full_env = dict(os.environ, **(env or {}))
  full_env["PYTHONPATH"] = REPO
  return subprocess.run([sys.executable, "-m", f"export.{module}", *args],
                        cwd=REPO, env=full_env, capture_output=True,
                        text=True, timeout=timeout)


def write_checkpoint(config_name, prefix):
  from export.core import config
  from export.sources import synthetic
  synthetic.write(config.load(config_name), prefix)
  return prefix


def export(cfg, output_dir, cache_dir, only=None):
  """Exports `cfg`'s modules (or `only` those) from its synthetic checkpoint,
  the way the CLIs do (runner, manifest, archives), in this process.

  Returns:
    {handle: module directory}.
  """
  from export.pipeline import runner
  from export.sources import source
  results = runner.export_config(
      cfg, source.Source(synthetic=True, cache_dir=cache_dir), output_dir,
      only)
  failed = [f"{r.handle}: {r.status} {r.error or ''}" for r in results
            if r.status not in (runner.EXPORTED, runner.UP_TO_DATE)]
  if failed:
    raise RuntimeError("export failed: " + "; ".join(failed))
  return {r.handle: os.path.join(output_dir, r.handle) for r in results}


def run_node(script, request, tmp_path, timeout=300):
  """Runs tests/tfjs/<script> (TF.js in Node, wasm backend) on `request`
  (a JSON-able dict); returns its JSON report."""
  request_path = os.path.join(str(tmp_path), f"{script}.request.json")
  with open(request_path, "w", encoding="utf-8") as f:
    json.dump(request, f)
  proc = subprocess.run(
      [NODE, os.path.join(REPO, "tests", "tfjs", script), request_path],
      cwd=REPO, capture_output=True, text=True, timeout=timeout)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return json.loads(proc.stdout.strip().splitlines()[-1])


def images(size, batch=3, seed=0):
  """Deterministic test images in [0, 1]."""
  return np.random.default_rng(seed).uniform(
      0.0, 1.0, (batch, size, size, 3)).astype(np.float32)


class SlimReference:
  """(features, logits) of the plain Slim graph in inference mode.

  Built directly with the Slim builder and restored with a tf.compat.v1
  Saver from the checkpoint: the model the modules must match.
  """

  def __init__(self, cfg, prefix):
    self.cfg, self.prefix, self.sessions = cfg, prefix, {}

  def __call__(self, batch, with_logits=True):
    import tensorflow.compat.v1 as tf
    from export import nets
    key = batch.shape[1:]
    if key not in self.sessions:
      graph = tf.Graph()
      with graph.as_default():
        x = tf.placeholder(tf.float32, [None, *key])
        out = nets.build(self.cfg.architecture, x * 2.0 - 1.0,
                         depth_multiplier=self.cfg.depth_multiplier,
                         num_classes=1001, is_training=False)
        sess = tf.Session(graph=graph)
        tf.train.Saver().restore(sess, self.prefix)
      self.sessions[key] = (sess, x, out)
    sess, x, out = self.sessions[key]
    features, logits = sess.run([out.features, out.logits], {x: batch})
    return (features, logits) if with_logits else (features,)


@dataclasses.dataclass
class Variant:
  cfg: object
  ckpt_prefix: str
  modules: dict        # {handle: exported directory}
  reference: SlimReference

  def handle(self, kind, version):
    from export.core import published
    c = self.cfg
    return published.default_handle(c.publisher, c.architecture,
                                    c.depth_multiplier, c.input_size,
                                    c.quantized, kind, version)

  def module(self, kind, version):
    return self.modules[self.handle(kind, version)]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
  """The session's cache: synthetic checkpoints, as the CLIs keep them."""
  return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def synthetic_checkpoint(cache_dir):
  """synthetic_checkpoint(config name) -> prefix, written once per session
  where the runner finds it."""
  from export.core import config
  from export.sources import source

  def get(name):
    return source.prepare(config.load(name),
                          source.Source(synthetic=True,
                                        cache_dir=cache_dir)).prefix

  return get


@pytest.fixture(scope="session")
def variant(tmp_path_factory, cache_dir, synthetic_checkpoint):
  """variant(config name, only=None) -> Variant, exported once per session.

  `only`: handles to export (default: all of the config's modules but its
  Lite files, TF.js models and ONNX models, which tests/test_lite.py,
  tests/test_tfjs.py and tests/test_onnx_export.py ask for); an export that
  has them all serves every later request.
  """
  from export.core import config
  exported = {}  # config name -> [Variant]

  def get(name, only=None):
    cfg = config.load(name)
    if only is None:
      only = [m.handle for m in cfg.modules
              if not (m.is_lite or m.is_tfjs or m.is_onnx)]
    for v in exported.get(name, []):
      if set(only) <= set(v.modules):
        return v
    out = str(tmp_path_factory.mktemp(f"modules_{name}"))
    modules = export(cfg, out, cache_dir, only)
    prefix = synthetic_checkpoint(name)
    v = Variant(cfg, prefix, modules, SlimReference(cfg, prefix))
    exported.setdefault(name, []).append(v)
    return v

  return get


# The first vertical slice's variant, used by most tests.
@pytest.fixture(scope="session")
def v1(variant):
  return variant(VARIANT)


@pytest.fixture(scope="session")
def cfg():
  from export.core import config
  return config.load(VARIANT)


@pytest.fixture(scope="session")
def ckpt_prefix(synthetic_checkpoint):
  return synthetic_checkpoint(VARIANT)


@pytest.fixture(scope="session")
def exported(v1):
  return v1.modules


@pytest.fixture(scope="session")
def slim_reference(v1):
  return v1.reference


def handle(kind, version):
  return f"google/imagenet/mobilenet_{VARIANT}/{kind}/{version}"


"""Session fixtures: one synthetic checkpoint and one export, reused by tests."""

import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _legacy_python():
  """The legacy venv's python; under `bazel test`, its launcher in runfiles."""
  in_runfiles = os.path.join(os.path.dirname(REPO), "project_venv",
                             "legacy_python")
  if os.environ.get("TEST_SRCDIR") and os.path.exists(in_runfiles):
    return in_runfiles
  return os.path.join(REPO, ".venv-legacy", "bin", "python")


LEGACY_PYTHON = _legacy_python()
VARIANT = "v1_050_160"


def run_cli(module, *args, env=None, timeout=600):
  """Runs `python -m export.<module> args...` from the repo root."""
  full_env = dict(os.environ, **(env or {}))
  full_env["PYTHONPATH"] = REPO
  return subprocess.run([sys.executable, "-m", f"export.{module}", *args],
                        cwd=REPO, env=full_env, capture_output=True,
                        text=True, timeout=timeout)


def write_checkpoint(config_name, prefix):
  from export import config, synthetic_checkpoint
  synthetic_checkpoint.write(config.load(config_name), prefix)
  return prefix


@pytest.fixture(scope="session")
def cfg():
  from export import config
  return config.load(VARIANT)


@pytest.fixture(scope="session")
def ckpt_prefix(tmp_path_factory):
  return write_checkpoint(VARIANT,
                          str(tmp_path_factory.mktemp("ckpt") / "model.ckpt"))


@pytest.fixture(scope="session")
def exported(cfg, ckpt_prefix, tmp_path_factory):
  """Every module of v1_050_160, exported once: {handle: directory}."""
  from export import exporter
  out = str(tmp_path_factory.mktemp("modules"))
  planned = exporter.plan(cfg, out)
  exporter.export_modules(cfg, ckpt_prefix, planned, out, log=lambda _: None)
  return {p.module.handle: p.dest for p in planned}


def handle(kind, version):
  return f"google/imagenet/mobilenet_{VARIANT}/{kind}/{version}"


def images(size, batch=3, seed=0):
  """Deterministic test images in [0, 1]."""
  return np.random.default_rng(seed).uniform(
      0.0, 1.0, (batch, size, size, 3)).astype(np.float32)


@pytest.fixture(scope="session")
def slim_reference(cfg, ckpt_prefix):
  """fn(images, num_classes) -> (features, logits) of the plain Slim graph.

  Built directly with the Slim builder in inference mode and restored with a
  tf.compat.v1 Saver from the checkpoint: the model the modules must match.
  """
  import tensorflow.compat.v1 as tf
  from export import nets
  cache = {}

  def compute(batch, with_logits):
    key = (batch.shape[1:], with_logits)
    if key not in cache:
      graph = tf.Graph()
      with graph.as_default():
        x = tf.placeholder(tf.float32, [None, *batch.shape[1:]])
        out = nets.build(cfg.architecture, x * 2.0 - 1.0,
                         depth_multiplier=cfg.depth_multiplier,
                         num_classes=1001 if with_logits else None,
                         is_training=False)
        sess = tf.Session(graph=graph)
        tf.train.Saver().restore(sess, ckpt_prefix)
      cache[key] = (sess, x, out)
    sess, x, out = cache[key]
    fetches = [out.features] + ([out.logits] if with_logits else [])
    return sess.run(fetches, {x: batch})

  return compute

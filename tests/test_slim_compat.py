"""The tf-slim compat fixes are needed on this TensorFlow, and work."""

import subprocess
import sys
import textwrap

from tests.conftest import REPO

_BATCH_NORMS = textwrap.dedent("""
    import tensorflow.compat.v1 as tf
    {compat}
    import tf_slim as slim
    with tf.Graph().as_default():
      x = tf.placeholder(tf.float32, [None, 4, 4, 3])
      for name, kwargs in [("plain", {{}}),
                           ("fused", dict(updates_collections=None,
                                          is_training=True))]:
        try:
          slim.batch_norm(x, scope=name, **kwargs)
          print(name, "ok")
        except Exception as e:
          print(name, type(e).__name__, e)
""")


def _run(compat):
  code = _BATCH_NORMS.format(
      compat="import export.nets.slim_compat" if compat else "")
  result = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"})
  return result.stdout.splitlines()


def test_both_batch_norm_paths_fail_without_the_fix():
  lines = _run(compat=False)
  assert any(l.startswith("plain ModuleNotFoundError") and
             "tf_keras.legacy_tf_layers" in l for l in lines), lines
  assert any(l.startswith("fused AttributeError") and "Tensor" in l
             for l in lines), lines


def test_both_batch_norm_paths_work_with_the_fix():
  assert _run(compat=True) == ["plain ok", "fused ok"]


def test_apply_is_idempotent():
  from export.nets import slim_compat
  slim_compat.apply()
  slim_compat.apply()
  import tensorflow.python.framework.ops as ops  # pylint: disable=g-direct-tensorflow-import
  import tensorflow as tf
  assert ops.Tensor is tf.Tensor

"""Runs in the legacy consumer venv (TF 2.15, tensorflow-hub 0.15).

Loads TF1 Hub format modules with `hub.Module` the way the cards show and
prints one JSON object of observations for the pytest side to assert on.
Not a test module itself: tests/test_legacy_consumer.py runs it.

  python legacy_consumer.py IMAGES.npy MODULE_DIR...

Prints {module dir: observations}. The images must have the modules' size.
"""

import json
import sys

import numpy as np
import tensorflow.compat.v1 as tf
import tensorflow_hub as hub

tf.disable_eager_execution()
tf.logging.set_verbosity(tf.logging.ERROR)



def _first_variable(suffix):
  """The first layer's variable (global_variables() is in creation order)."""
  return next(v for v in tf.global_variables() if v.op.name.endswith(suffix))


def inference(module_dir, batch):
  with tf.Graph().as_default():
    module = hub.Module(module_dir)
    x = tf.placeholder(tf.float32, [None, None, None, 3])
    # hub.Module wants every input of a signature: *_with_bn_hparams ones
    # get the momentum too (it only matters in training mode).
    outputs = {name: module(dict(images=x, batch_norm_momentum=0.99)
                            if name.endswith("_with_bn_hparams") else x,
                            signature=name)
               for name in module.get_signature_names()}
    # Images of another size, known when the module is applied: hub.Module
    # checks them against the signature's input shape then.
    try:
      other_output = module(tf.ones([1, 224, 192, 3]) * 0.5)
    except (TypeError, ValueError):
      other_output = None
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      values = sess.run(outputs, {x: batch})
      other_size = ("refused" if other_output is None
                    else list(sess.run(other_output).shape))
    return {
        "expected_image_size": hub.get_expected_image_size(module),
        "signatures": sorted(module.get_signature_names()),
        "outputs": {k: v.tolist() for k, v in values.items()},
        "other_size_output_shape": other_size,
    }


def training(module_dir, batch):
  """Moving-average updates and a gradient step through tags={"train"}."""
  result = {}
  spec = hub.load_module_spec(module_dir)
  result["tags"] = sorted(sorted(t) for t in spec.get_tags())
  if {"train"} not in [set(t) for t in spec.get_tags()]:
    return result  # Inference only (quantops).
  result["train_signatures"] = sorted(spec.get_signature_names(
      tags={"train"}))
  bn = "image_feature_vector_with_bn_hparams"
  momenta = [None, 0.5, 0.9] if bn in result["train_signatures"] else [None]
  deltas = {}
  for momentum in momenta:
    with tf.Graph().as_default():
      module = hub.Module(module_dir, trainable=True, tags={"train"})
      x = tf.placeholder(tf.float32, [None, *batch.shape[1:]])
      if momentum is None:
        features = module(x, signature="image_feature_vector")
      else:
        features = module(dict(images=x, batch_norm_momentum=momentum),
                          signature=bn)
      update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
      loss = tf.reduce_mean(tf.square(features))
      with tf.control_dependencies(update_ops):
        train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
      moving_mean = _first_variable("BatchNorm/moving_mean")
      weights = _first_variable("/weights")
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before_mean, before_w = sess.run([moving_mean, weights])
        sess.run(train_op, {x: batch})
        after_mean, after_w = sess.run([moving_mean, weights])
      result["num_update_ops"] = len(update_ops)
      result["trainable_variables"] = len(tf.trainable_variables())
      result["weights_changed"] = bool(np.abs(after_w - before_w).max() > 0)
      deltas[str(momentum)] = (after_mean - before_mean).tolist()
  result["moving_mean_deltas"] = deltas
  return result


def main():
  batch = np.load(sys.argv[1])
  print(json.dumps({d: {"inference": inference(d, batch),
                        "training": training(d, batch)}
                    for d in sys.argv[2:]}))


if __name__ == "__main__":
  main()

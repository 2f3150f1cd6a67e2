"""Runs in the legacy consumer venv (TF 2.15, tensorflow-hub 0.15).

What `hub.Module` sees of a module's signatures' outputs, and the public
examples' reads of end points. Not a test module itself: tests/
test_endpoints.py runs it.

  python legacy_endpoints.py REQUEST.json

REQUEST: [{"dir": module dir, "images": .npy path, "read": [[signature,
key], ...]}]. Prints {dir: {"outputs": {signature: {key: shape}}, "read":
{"signature key": values}}}, shapes with None for unknown dimensions.
"""

import json
import sys

import numpy as np
import tensorflow.compat.v1 as tf
import tensorflow_hub as hub

tf.disable_eager_execution()
tf.logging.set_verbosity(tf.logging.ERROR)


def observe(module_dir, images_path, reads):
  with tf.Graph().as_default():
    module = hub.Module(module_dir)
    outputs = {
        name: {key: info.get_shape().as_list()
               for key, info in module.get_output_info_dict(name).items()}
        for name in module.get_signature_names()}
    images = np.load(images_path)
    read = {}
    for signature, key in reads:
      # As the public examples call it: the images, then the key.
      inputs = images if not signature.endswith("_with_bn_hparams") else dict(
          images=images, batch_norm_momentum=0.99)
      read[f"{signature} {key}"] = module(inputs, signature=signature,
                                          as_dict=True)[key]
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      values = sess.run(read)
  return {"outputs": outputs,
          "read": {k: v.tolist() for k, v in values.items()}}


def main():
  with open(sys.argv[1], encoding="utf-8") as f:
    request = json.load(f)
  print(json.dumps({r["dir"]: observe(r["dir"], r["images"], r["read"])
                    for r in request}))


if __name__ == "__main__":
  main()

"""Runs in the legacy consumer venv (TF 2.15, tensorflow-hub 0.15).

Loads TF2 SavedModels (versions 4 and 5) with `hub.KerasLayer` as their cards
show and prints one JSON object of observations for the pytest side to assert
on.
Not a test module itself: tests/test_legacy_consumer.py runs it.

  python legacy_keras_consumer.py IMAGES.npy MODULE_DIR...

Prints {module dir: observations}. The images must have the modules' size.
"""

import json
import sys

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub


def observe(module_dir, batch):
  layer = hub.KerasLayer(module_dir, trainable=True)
  inference = layer(batch).numpy()
  training = layer(batch, training=True).numpy()
  return {
      "outputs": inference.tolist(),
      "training_output_shape": list(training.shape),
      "num_weights": len(layer.weights),
      "num_trainable_weights": len(layer.trainable_weights),
      "num_losses": len(layer.losses),
      "total_loss": float(tf.add_n(layer.losses).numpy()),
      "signatures": sorted(hub.load(module_dir).signatures),
  }


def main():
  batch = np.load(sys.argv[1])
  print(json.dumps({d: observe(d, batch) for d in sys.argv[2:]}))


if __name__ == "__main__":
  main()

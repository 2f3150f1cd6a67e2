"""What each module kind promises its consumers (names, inputs, defaults).

Pure data about the published modules, shared by the writers, the card
generator and the tests. No TensorFlow here.
"""

import collections

# Batch norm momentum of version 3+ modules, settable by the consumer; older
# versions keep the training default of the architecture.
DEFAULT_BATCH_NORM_MOMENTUM = 0.99
BATCH_NORM_MOMENTUM_INPUT = "batch_norm_momentum"
IMAGES_INPUT = "images"
OUTPUT_KEY = "default"

TRAIN_TAGS = frozenset({"train"})
INFERENCE_TAGS = frozenset()

# output: "logits" or "features"; bn_hparams: takes batch_norm_momentum.
Signature = collections.namedtuple("Signature", ["output", "bn_hparams"])


def tf1_signatures(module):
  """Returns {signature name: Signature} of a TF1 Hub format module.

  A classification module also computes feature vectors; a feature vector
  module has no classifier. Version 3 adds `*_with_bn_hparams` variants that
  take the batch norm momentum as a second input.
  """
  main = "logits" if module.kind == "classification" else "features"
  sigs = {"default": Signature(main, False)}
  if module.kind == "classification":
    sigs["image_classification"] = Signature("logits", False)
  sigs["image_feature_vector"] = Signature("features", False)
  if module.configurable_batch_norm_momentum:
    for name in list(sigs):
      if name != "default":
        sigs[f"{name}_with_bn_hparams"] = Signature(sigs[name].output, True)
  return sigs


def tf1_tag_sets(module):
  """Quantops modules are inference graphs only (the cards say so)."""
  return [INFERENCE_TAGS] if module.quantized else [INFERENCE_TAGS,
                                                     TRAIN_TAGS]


def quantized_input_bound(module):
  """Input range [-bound, bound] of a quantops module's input fake-quant.

  Version 3 overestimates it by 0.05% to avoid a crash in some TFLite/toco
  versions (its changelog; TF Hub GitHub issue 109).
  """
  return 1.0005 if module.version >= 3 else 1.0

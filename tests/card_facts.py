"""What the model cards promise, written down independently of the exporter.

The seeds and ../shared/reference_cards state these per module kind; tests
compare exported modules against this table rather than against the
exporter's own notion of them.
"""

FLOAT_SEED_CONFIGS = ("v1_050_128", "v1_100_128", "v1_050_160", "v2_050_96")
BN = "_with_bn_hparams"


def tf1_signatures(kind, version, quantized=False):
  sigs = {"default", "image_feature_vector"}
  if kind == "classification":
    sigs.add("image_classification")
  if version == 3 and not quantized:  # Fine-tuning with settable momentum.
    sigs |= {s + BN for s in sigs - {"default"}}
  return sigs


def variable_input_size(architecture, version, quantized=False):
  """V1 float cards from version 3 on: "other input sizes are possible";
  every V2 and quantops card: "the size of the input images is fixed"."""
  return architecture == "mobilenet_v1" and version >= 3 and not quantized


def output_width(cfg, kind):
  """num_classes = 1001; num_features = 1024 x dm (V1), 1280 (V2, dm <= 1)."""
  if kind == "classification":
    return 1001
  if cfg.architecture == "mobilenet_v1":
    return int(1024 * cfg.depth_multiplier)
  return 1280 if cfg.depth_multiplier <= 1 else {1.3: 1664,
                                                  1.4: 1792}[
                                                      cfg.depth_multiplier]

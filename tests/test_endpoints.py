"""The TF1 modules' intermediate activations, in the real `hub.Module`.

What each signature outputs is written down apart from the exporter, in
tests/testdata/published_endpoints (its README cites the evidence: TF-Slim's
end point code, public code reading `MobilenetV2/layer_7/output`,
`MobilenetV2/layer_4/depthwise_output`, `MobilenetV2/layer_18` and
`MobilenetV2/Predictions` from the published modules, and the analogous
printed outputs of a published Inception module): every end point of the
architecture with its shape at 1.0/224, output stride and Slim's depth rule,
and the module kinds that have it. Here those rules give the expected keys
and shapes at each tested variant, and tensorflow-hub 0.15's `hub.Module`
(the legacy venv) must list exactly them for every signature; the public
examples' reads must work and give the module's values.

Where the evidence leaves it open, the table's choices are: `default` has
only its one output (the published TF.js models, converted from `default`,
have one output); the `*_with_bn_hparams` signatures have their base's
outputs; a classification module's `image_feature_vector` has all its end
points, the classifier's too (one network, one end point dict).
"""

import json
import math
import os
import re
import subprocess

import numpy as np
import pytest

from tests.conftest import LEGACY_PYTHON, REPO, images

pytestmark = pytest.mark.slow

EVIDENCE = os.path.join(REPO, "tests", "testdata", "published_endpoints",
                        "endpoints.json")
SCRIPT = os.path.join(os.path.dirname(__file__), "legacy_endpoints.py")
LEGACY_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": os.environ["PATH"]}
# (config, TF1 versions), both kinds of each.
CASES = [("v1_050_160", (1, 3)), ("v2_035_96", (1, 2, 3)),
         ("v2_140_224", (1, 2, 3))]
KINDS = ("classification", "feature_vector")
HEAD = ("global_pool", "Logits", "Predictions")


def _evidence():
  with open(EVIDENCE, encoding="utf-8") as f:
    return json.load(f)["architectures"]


def _make_divisible(value):
  """Slim's rounding (evidence: shape_conventions): nearest multiple of 8,
  at least 8, never 10% below."""
  rounded = max(8, int(value + 4) // 8 * 8)
  return rounded + 8 if rounded < 0.9 * value else rounded


def _depth(rule, m, block_input, expansion):
  """The depth an evidence `depth_rule` gives at multiplier `m`."""
  if match := re.fullmatch(r"max\(int\((\d+)\*m\), 8\)", rule):
    return max(int(int(match[1]) * m), 8)
  if match := re.fullmatch(r"make_divisible\((\d+)\*m, 8\)", rule):
    return _make_divisible(int(match[1]) * m)
  if rule.startswith("make_divisible(6 * input depth"):
    return _make_divisible(6 * block_input)
  if rule.startswith("same as expansion_output"):
    return expansion
  if rule.startswith("1280 if m <= 1"):
    return 1280 if m <= 1 else _make_divisible(1280 * m)
  if rule == "num_classes = 1001":
    return 1001
  if rule.startswith(("input depth", "depth of")):
    return block_input
  raise ValueError(f"unknown depth rule {rule!r}")


def expected_end_points(architecture, m, size, variable_size, kind):
  """{key: shape} of a module's end points, from the evidence table."""
  expected = {}
  previous_block = block_input = expansion = None
  for e in _evidence()[architecture]["endpoints"]:
    if kind not in e["kinds"]:
      continue
    name = e["key"].split("/", 1)[1]
    if name in HEAD:
      depth = _depth(e["depth_rule"], m, previous_block, expansion)
      expected[e["key"]] = ([None, 1, 1, depth] if name == "global_pool"
                            else [None, depth])
      continue
    if "/" not in name:  # A block's output: the next block's input.
      block_input = previous_block
    depth = _depth(e["depth_rule"], m, block_input, expansion)
    if "/" not in name:
      previous_block = depth
    if name.endswith("expansion_output"):
      expansion = depth
    side = None if variable_size else math.ceil(size / e["output_stride"])
    expected[e["key"]] = [None, side, side, depth]
  return expected


def expected_outputs(cfg, kind, version):
  """{signature: {key: shape}} of a TF1 module, by the evidence."""
  from tests import card_facts
  variable = card_facts.variable_input_size(cfg.architecture, version)
  end_points = expected_end_points(cfg.architecture, cfg.depth_multiplier,
                                   cfg.input_size, variable, kind)
  width = {"image_classification": 1001,
           "image_feature_vector": card_facts.output_width(
               cfg, "feature_vector")}
  outputs = {"default": {"default": [None, card_facts.output_width(cfg,
                                                                   kind)]}}
  for signature in card_facts.tf1_signatures(kind, version) - {"default"}:
    base = signature.replace(card_facts.BN, "")
    outputs[signature] = {"default": [None, width[base]], **end_points}
  return outputs


def _handle(cfg, kind, version):
  return f"google/imagenet/{cfg.model_name}/{kind}/{version}"


@pytest.fixture(scope="module")
def legacy_observed(variant, tmp_path_factory):
  """({config name: Variant}, what hub.Module observed per module dir)."""
  if not os.path.exists(LEGACY_PYTHON):
    pytest.fail(f"legacy consumer venv missing: {LEGACY_PYTHON}")
  from export.core import config
  work = tmp_path_factory.mktemp("endpoints")
  variants, request = {}, []
  for name, versions in CASES:
    cfg = config.load(name)
    v = variants[name] = variant(name, only=[
        _handle(cfg, kind, version) for kind in KINDS for version in versions])
    batch = os.path.join(str(work), f"{name}.npy")
    np.save(batch, images(cfg.input_size, batch=1, seed=5))
    for kind in KINDS:
      for version in versions:
        reads = []
        if name == "v2_140_224" and kind == "feature_vector":
          # The DeepLab backbone's reads (published_endpoints README, E4).
          reads = [["image_feature_vector", key] for key in (
              "MobilenetV2/layer_7/output", "MobilenetV2/layer_4/"
              "depthwise_output", "MobilenetV2/layer_18")]
        if name == "v2_140_224" and kind == "classification":
          reads = [["image_classification", "MobilenetV2/Predictions"],
                   ["image_classification", "default"]]
        request.append(dict(dir=v.module(kind, version), images=batch,
                            read=reads))
  request_path = os.path.join(str(work), "request.json")
  with open(request_path, "w", encoding="utf-8") as f:
    json.dump(request, f)
  proc = subprocess.run([LEGACY_PYTHON, SCRIPT, request_path],
                        capture_output=True, text=True, timeout=1200,
                        env=LEGACY_ENV)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return variants, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name,version",
                         [(n, v) for n, versions in CASES for v in versions])
def test_hub_module_lists_the_published_outputs(legacy_observed, name,
                                                version, kind):
  variants, observed = legacy_observed
  v = variants[name]
  got = observed[v.module(kind, version)]["outputs"]
  want = expected_outputs(v.cfg, kind, version)
  assert sorted(got) == sorted(want)
  for signature, outputs in want.items():
    assert sorted(got[signature]) == sorted(outputs), signature
    wrong = {k: (got[signature][k], shape) for k, shape in outputs.items()
             if got[signature][k] != shape}
    assert not wrong, (signature, wrong)


def test_public_examples_read_their_end_points(legacy_observed):
  """`hub.Module(url)(images, signature="image_feature_vector",
  as_dict=True)["MobilenetV2/layer_7/output"]` on the 1.4/224 feature
  vector module, and `["MobilenetV2/Predictions"]` from its classification
  module: the activations the module computes (TF 2.21's loader of the same
  files), and the softmax of its logits."""
  import tensorflow as tf
  import tensorflow_hub as hub
  variants, observed = legacy_observed
  v = variants["v2_140_224"]
  batch = images(224, batch=1, seed=5)
  module_dir = v.module("feature_vector", 1)
  reads = observed[module_dir]["read"]
  ours = hub.load(module_dir).signatures["image_feature_vector"](
      images=tf.constant(batch))
  for key, shape in (("MobilenetV2/layer_7/output", (1, 28, 28, 48)),
                     ("MobilenetV2/layer_4/depthwise_output",
                      (1, 56, 56, 192)),
                     ("MobilenetV2/layer_18", (1, 7, 7, 448))):
    got = np.array(reads[f"image_feature_vector {key}"])
    assert got.shape == shape, key
    np.testing.assert_allclose(got, ours[key].numpy(), atol=1e-5, rtol=0)
  reads = observed[v.module("classification", 2)]["read"]
  predictions = np.array(reads["image_classification MobilenetV2/Predictions"])
  logits = np.array(reads["image_classification default"])
  assert predictions.shape == logits.shape == (1, 1001)
  softmax = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
  np.testing.assert_allclose(predictions, softmax, atol=1e-6, rtol=0)


def test_expected_shapes_follow_the_evidence_rules():
  """The table's rules reproduce its own 1.0/224 shapes (so a misread rule
  fails here, not as a module's fault), and a wrong rule is caught."""
  for architecture, table in _evidence().items():
    got = expected_end_points(architecture, 1.0, 224, False, "classification")
    assert got == {e["key"]: e["shape"] for e in table["endpoints"]}
  # Spot checks the published_endpoints README derives for 1.4/224.
  v2 = expected_end_points("mobilenet_v2", 1.4, 224, False, "feature_vector")
  assert v2["MobilenetV2/layer_19"] == [None, 7, 7, 1792]
  assert "MobilenetV2/Logits" not in v2
  with pytest.raises(ValueError):
    _depth("make_divisible(6 * something, 8)", 1.0, 8, 8)

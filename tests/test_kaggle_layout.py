"""Where the family goes on Kaggle Models (export.destinations.kaggle_layout).

The handles below are written out as literals: the examples the layout was
taken from (tests/testdata/kaggle_layout lists where public code and a
public table of tfhub.dev's redirects show them, and the issue's account of
the migrated family), not derived from the exporter. Then the layout over the whole family: one Kaggle version per
module, every variation's versions numbered 1..N in tfhub.dev's order.
"""

import collections

import pytest

from export.core import config
from export.destinations import kaggle_layout

# (config, tfhub.dev handle, Kaggle version handle).
EXAMPLES = [
    ("v2_100_224", "google/imagenet/mobilenet_v2_100_224/classification/5",
     "google/mobilenet-v2/tensorFlow2/100-224-classification/2"),
    ("v2_100_224", "google/imagenet/mobilenet_v2_100_224/classification/4",
     "google/mobilenet-v2/tensorFlow2/100-224-classification/1"),
    ("v2_130_224", "google/imagenet/mobilenet_v2_130_224/classification/5",
     "google/mobilenet-v2/tensorFlow2/130-224-classification/2"),
    ("v2_100_224", "google/imagenet/mobilenet_v2_100_224/feature_vector/3",
     "google/mobilenet-v2/tensorFlow1/100-224-feature-vector/3"),
    ("v1_025_128", "google/imagenet/mobilenet_v1_025_128/feature_vector/3",
     "google/mobilenet-v1/tensorFlow1/025-128-feature-vector/2"),
    ("v2_035_96", "google/imagenet/mobilenet_v2_035_96/classification/2",
     "google/mobilenet-v2/tensorFlow1/035-96-classification/2"),
    ("v1_100_224",
     "google/tfjs-model/imagenet/mobilenet_v1_100_224/classification/3/"
     "default/1", "google/mobilenet-v1/tfJs/100-224-classification/2"),
    ("v2_100_224",
     "google/tfjs-model/imagenet/mobilenet_v2_100_224/classification/2/"
     "default/1", "google/mobilenet-v2/tfJs/100-224-classification/2"),
    ("v1_100_224", "tensorflow/lite-model/mobilenet_v1_1.0_224/1/default/1",
     "tensorflow/mobilenet-v1/tfLite/1-0-224/1"),
    ("v1_025_224_quant",
     "tensorflow/lite-model/mobilenet_v1_0.25_224_quantized/1/default/1",
     "tensorflow/mobilenet-v1/tfLite/0-25-224-quantized/1"),
    ("v1_100_224_quant",
     "tensorflow/lite-model/mobilenet_v1_1.0_224_quantized/1/metadata/1",
     "tensorflow/mobilenet-v1/tfLite/1-0-224-quantized-metadata/1"),
    ("v2_100_224", "tensorflow/lite-model/mobilenet_v2_1.0_224/1/default/1",
     "tensorflow/mobilenet-v2/tfLite/1-0-224/1"),
    ("v1_050_128_quant",
     "google/imagenet/mobilenet_v1_050_128/quantops/feature_vector/3",
     "google/mobilenet-v1/tensorFlow1/050-128-quantops-feature-vector/2"),
    ("v1_100_224_quant",
     "google/imagenet/mobilenet_v1_100_224/quantops/classification/3",
     "google/mobilenet-v1/tensorFlow1/100-224-quantops-classification/2"),
    ("v1_075_160_quant",
     "tensorflow/lite-model/mobilenet_v1_0.75_160_quantized/1/default/1",
     "tensorflow/mobilenet-v1/tfLite/0-75-160-quantized/1"),
    ("v1_100_224",
     "google/tfjs-model/imagenet/mobilenet_v1_100_224/classification/1/"
     "default/1", "google/mobilenet-v1/tfJs/100-224-classification/1"),
]


@pytest.mark.parametrize("name,handle,kaggle", EXAMPLES)
def test_published_examples(name, handle, kaggle):
  cfg = config.load(name)
  assert kaggle_layout.locate(cfg, cfg.module(handle)).handle == kaggle


def test_owners_can_be_mapped():
  cfg = config.load("v1_100_224")
  tf1 = cfg.module("google/imagenet/mobilenet_v1_100_224/classification/1")
  lite = cfg.module("tensorflow/lite-model/mobilenet_v1_1.0_224/1/default/1")
  owners = {"google": "acme", "tensorflow": "acme-lite"}
  assert kaggle_layout.locate(cfg, tf1, owners).handle == (
      "acme/mobilenet-v1/tensorFlow1/100-224-classification/1")
  assert kaggle_layout.locate(cfg, lite, owners).owner == "acme-lite"
  assert kaggle_layout.locate(cfg, lite, {"google": "acme"}).owner == (
      "tensorflow")


def test_whole_family_one_version_each_numbered_in_order():
  """677 artifacts but seed 000's test-bucket module: 676 Kaggle versions,
  all distinct; each variation's versions are 1..N, in tfhub.dev's order
  of the versions they come from."""
  located, skipped = {}, []
  for cfg in config.load_all():
    for m in cfg.modules:
      where = kaggle_layout.locate(cfg, m)
      if where is None:
        skipped.append(m.handle)
      else:
        located[m.handle] = (where, m.version)
  assert skipped == [
      "google/image/imagenet/mobilenet_v1_050_128/classification/1"]
  assert len(located) == 676
  assert len({w.handle for w, _ in located.values()}) == 676
  by_variation = collections.defaultdict(list)
  for where, tfhub_version in located.values():
    by_variation[where.variation_handle].append((tfhub_version,
                                                 where.version))
  for variation, versions in by_variation.items():
    versions.sort()
    assert [k for _, k in versions] == list(range(1, len(versions) + 1)), (
        variation, versions)
  frameworks = collections.Counter(w.framework for w, _ in located.values())
  assert frameworks == {"tensorFlow1": 16 * 2 * 2 + 22 * 2 * 3 + 16 * 2 * 2,
                        "tensorFlow2": 38 * 2 * 2, "tfJs": 196,
                        "tfLite": 68}
  # Lite files under tensorflow/, the rest under google/.
  assert {(w.owner, w.framework == "tfLite")
          for w, _ in located.values()} == {("google", False),
                                            ("tensorflow", True)}

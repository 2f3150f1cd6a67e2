"""Where the family goes on Kaggle Models (export.destinations.kaggle_layout).

Against the evidence: every usable record of
tests/testdata/kaggle_layout/handles.json (Kaggle handles and URLs found in
public code, docs and tfhub.dev's redirects, each with its tfhub.dev
equivalent where one is known) is compared with where the exporter puts
that module. Then the layout over the whole family: one Kaggle version per
module, every variation's versions numbered 1..N in tfhub.dev's order.
"""

import collections
import json
import os

import pytest

from export.core import config
from export.destinations import kaggle_layout
from tests.conftest import REPO

EVIDENCE = os.path.join(REPO, "tests", "testdata", "kaggle_layout",
                        "handles.json")
FAMILY_OWNERS = ("google", "tensorflow")
FAMILY_MODELS = ("mobilenet-v1", "mobilenet-v2")
# Models tfhub.dev served under google/mobilenet-v2 on Kaggle (README rule
# 4) that are not TF-Slim's classifiers this exporter rebuilds.
NOT_REBUILT = ("google/tf2-preview/", "google/openimages_v4/")


def _evidence():
  with open(EVIDENCE, encoding="utf-8") as f:
    return json.load(f)


def _module_handle(record):
  """The tfhub.dev handle a record's Kaggle handle stands for (None if the
  record names none): a TF.js record naming the module's parent means the
  parent's TF.js child (E17: "Kaggle TensorFlow.js variant of ...
  google/imagenet/mobilenet_v1_025_224/classification/1")."""
  text = record["tfhub_equivalent"]
  if not text:
    return None
  if "(TF.js child " in text:
    return text.split("(TF.js child ", 1)[1].rstrip(")")
  handle = text.split()[0]
  if record["framework"].lower() == "tfjs" and "/tfjs-model/" not in handle:
    handle = handle.replace("google/imagenet/",
                            "google/tfjs-model/imagenet/", 1) + "/default/1"
  return handle


def _exact_spelling(record):
  """Whether the record's framework is spelled as Kaggle itself writes it:
  URLs Kaggle made (tfhub.dev's redirects, E1 and `?tfhub-redirect=true`);
  public code also writes `TensorFlow2`, `TfJs`, which kagglehub reads
  alike (README rule 2)."""
  return "(E1)" in record["source"] or "tfhub-redirect=true" in (
      record["kaggle"])


def usable_evidence():
  """(comparable, skipped): records of the family's models with the module
  (or None) they stand for; and {reason: count} of the rest."""
  comparable, skipped = [], collections.Counter()
  for record in _evidence():
    if "DOUBTFUL" in (record["note"] or ""):
      skipped["doubtful"] += 1
    elif (record["owner"] not in FAMILY_OWNERS or
          record["model"] not in FAMILY_MODELS):
      skipped["another publisher"] += 1
    elif record["variation"] is None:
      skipped["no variation"] += 1
    elif (_module_handle(record) or "").startswith(NOT_REBUILT):
      skipped["not rebuilt here"] += 1
    else:
      comparable.append((record, _module_handle(record)))
  return comparable, skipped


@pytest.fixture(scope="module")
def family():
  """{module handle: KaggleVersion} of every config's modules."""
  located = {}
  for cfg in config.load_all():
    for module in cfg.modules:
      where = kaggle_layout.locate(cfg, module)
      if where is not None:
        located[module.handle] = where
  return located


def test_every_usable_evidence_record_is_where_the_exporter_puts_it(family):
  comparable, skipped = usable_evidence()
  # What is left out, and why: nothing else.
  assert skipped == {"doubtful": 4, "another publisher": 1,
                     "no variation": 1, "not rebuilt here": 8}, skipped
  assert len(comparable) == 118
  variations = {w.variation_handle.lower(): w for w in family.values()}
  wrong = []
  for record, module in comparable:
    said = (f"{record['owner']}/{record['model']}/{record['framework']}/"
            f"{record['variation']}")
    if module is None:  # A variation without its tfhub.dev module.
      if said.lower() not in variations:
        wrong.append((record["kaggle"], "no such variation"))
      continue
    if module not in family:
      wrong.append((record["kaggle"], f"{module}: no such module"))
      continue
    where = family[module]
    got = where.variation_handle
    if record["version"] is not None:
      said, got = f"{said}/{record['version']}", where.handle
    if not (said == got if _exact_spelling(record) else
            said.lower() == got.lower()):
      wrong.append((record["kaggle"], f"{module} -> {got}"))
  assert not wrong, wrong


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
  """787 artifacts but seed 000's test-bucket module: 786 Kaggle versions,
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
  assert len(located) == 786
  assert len({w.handle for w, _ in located.values()}) == 786
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
                        "tfLite": 68,
                        # Float of 38 variants, quantized of 17, both kinds.
                        "onnx": 38 * 2 + 17 * 2}
  # Lite files (and the quantized ONNX models converted from them) under
  # tensorflow/, the rest under google/.
  assert {(w.owner, w.framework == "tfLite" or "quantized" in w.variation)
          for w, _ in located.values()} == {("google", False),
                                            ("tensorflow", True)}


def test_onnx_framework_is_spelt_as_kagglehub_spells_it():
  """E25: kagglesdk's MODEL_FRAMEWORK_ONNX, written and read back by
  kagglehub's own enum helpers; a Kaggle handle of an ONNX model parses to
  it. Its variations are the TF2 module's slug (float) or the quantized Lite
  file's (issue 30's choice), one version each."""
  from kagglehub import enum as kaggle_enum
  from kagglehub import handle as kaggle_handle
  from kagglesdk.models.types.model_enums import ModelFramework
  onnx = ModelFramework.MODEL_FRAMEWORK_ONNX
  assert kaggle_layout.FRAMEWORKS["onnx"] == kaggle_enum.enum_to_str(onnx)
  assert kaggle_enum.to_enum(ModelFramework, "onnx") == onnx
  located = {}
  for name in ("v1_050_160", "v1_025_128_quant"):
    cfg = config.load(name)
    located.update({m.handle: kaggle_layout.locate(cfg, m).handle
                    for m in cfg.modules if m.is_onnx})
  assert located == {
      "google/onnx-model/imagenet/mobilenet_v1_050_160/classification/5/"
      "default/1": "google/mobilenet-v1/onnx/050-160-classification/1",
      "google/onnx-model/imagenet/mobilenet_v1_050_160/feature_vector/5/"
      "default/1": "google/mobilenet-v1/onnx/050-160-feature-vector/1",
      "tensorflow/onnx-model/mobilenet_v1_0.25_128_quantized/1/"
      "classification/1": "tensorflow/mobilenet-v1/onnx/0-25-128-quantized/1",
      "tensorflow/onnx-model/mobilenet_v1_0.25_128_quantized/1/"
      "feature_vector/1": "tensorflow/mobilenet-v1/onnx/"
                          "0-25-128-quantized-feature-vector/1"}
  for handle in located.values():
    assert kaggle_handle.parse_model_handle(handle).framework_enum() == onnx

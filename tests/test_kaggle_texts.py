"""The texts of Kaggle pages: handles rewritten, cards split, notes."""

import pytest

from export.core import config
from export.destinations import kaggle_layout
from export.destinations import kaggle_plan
from export.destinations import kaggle_texts


def test_to_kaggle_rewrites_known_handles_and_urls_only():
  kv = kaggle_layout.KaggleVersion("google", "mobilenet-v1", "tensorFlow1",
                                   "050-160-classification", 2)
  links = {"google/imagenet/mobilenet_v1_050_160/classification/3": kv}
  text = ("[`google/imagenet/mobilenet_v1_050_160/classification/3`]"
          "(https://tfhub.dev/google/imagenet/mobilenet_v1_050_160/"
          "classification/3). Not https://tfhub.dev/google/imagenet/"
          "mobilenet_v1_050_160/classification/30 nor "
          "google/imagenet/mobilenet_v1_050_160/classification/3/default/1.")
  assert kaggle_texts.to_kaggle(text, links) == (
      "[`google/mobilenet-v1/tensorFlow1/050-160-classification/2`]"
      "(https://www.kaggle.com/models/google/mobilenet-v1/tensorFlow1/"
      "050-160-classification/2). Not https://tfhub.dev/google/imagenet/"
      "mobilenet_v1_050_160/classification/30 nor "
      "google/imagenet/mobilenet_v1_050_160/classification/3/default/1.")


def test_version_notes_are_the_changelog_entry_of_that_version():
  cfg = config.load("v2_100_224")
  notes = kaggle_texts.version_notes(
      cfg, cfg.module("google/imagenet/mobilenet_v2_100_224/feature_vector/2"))
  assert notes == (
      "google/imagenet/mobilenet_v2_100_224/feature_vector/2 (tfhub.dev "
      "version 2):\n  * Fixed broken UPDATE_OPS for fine-tuning,\n"
      "    [GitHub issue 86](https://github.com/tensorflow/hub/issues/86).\n")
  # A TF.js card has no changelog.
  assert kaggle_texts.version_notes(cfg, cfg.module(
      "google/tfjs-model/imagenet/mobilenet_v2_100_224/feature_vector/2/"
      "default/1")) == ""


def test_variation_texts_split_the_card_and_keep_its_metadata():
  float_cfg, quant_cfg = config.load("v1_050_160"), config.load(
      "v1_050_160_quant")
  module = float_cfg.module(
      "google/imagenet/mobilenet_v1_050_160/feature_vector/3")
  texts = kaggle_texts.variation_texts(float_cfg, module, {})
  assert texts["fine_tunable"] is True
  assert texts["overview"].startswith("Feature vectors of images with "
                                      "MobileNet V1")
  assert "## Training" in texts["overview"]
  assert "## Usage" not in texts["overview"]
  assert "<!--" not in texts["overview"] + texts["usage"]
  assert texts["usage"].startswith("## Usage") and "## Fine-tuning" in (
      texts["usage"])
  assert "## Changelog" not in texts["overview"] + texts["usage"]
  quant = quant_cfg.module(
      "google/imagenet/mobilenet_v1_050_160/quantops/feature_vector/3")
  assert kaggle_texts.variation_texts(quant_cfg, quant, {})[
      "fine_tunable"] is False


def test_a_models_card_lists_every_variation_of_the_family():
  family = config.load_all()
  plan = kaggle_plan.plan([config.load("v1_025_128")], "/nonexistent",
                          family=family)
  v1 = next(m for m in plan.models if m.handle == "google/mobilenet-v1")
  rows = [l for l in v1.description.splitlines() if l.startswith("| `")]
  assert len(rows) == 64  # 16 sizes x 2 kinds, float and quantops.
  assert ("| `075-192-quantops-feature-vector` | 0.75 | 192x192 | "
          "768-dim feature vector | quantization-aware | TF1 Hub format |"
          ) in rows
  assert ("| `100-224-classification` | 1.0 | 224x224 | logits of 1001 "
          "classes | float | TF1 Hub format, TF2 SavedModel, TF.js, ONNX |"
          ) in rows


def test_one_kaggle_model_never_holds_two_models(tmp_path):
  """`--owner SLUG` folds the family's google/ and tensorflow/ models into
  one, but not a model of one's own into the family's: one card describes
  one model."""
  from tests.test_custom_models import write_config
  path = write_config(
      str(tmp_path), dict(
          name="dials", architecture="mobilenet_v1", multiplier=0.25,
          size=96, classes=3, publisher="dial-works", calibration=0,
          modules="  - {kind: classification, format: saved_model_2}\n"))
  with open(path, encoding="utf-8") as f:
    text = f.read()
  with open(path, "w", encoding="utf-8") as f:
    f.write(text.replace("  authors: The test suite\n",
                         "  authors: The test suite\n"
                         "  kaggle_model: mobilenet-v1\n"))
  own, family = config.load(path), [config.load("v1_025_128")]
  apart = kaggle_plan.plan([own], "/nonexistent", family=family)
  assert [m.handle for m in apart.models] == ["dial-works/mobilenet-v1"]
  owners = kaggle_plan.parse_owners("me")
  with pytest.raises(kaggle_plan.PlanError) as e:
    kaggle_plan.plan([own], "/nonexistent", owners, family=family)
  assert str(e.value) == (
      f"{path} and {family[0].path} would both publish to Kaggle model "
      "me/mobilenet-v1, whose card describes one model; give them different "
      "owners (--owner publisher=SLUG,...) or model.kaggle_model")
  folded = kaggle_plan.plan(family, "/nonexistent", owners, family=family)
  assert [m.handle for m in folded.models] == ["me/mobilenet-v1"]

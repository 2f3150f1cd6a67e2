"""Configs: the seed variants load; every class of bad input is refused."""

import os

import pytest

from export.core import config
from tests.conftest import run_cli

GOOD = """\
architecture: mobilenet_v1
depth_multiplier: 0.5
input_size: 160
quantized: false
checkpoint:
  url: https://example.org/models/mobilenet_v1_0.5_160.tgz
  prefix: mobilenet_v1_0.5_160.ckpt
modules:
  - {kind: classification, version: 1, format: hub}
  - {kind: feature_vector, version: 4, format: saved_model_2}
"""


def test_seed_configs_load_with_their_published_modules():
  configs = {c.name: c for c in config.load_all()}
  assert {"v1_050_128", "v1_100_128", "v1_050_160", "v2_050_96",
          "v1_025_128_quant"} <= set(configs)
  v1 = configs["v1_050_160"]
  assert [(m.kind, m.version, m.format) for m in v1.modules] == [
      ("classification", 1, "hub"), ("classification", 3, "hub"),
      ("classification", 4, "saved_model_2"),
      ("classification", 5, "saved_model_2"), ("feature_vector", 1, "hub"),
      ("feature_vector", 3, "hub"), ("feature_vector", 4, "saved_model_2"),
      ("feature_vector", 5, "saved_model_2"),
      ("classification", 1, "tfjs"), ("classification", 3, "tfjs"),
      ("feature_vector", 1, "tfjs"), ("feature_vector", 3, "tfjs"),
      ("classification", 1, "lite"), ("classification", 1, "lite"),
      ("classification", 5, "onnx"), ("feature_vector", 5, "onnx")]
  assert v1.module("google/imagenet/mobilenet_v1_050_160/feature_vector/3")
  # The Lite files, at their published handles (multiplier spelt 0.50; the
  # cards' links: https://tfhub.dev/tensorflow/lite-model/
  # mobilenet_v1_0.50_160/1/metadata/1).
  assert [(m.variant, m.handle) for m in v1.modules if m.is_lite] == [
      ("default", "tensorflow/lite-model/mobilenet_v1_0.50_160/1/default/1"),
      ("metadata", "tensorflow/lite-model/mobilenet_v1_0.50_160/1/metadata/1")]
  # The TF.js models, at their published handles, of the TF1 modules.
  assert [(m.handle, m.parent) for m in v1.modules if m.is_tfjs] == [
      (f"google/tfjs-model/imagenet/mobilenet_v1_050_160/{k}/{v}/default/1",
       f"google/imagenet/mobilenet_v1_050_160/{k}/{v}")
      for k in ("classification", "feature_vector") for v in (1, 3)]
  quant = configs["v1_025_128_quant"]
  assert {m.handle for m in quant.modules} == {
      f"google/imagenet/mobilenet_v1_025_128/quantops/{k}/{v}"
      for k in ("classification", "feature_vector") for v in (1, 3)} | {
          f"tensorflow/lite-model/mobilenet_v1_0.25_128_quantized/1/"
          f"{variant}/1" for variant in ("default", "metadata")} | {
              # Its ONNX models, converted from the quantized Lite file.
              f"tensorflow/onnx-model/mobilenet_v1_0.25_128_quantized/1/{k}/1"
              for k in ("classification", "feature_vector")}
  assert all(m.quantized and not m.variable_input_size
             for m in quant.modules)
  assert [m.version for m in configs["v2_050_96"].modules] == [
      1, 2, 3, 4, 5] * 2 + [1, 2, 3] * 2 + [5] * 2
  assert [m.handle for m in configs["v2_100_224"].modules if m.is_lite] == [
      f"tensorflow/lite-model/mobilenet_v2_1.0_224/1/{v}/1"
      for v in ("default", "metadata")]
  assert ("google/image/imagenet/mobilenet_v1_050_128/classification/1" in
          {m.handle for m in configs["v1_050_128"].modules})


def test_bare_name_is_looked_up_in_configs_dir():
  assert config.load("v1_050_160").path == os.path.join(config.CONFIGS_DIR,
                                                        "v1_050_160.yaml")
  assert config.load("v1_050_160.yaml").name == "v1_050_160"


# (description, YAML text, key named in the error, bad value shown)
BAD = [
    ("yaml syntax", "architecture: [mobilenet_v1\n", "<yaml>", "line"),
    ("empty file", "", "<top level>", "empty file"),
    ("top-level list", "- 1\n- 2\n", "<top level>", "'list'"),
    ("unknown key", GOOD + "colour: blue\n", "colour", "'colour'"),
    ("missing key", GOOD.replace("input_size: 160\n", ""), "input_size",
     "None"),
    ("wrong type", GOOD.replace("input_size: 160", "input_size: '160'"),
     "input_size", "'160'"),
    ("bool as number", GOOD.replace("input_size: 160", "input_size: true"),
     "input_size", "True"),
    ("multiplier outside family",
     GOOD.replace("depth_multiplier: 0.5", "depth_multiplier: 0.6"),
     "depth_multiplier", "0.6"),
    ("size outside family", GOOD.replace("input_size: 160", "input_size: 96"),
     "input_size", "96"),
    ("unknown architecture",
     GOOD.replace("mobilenet_v1\n", "resnet_50\n", 1), "architecture",
     "'resnet_50'"),
    ("version never published",
     GOOD.replace("version: 1, format: hub", "version: 2, format: hub"),
     "modules[0].version", "2"),
    ("version/format never published",
     GOOD.replace("version: 1, format: hub", "version: 1, "
                  "format: saved_model_2"), "modules[0].format",
     "'saved_model_2'"),
    ("unknown module kind",
     GOOD.replace("kind: classification", "kind: detection"),
     "modules[0].kind", "'detection'"),
    ("duplicate handles",
     GOOD + "  - {kind: classification, version: 1, format: hub}\n",
     "modules[2].handle", "mobilenet_v1_050_160/classification/1"),
    ("quantization on V2",
     GOOD.replace("mobilenet_v1\n", "mobilenet_v2\n", 1)
     .replace("quantized: false", "quantized: true"), "quantized", "True"),
    ("malformed url", GOOD.replace("https://example.org", "ftp://example.org"),
     "checkpoint.url", "'ftp://"),
    ("malformed sha256",
     GOOD.replace("  prefix:", "  sha256: abc123\n  prefix:"),
     "checkpoint.sha256", "'abc123'"),
    ("handle not matching kind/version",
     GOOD.replace("{kind: classification, version: 1, format: hub}",
                  "{kind: classification, version: 1, format: hub, "
                  "handle: google/x/feature_vector/1}"),
     "modules[0].handle", "google/x/feature_vector/1"),
    ("module url not http",
     GOOD.replace("{kind: classification, version: 1, format: hub}",
                  "{kind: classification, version: 1, format: hub, "
                  "url: file:///tmp/m}"), "modules[0].url", "'file:///tmp/m'"),
    ("card not a mapping",
     GOOD.replace("{kind: classification, version: 1, format: hub}",
                  "{kind: classification, version: 1, format: hub, "
                  "card: plain}"), "modules[0].card", "'plain'"),
    ("unknown card layout",
     GOOD.replace("{kind: classification, version: 1, format: hub}",
                  "{kind: classification, version: 1, format: hub, "
                  "card: {layout: fancy}}"), "modules[0].card.layout",
     "'fancy'"),
    ("unknown card option",
     GOOD.replace("{kind: classification, version: 1, format: hub}",
                  "{kind: classification, version: 1, format: hub, "
                  "card: {badge: yes}}"), "modules[0].card.badge", "'badge'"),
    ("lite file without variant",
     GOOD + "  - {kind: classification, version: 1, format: lite}\n",
     "modules[2].variant", "None"),
    ("unknown lite variant",
     GOOD + "  - {kind: classification, version: 1, format: lite, "
     "variant: fp16}\n", "modules[2].variant", "'fp16'"),
    ("lite feature vector",
     GOOD + "  - {kind: feature_vector, version: 1, format: lite, "
     "variant: default}\n", "modules[2].kind", "'feature_vector'"),
    ("lite version never published",
     GOOD + "  - {kind: classification, version: 2, format: lite, "
     "variant: default}\n", "modules[2].version", "2"),
    ("variant of a hub module",
     GOOD.replace("{kind: classification, version: 1, format: hub}",
                  "{kind: classification, version: 1, format: hub, "
                  "variant: default}"), "modules[0].variant", "'default'"),
    ("lite where none was published",
     GOOD.replace("mobilenet_v1\n", "mobilenet_v2\n", 1)
     .replace("depth_multiplier: 0.5", "depth_multiplier: 0.35")
     .replace("input_size: 160", "input_size: 96")
     + "  - {kind: classification, version: 1, format: lite, "
     "variant: default}\n", "modules[2].format", "'lite'"),
    ("tfjs of a TF2 version",
     GOOD + "  - {kind: classification, version: 4, format: tfjs}\n",
     "modules[2].version", "4"),
    ("tfjs of a quantops module",
     GOOD.replace("quantized: false", "quantized: true")
     .replace("version: 4, format: saved_model_2", "version: 3, format: hub")
     + "  - {kind: classification, version: 1, format: tfjs}\n",
     "modules[2].format", "'tfjs'"),
    ("tfjs variant never published",
     GOOD + "  - {kind: classification, version: 1, format: tfjs, "
     "variant: metadata}\n", "modules[2].variant", "'metadata'"),
    ("tfjs handle not ending in its kind/version/default/1",
     GOOD + "  - {kind: classification, version: 1, format: tfjs, "
     "handle: google/tfjs-model/x/classification/3/default/1}\n",
     "modules[2].handle", "google/tfjs-model/x/classification/3/default/1"),
    ("lite handle without lite-model",
     GOOD + "  - {kind: classification, version: 1, format: lite, "
     "variant: default, handle: tensorflow/m/1/default/1}\n",
     "modules[2].handle", "tensorflow/m/1/default/1"),
    ("card asset_path not a bool",
     GOOD.replace("{kind: classification, version: 1, format: hub}",
                  "{kind: classification, version: 1, format: hub, "
                  "card: {asset_path: legacy}}"),
     "modules[0].card.asset_path", "'legacy'"),
]


@pytest.mark.parametrize("text,key,shown",
                         [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_config_error_names_file_key_and_value(tmp_path, text, key, shown):
  path = tmp_path / "bad.yaml"
  path.write_text(text)
  with pytest.raises(config.ConfigError) as info:
    config.load(str(path))
  message = str(info.value)
  assert "\n" not in message
  assert message.startswith(f"{path}: {key}: ")
  assert shown in message
  assert "allowed" in message or "expected" in message or "required" in message


def test_good_config_parses(tmp_path):
  path = tmp_path / "good.yaml"
  path.write_text(GOOD)
  cfg = config.load(str(path))
  assert cfg.model_name == "mobilenet_v1_050_160"
  assert [m.handle for m in cfg.modules] == [
      "google/imagenet/mobilenet_v1_050_160/classification/1",
      "google/imagenet/mobilenet_v1_050_160/feature_vector/4"]
  # Served from TF Hub, with the card its format and version call for.
  assert cfg.modules[0].url == ("https://tfhub.dev/google/imagenet/"
                                "mobilenet_v1_050_160/classification/1")
  assert cfg.modules[0].card == config.CardOptions()


def test_card_options_and_served_url_are_read(tmp_path):
  path = tmp_path / "good.yaml"
  path.write_text(GOOD.replace(
      "{kind: classification, version: 1, format: hub}",
      "{kind: classification, version: 1, format: hub, "
      "url: https://example.org/m.tar.gz, card: {layout: test_bucket, "
      "asset_path: false, colab: https://colab.example/n.ipynb}}"))
  module = config.load(str(path)).modules[0]
  assert module.url == "https://example.org/m.tar.gz"
  assert module.card == config.CardOptions(
      layout="test_bucket", asset_path=False,
      colab="https://colab.example/n.ipynb")


@pytest.mark.slow
@pytest.mark.parametrize("text,key,shown",
                         [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_cli_exits_2_and_writes_nothing(tmp_path, text, key, shown):
  path = tmp_path / "bad.yaml"
  path.write_text(text)
  out = tmp_path / "out"
  result = run_cli("one", "--config", str(path), "--output_dir", str(out),
                   "--checkpoint", str(tmp_path / "none"))
  assert result.returncode == 2, result.stderr
  error_lines = [l for l in result.stderr.splitlines() if "error:" in l]
  assert len(error_lines) == 1, result.stderr
  assert str(path) in error_lines[0] and key in error_lines[0]
  assert shown in error_lines[0]
  assert not out.exists()

"""Model cards: byte-exact against published cards, facts against the models,
and `python -m export.cards` generating them (its writing beside a user's
files and `--check` on the committed tree: tests/test_generated_trees.py)."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from export import cards
from export.core import config
from export.core import published
from export.cards import facts as facts_lib
from export.cards import template

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLISHED = os.path.join(REPO, "tests", "testdata", "published_cards")


def _published():
  found = []
  for directory, _, files in os.walk(PUBLISHED):
    found += [os.path.relpath(os.path.join(directory, f), PUBLISHED)
              for f in files if f.endswith(".md") and f != "README.md"]
  return sorted(found)


@pytest.fixture(scope="module")
def rendered():
  return cards.render_all(config.load_all())


# --- Byte-exact ---------------------------------------------------------------


def test_published_cards_are_all_here():
  # Seeds, one of each other kind, the version 5 cards, the publisher page;
  # the Lite cards of V1 0.50/160 float and quantized (Placeholder, default,
  # metadata), their publisher's page; those of V1 and V2 1.0/224 float and
  # quantized; 12 TF.js cards; two V2 feature_vector/4 cards.
  assert len(_published()) == 5 + 14 + 3 + 1 + 6 + 1 + 12 + 12 + 2


@pytest.mark.parametrize("path", _published())
def test_card_reproduces_published_card_byte_for_byte(rendered, path):
  with open(os.path.join(PUBLISHED, path), "rb") as f:
    want = f.read()
  assert path in rendered, f"no config publishes {path}"
  got = rendered[path].encode("utf-8")
  if got != want:  # Show where, not just that, they differ.
    first = next(i for i, (a, b) in enumerate(zip(got + b"\0", want + b"\0"))
                 if a != b)
    line = want[:first].count(b"\n") + 1
    pytest.fail(f"{path} differs from line {line}: got "
                f"{got[first - 40:first + 40]!r}, published "
                f"{want[first - 40:first + 40]!r}")


def test_whole_family_has_a_card_per_module(rendered):
  configs = config.load_all()
  assert len(configs) == 55
  # V1's 16, and V2 1.0/224's, published as a Lite model only.
  assert sum(c.quantized for c in configs) == 17
  modules = [m for c in configs for m in c.modules]
  lite = [m for m in modules if m.is_lite]
  # V1: 16 float and 16 quantized variants; V2 1.0/224 float and quantized.
  # Two files each.
  assert len(lite) == (16 + 16 + 2) * 2
  # One of each float TF1 module: V1 versions 1 and 3, V2 versions 1-3.
  tfjs = [m for m in modules if m.is_tfjs]
  assert len(tfjs) == 16 * 2 * 2 + 22 * 2 * 3 == 196
  # ONNX: classification and feature vector of each float variant (38)
  # and of each quantized one (17, from its quantized Lite file).
  onnx = [m for m in modules if m.is_onnx]
  assert len(onnx) == 38 * 2 + 17 * 2 == 110
  # Plus seed 000's test module: 787 artifacts.
  assert len(modules) == 412 + 1 + len(lite) + len(tfjs) + len(onnx) == 787
  # 38 float variants x 2 (and their ONNX models, of version 5).
  assert sum(m.version == 5 and not m.is_onnx for m in modules) == 76
  # Each Lite model's Placeholder card, and the two publishers' pages.
  assert len(rendered) == len(modules) + len(lite) // 2 + 2
  assert "google/google.md" in rendered and "tensorflow/tensorflow.md" in rendered
  assert "tensorflow/models/mobilenet_v2_1.0_224/1.md" in rendered
  assert "tensorflow/models/mobilenet_v2_1.0_224_quantized/1.md" in rendered


def test_every_sibling_link_points_at_a_published_module(rendered):
  handles = {m.handle for c in config.load_all() for m in c.modules}
  for path, text in rendered.items():
    for handle in re.findall(r"\(https://tfhub\.dev/([\w/]+)\)", text):
      assert handle in handles, f"{path} links {handle}, which no config has"


# --- Facts agree with the configs and the models ------------------------------


def card_facts(text):
  """What a card promises: output width, input size, signature names."""
  numbers = dict(re.findall(r"`(num_classes|num_features)` = (\d+)", text))
  size = re.search(r"`height` x `width` = (\d+) x (\d+) pixels", text)
  return dict(
      num_classes=int(numbers["num_classes"]) if "num_classes" in numbers
      else None,
      num_features=int(numbers["num_features"]) if "num_features" in numbers
      else None,
      size=int(size.group(1)) if size else None,
      variable_size="other input sizes are possible" in text,
      signatures=set(re.findall(r"signature(?: name)?[ =]\W?`?\"?(image_\w+)",
                                text)) | set(re.findall(
                                    r"signature `(image_\w+)`", text)),
      url=re.search(r'hub\.(?:Module|KerasLayer)\("([^"]+)"', text).group(1),
  )


def test_card_facts_follow_config(rendered):
  for cfg in config.load_all():
    for m in cfg.modules:
      if (m.card.layout == "test_bucket" or m.is_lite or m.is_tfjs
          or m.is_onnx):
        continue  # Lite: test_lite; TF.js, ONNX: test_*_cards_follow_config.
      f = card_facts(rendered[facts_lib.docs_path(m)])
      assert f["size"] == cfg.input_size, m.handle
      assert f["variable_size"] == m.variable_input_size, m.handle
      assert f["url"] == m.url
      if m.kind == "classification":
        assert f["num_classes"] == 1001, m.handle


def test_tfjs_cards_follow_config(rendered):
  """Each TF.js card names its parent TF1 module, links it on tfhub.dev and
  loads the model from its tfjs-model URL, for the config's handles."""
  count = 0
  for cfg in config.load_all():
    for m in cfg.modules:
      if not m.is_tfjs:
        continue
      count += 1
      parent = (f"google/imagenet/{cfg.model_name}/{m.kind}/{m.version}")
      path = (f"google/models/imagenet/{cfg.model_name}/{m.kind}/"
              f"{m.version}/default/tfjs/1.md")
      text = rendered[path]
      assert text.startswith(f"# Tfjs {parent}/default/1\n"
                             f"TF.js deployment of {parent}.\n")
      assert f"<!-- parent-model: {parent} -->" in text
      assert f"(https://tfhub.dev/{parent})" in text
      assert (f'tf.loadGraphModel("https://tfhub.dev/google/tfjs-model/'
              f'imagenet/{cfg.model_name}/{m.kind}/{m.version}/default/1", '
              f'{{ fromTFHub: true }})') in text
      assert parent in {p.handle for p in cfg.modules}
  assert count == 196


def test_onnx_cards_follow_config(rendered):
  """Each ONNX card names its parent (the version 5 module; a quantized
  one's quantized Lite model) and says the model's input size, outputs and
  where `export.kaggle` puts it, for the config's handles."""
  count = 0
  for cfg in config.load_all():
    for m in cfg.modules:
      if not m.is_onnx:
        continue
      count += 1
      if cfg.quantized:
        lite = published.lite_model_name(cfg.architecture,
                                         cfg.depth_multiplier,
                                         cfg.input_size, True)
        parent = f"tensorflow/{lite}/1"
        path = f"tensorflow/models/{lite}/1/{m.kind}/onnx/1.md"
        assert (f"(https://tfhub.dev/tensorflow/lite-model/{lite}/1/default/"
                "1)") in rendered[path]
      else:
        parent = f"google/imagenet/{cfg.model_name}/{m.kind}/5"
        path = (f"google/models/imagenet/{cfg.model_name}/{m.kind}/5/default/"
                "onnx/1.md")
      text = rendered[path]
      assert text.startswith(f"# ONNX {m.handle.replace('onnx-model/', '')}"
                             f"\nONNX deployment of {parent}")
      assert f"<!-- parent-model: {parent} -->" in text
      assert f'path = "out/{m.handle}"' in text
      side = ("height, width" if m.variable_input_size
              else f"{cfg.input_size}, {cfg.input_size}")
      assert f"`[batch, {side}, 3]`" in text, path
      assert ("other\ninput sizes are possible" in text) == (
          m.variable_input_size)
      assert (f"`logits`: float32 `[batch, 1001]`" in text) == (
          m.kind == "classification")
      # Quantized: pixels / 256 are exactly the Lite file's uint8 input.
      assert (f"[None] / {256 if cfg.quantized else 255}  #") in text
      assert parent in {p.parent for p in cfg.modules}
  assert count == 110


def _tf1_signatures(module_dir):
  """{tags: {signature: (input images shape, output shape)}} from the pb."""
  from tensorflow.core.protobuf import saved_model_pb2
  sm = saved_model_pb2.SavedModel()
  with open(os.path.join(module_dir, "saved_model.pb"), "rb") as f:
    sm.ParseFromString(f.read())
  dims = lambda info: [d.size for d in info.tensor_shape.dim]
  return {frozenset(mg.meta_info_def.tags): {
      name: (dims(sig.inputs["images"]), dims(sig.outputs["default"]))
      for name, sig in mg.signature_def.items()} for mg in sm.meta_graphs}


@pytest.mark.parametrize("name", ["v1_050_160", "v2_050_96",
                                  "v1_025_128_quant"])
def test_card_facts_agree_with_exported_modules(variant, rendered, name):
  import numpy as np
  import tensorflow as tf
  v = variant(name)
  for m in v.cfg.modules:
    if m.is_lite or m.is_tfjs or m.is_onnx:  # test_lite, _tfjs, _onnx_export.
      continue
    f = card_facts(rendered[facts_lib.docs_path(m)])
    width = f["num_classes"] if m.kind == "classification" else f[
        "num_features"]
    assert width, m.handle
    if m.is_tf1_hub:
      for tags, sigs in _tf1_signatures(v.modules[m.handle]).items():
        assert f["signatures"] <= set(sigs), (m.handle, tags)
        images_shape, output_shape = sigs[f"image_{m.kind}"]
        assert output_shape == [-1, width], (m.handle, tags)
        expected = -1 if f["variable_size"] else f["size"]
        assert images_shape == [-1, expected, expected, 3], (m.handle, tags)
    else:
      loaded = tf.saved_model.load(v.modules[m.handle])
      images = np.zeros([2, f["size"], f["size"], 3], np.float32)
      assert loaded(images).shape == (2, width), m.handle
      # The changelog lists the serving signature where the module has it.
      serving = "Add 'serving_default' SignatureDef" in rendered[
          facts_lib.docs_path(m)]
      assert set(loaded.signatures) == ({"serving_default"} if serving
                                        else set()), m.handle
      if serving:
        (out,) = loaded.signatures["serving_default"](
            inputs=tf.constant(images)).values()
        assert out.shape == (2, width), m.handle


@pytest.mark.slow
def test_card_widths_agree_with_built_graphs_for_every_config(rendered):
  """Builds every config's graph (no export) and reads its output widths.

  Widths do not depend on the input size, so configs that differ only in it
  share one graph (at the first one's size).
  """
  import tensorflow as tf
  from export import nets
  built = {}
  for cfg in config.load_all():
    key = (cfg.architecture, cfg.depth_multiplier, cfg.quantized)
    if key not in built:
      with tf.Graph().as_default():
        images = tf.compat.v1.placeholder(
            tf.float32, [None, cfg.input_size, cfg.input_size, 3])
        out = nets.build(cfg.architecture, images,
                         depth_multiplier=cfg.depth_multiplier,
                         num_classes=1001, is_training=False,
                         quantized_input_range=((-1.0, 1.0) if cfg.quantized
                                                else None))
        built[key] = {"classification": out.logits.shape[-1],
                      "feature_vector": out.features.shape[-1]}
    widths = built[key]
    for m in cfg.modules:
      if m.is_lite or m.is_tfjs:  # Their cards state no width.
        continue
      if m.is_onnx:  # `logits` [batch, classes], `feature_vector` [...].
        stated = dict(re.findall(r"`(logits|feature_vector)`: float32 "
                                 r"`\[batch, (\d+)\]`",
                                 rendered[facts_lib.docs_path(m)]))
        assert {k: int(v) for k, v in stated.items()} == dict(
            feature_vector=widths["feature_vector"],
            **({"logits": widths["classification"]}
               if m.kind == "classification" else {})), (cfg.name, m.handle)
        continue
      f = card_facts(rendered[facts_lib.docs_path(m)])
      if m.card.layout == "test_bucket":
        continue
      key = "num_classes" if m.kind == "classification" else "num_features"
      assert f[key] == widths[m.kind], (cfg.name, m.handle)


# --- The cards generator ------------------------------------------------------


def _cards_cli(*args):
  return subprocess.run([sys.executable, "-m", "export.cards", *args],
                        cwd=REPO, capture_output=True, text=True, timeout=120)


def test_cards_cli_does_not_import_tensorflow(tmp_path):
  code = ("import runpy, sys\n"
          f"sys.argv = ['cards', '--docs_dir', {str(tmp_path / 'd')!r}]\n"
          "try:\n"
          "  runpy.run_module('export.cards', run_name='__main__')\n"
          "except SystemExit as e:\n"
          "  assert e.code in (0, None), e.code\n"
          "assert 'tensorflow' not in sys.modules\n"
          "print('ok')\n")
  result = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0 and "ok" in result.stdout, result.stderr
  # 413 module cards, 68 Lite file cards, 34 Placeholder cards, 196 TF.js
  # cards, 110 ONNX cards, 2 publishers.
  assert len(list((tmp_path / "d").rglob("*.md"))) == (
      413 + 68 + 34 + 196 + 110 + 2)


def test_check_fails_on_config_change_without_regeneration(tmp_path):
  configs = tmp_path / "configs"
  shutil.copytree(config.CONFIGS_DIR, configs)
  path = configs / "v1_050_160.yaml"
  path.write_text(path.read_text().replace(
      "mobilenet_v1_0.5_160.ckpt", "mobilenet_v1_0.5_160_retrained.ckpt"))
  result = _cards_cli("--check", "--configs_dir", str(configs))
  assert result.returncode == 1
  assert "+The checkpoint exported into this module was `mobilenet_v1_2018_02_22/" \
      "mobilenet_v1_0.5_160/mobilenet_v1_0.5_160_retrained.ckpt`" in result.stdout
  # Regenerating makes the check pass again.
  docs = tmp_path / "docs"
  assert _cards_cli("--configs_dir", str(configs), "--docs_dir",
                    str(docs)).returncode == 0
  result = _cards_cli("--check", "--configs_dir", str(configs), "--docs_dir",
                      str(docs))
  assert result.returncode == 0, result.stdout[-2000:]


def test_bad_card_options_name_file_key_and_allowed(tmp_path):
  configs = tmp_path / "configs"
  configs.mkdir()
  text = open(os.path.join(config.CONFIGS_DIR, "v2_050_96.yaml")).read()
  (configs / "v2_050_96.yaml").write_text(text.replace(
      "{kind: feature_vector, version: 4, format: saved_model_2}",
      "{kind: feature_vector, version: 4, format: saved_model_2, "
      "card: {layout: fancy}}"))
  result = _cards_cli("--check", "--configs_dir", str(configs))
  assert result.returncode == 2
  assert "v2_050_96.yaml: modules[8].card.layout: 'fancy' is not allowed" \
      in result.stderr
  assert "hub_legacy" in result.stderr


def test_missing_publisher_page_is_named(monkeypatch, tmp_path):
  monkeypatch.setattr(cards, "PUBLISHERS_DIR", str(tmp_path))
  (tmp_path / "tensorflow.md").write_text("# Publisher tensorflow\n")
  with pytest.raises(cards.CardError, match=r"google\.md: no page for "
                     r"publisher 'google'.*publishers with a page: tensorflow"):
    cards.render_all(config.load_all())


def test_layout_that_does_not_fit_the_module_is_refused(tmp_path):
  cfg = config.load("v2_050_96")
  module = cfg.module("google/imagenet/mobilenet_v2_050_96/feature_vector/3")
  bad = module.__class__(**{**module.__dict__, "card": config.CardOptions(
      layout="saved_model_2")})
  with pytest.raises(cards.CardError, match="is for TF2 SavedModels"):
    cards.render(cfg, bad)


# --- The template language (Jinja2, set up in export/cards/template.py) ----


def _render(text, **values):
  return template.render_string(text, values)


def test_lone_tags_take_their_line_inline_tags_do_not():
  text = ("a\n{% if x %}\nb\n{% else %}\nc\n{% endif %}\n"
          "d{% if y %} e{% endif +%}\n  {% if x %}\nf\n  {% endif %}\n")
  assert _render(text, x=True, y=False) == "a\nb\nd\nf\n"
  assert _render(text, x=False, y=True) == "a\nc\nd e\n"
  # Without "+", Jinja would also eat the newline ending a line of text.
  assert _render("d{% if y %} e{% endif %}\nf\n", y=True) == "d ef\n"


def test_conditions_combine_names():
  text = "{% if a and not (b or c) %}yes{% elif c %}c{% else %}no{% endif %}"
  assert _render(text, a=True, b=False, c=False) == "yes"
  assert _render(text, a=True, b=False, c=True) == "c"
  assert _render(text, a=False, b=True, c=False) == "no"


def test_variables_and_comments():
  assert _render("{# note #}\n{{ n }}x{{n}} {# inline #}px\n", n=96) == \
      "96x96 px\n"


def test_a_template_of_ones_own_includes_the_stock_partials(tmp_path):
  (tmp_path / "mine.md").write_text(
      "# Mine\n{% include \"_image_input.md\" %}\n")
  loader = template.Loader(str(tmp_path), cards.TEMPLATES_DIR)
  text = loader.render("mine", {})
  assert text.startswith("# Mine\nThe input `images` are expected")


@pytest.mark.parametrize("text, message", [
    ("{{ missing }}", "'missing' is undefined"),
    ("{% if missing %}x{% endif %}", "'missing' is undefined"),
    ("{% if a %}x", "line 1: Unexpected end of template"),
    ("{% endif %}", "line 1: Encountered unknown tag 'endif'"),
    ('{% include "_nothing.md" %}', "no template '_nothing.md'"),
])
def test_template_errors_are_named(text, message):
  with pytest.raises(template.TemplateError, match=re.escape(message)):
    _render(text, a=True)


# --- Cards of models of one's own ---------------------------------------------


def _own_config(directory, on_kaggle):
  """A config of one's own (V2 0.6/192, 5 classes) listing every format;
  `on_kaggle`: it names its Kaggle owner."""
  (directory / "labels.txt").write_text("".join(f"f{i}\n" for i in range(5)))
  owner = "  kaggle_owner: acme-ml\n" if on_kaggle else ""
  (directory / "flowers.yaml").write_text(f"""\
family: custom
architecture: mobilenet_v2
depth_multiplier: 0.6
input_size: 192
num_classes: 5
labels: labels.txt
model:
  publisher: acme
  name: flowers_model
  title: Flowers
  dataset: Flowers
  description: Flowers of five kinds.
  authors: Acme
{owner}checkpoint:
  path: train
modules:
  - {{kind: classification, format: hub}}
  - {{kind: feature_vector, format: hub}}
  - {{kind: classification, format: saved_model_2}}
  - {{kind: feature_vector, format: saved_model_2}}
  - {{kind: classification, format: lite}}
  - {{kind: classification, format: lite, variant: metadata}}
  - {{kind: classification, format: tfjs}}
""")
  return config.load(str(directory / "flowers.yaml"))


@pytest.mark.parametrize("on_kaggle", [True, False])
def test_custom_cards_load_from_where_the_model_is_published(tmp_path,
                                                             on_kaggle):
  """tfhub.dev takes no new models: a card of one's own loads the model
  from Kaggle, where `export.kaggle` publishes it, if its config names a
  Kaggle owner or model, else from the export's directory; its links go to
  Kaggle pages or to cards in the tree."""
  from tests import tfhub_validator
  from export.cli import exporting
  from export.destinations import kaggle_layout
  cfg = _own_config(tmp_path, on_kaggle)
  tree = cards.render_all([cfg])
  assert tfhub_validator.problems(tree) == []
  for path, text in tree.items():
    assert "tfhub.dev" not in text, path
  published = {}
  for m in cfg.modules:
    card = tree[facts_lib.docs_path(m)]
    published[m.handle] = kaggle_layout.locate(cfg, m).handle
    if on_kaggle and m.is_tfjs:
      load = (f'tf.loadGraphModel("https://www.kaggle.com/models/'
              f'{published[m.handle]}", {{ fromTFHub: true }})')
    elif on_kaggle:
      load = f'path = kagglehub.model_download("{published[m.handle]}")'
    elif m.is_tfjs:
      load = f'tf.loadGraphModel("out/{m.handle}/model.json")'
    else:
      load = f'path = "out/{m.handle}"'
    assert load in card, (m.handle, card)
    assert ("kagglehub" in card) == (on_kaggle and not m.is_tfjs), m.handle
    if m.is_lite:
      model_file = "1.tflite" if on_kaggle else "model.tflite"
      assert f'Interpreter(model_path=f"{{path}}/{model_file}")' in card
  # Where export.one writes by default, and one handle as Kaggle spells it.
  assert facts_lib.LOCAL_OUTPUT_DIR == exporting.ONE.default_output_dir
  if on_kaggle:
    assert published["acme/flowers_model/classification/2"] == (
        "acme-ml/flowers-model/tensorFlow2/060-192-classification/1")
  kaggle_pages = {"https://www.kaggle.com/models/" + h
                  for h in published.values()}
  for path, text in tree.items():
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
      if link.startswith("https://www.kaggle.com/"):
        assert on_kaggle and link in kaggle_pages, (path, link)
      elif not link.startswith("https://"):
        target = os.path.normpath(os.path.join(os.path.dirname(path), link))
        assert not on_kaggle and target in tree, (path, link)
  sibling = tree["acme/models/flowers_model/classification/1.md"]
  assert ("[`acme/flowers_model/feature_vector/1`](" + (
      "https://www.kaggle.com/models/acme-ml/flowers-model/tensorFlow1/"
      "060-192-feature-vector/1" if on_kaggle else "../feature_vector/1.md")
          + ")") in sibling

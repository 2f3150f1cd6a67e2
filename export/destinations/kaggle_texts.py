"""The texts of a Kaggle model page, from the cards and the family's facts.

* A model's description is a Kaggle model card rendered from the
  `kaggle_model` template with facts computed here (the network and its
  paper, each variation's multiplier, input size, output and frameworks,
  where the checkpoints come from, the license).
* A variation's `overview` and `usage` are its first module's card, split at
  its sections (USAGE_SECTIONS go to `usage`, the changelog to version
  notes), with every tfhub.dev handle and URL of the family replaced by its
  Kaggle handle and URL (`to_kaggle`); the card's metadata lines become
  Kaggle's own fields (`fineTunable`, `trainingData`).

No TensorFlow here.
"""

import functools
import re

from export import cards
from export.core import architecture as arch_lib
from export.core import kaggle_names
from export.core import published
from export.destinations import kaggle_layout

WEB_URL = kaggle_names.WEB_URL
LICENSE_NAME = "Apache 2.0"  # As Kaggle names it (kagglehub's README).
TRAINING_DATA = "ImageNet (ILSVRC-2012-CLS)"
USAGE_SECTIONS = ("Usage", "Fine-tuning", "Example use")
CHANGELOG_SECTION = "Changelog"
_METADATA_LINE = re.compile(r"^<!-- ([\w-]+): (.*) -->$")
# What the published MobileNet papers were first posted as (arXiv v1),
# Kaggle's `publishTime` of each model.
PUBLISH_DATES = {"mobilenet_v1": "2017-04-17",   # arXiv:1704.04861
                 "mobilenet_v2": "2018-01-13"}   # arXiv:1801.04381
SUBTITLES = {
    "mobilenet_v1": "Efficient convolutional networks for on-device image "
                    "classification, trained on ImageNet.",
    "mobilenet_v2": "Inverted residuals and linear bottlenecks for on-device "
                    "image classification, trained on ImageNet.",
}
_FRAMEWORK_TITLES = {"tensorFlow1": "TF1 Hub format",
                     "tensorFlow2": "TF2 SavedModel",
                     "tfLite": "TensorFlow Lite", "tfJs": "TF.js",
                     "onnx": "ONNX"}


def web_url(kaggle_version):
  """The Kaggle page (and tfhub.dev-era download URL) of a version."""
  return WEB_URL + kaggle_version.handle


def to_kaggle(text, links):
  """`text` with each handle of `links` ({handle: KaggleVersion}), and its
  tfhub.dev or Kaggle URL, as its Kaggle handle and URL; others stay. The
  keys are tfhub.dev handles, and the Kaggle handles the cards of a model
  (of one's own, and ONNX models) name under its config's owner, which
  `--owner` may change."""
  if not links:
    return text
  url, bare = _handle_patterns(tuple(sorted(links, key=len, reverse=True)))
  text = url.sub(lambda m: web_url(links[m.group(1)]), text)
  return bare.sub(lambda m: links[m.group(1)].handle, text)


@functools.lru_cache(maxsize=4)
def _handle_patterns(handles):
  """(URL pattern, bare pattern) of `handles`, longest first: compiled once
  per plan, whose every variation's texts use them."""
  alternatives = "|".join(re.escape(h) for h in handles)
  return (re.compile(r"(?:https://tfhub\.dev/|" + re.escape(WEB_URL) + r")("
                     + alternatives + r")(?![\w/])"),
          re.compile(r"(?<![\w/])(" + alternatives + r")(?![\w/])"))


def split_card(text):
  """(heading lines, {metadata key: value}, [(section title, body)]) of a
  card: what precedes the first `## ` section, its `<!-- key: value -->`
  lines, and each section with its text."""
  head, sections, metadata = [], [], {}
  for line in text.splitlines(keepends=True):
    if line.startswith("## "):
      sections.append((line[3:].strip(), [line]))
    elif sections:
      sections[-1][1].append(line)
    else:
      match = _METADATA_LINE.match(line.strip())
      if match:
        metadata[match.group(1)] = match.group(2)
      else:
        head.append(line)
  return head, metadata, [(t, "".join(b)) for t, b in sections]


def _join(parts):
  return "\n\n".join(p.strip("\n") for p in parts if p.strip()) + "\n"


def variation_texts(cfg, module, links):
  """{overview, usage, fine_tunable} of the variation whose first version is
  `module`: its card without the title and metadata lines, Kaggle links."""
  head, metadata, sections = split_card(cards.render(cfg, module))
  subtitle = "".join(head[1:])  # head[0] is the "# ..." title.
  overview = _join([subtitle] + [
      body for title, body in sections
      if title not in USAGE_SECTIONS and title != CHANGELOG_SECTION])
  usage = _join([body for title, body in sections if title in USAGE_SECTIONS])
  return dict(overview=to_kaggle(overview, links),
              usage=to_kaggle(usage, links),
              fine_tunable=metadata.get("fine-tunable") == "true")


def version_notes(cfg, module):
  """The card's changelog entry of `module`'s tfhub.dev version, naming it
  ("" for a card without one)."""
  _, _, sections = split_card(cards.render(cfg, module))
  changelog = dict(sections).get(CHANGELOG_SECTION, "")
  entries = re.split(r"^#### ", changelog, flags=re.M)[1:]
  for entry in entries:
    title, _, body = entry.partition("\n")
    if title.strip() == f"Version {module.version}":
      origin = "" if cfg.custom else f" (tfhub.dev version {module.version})"
      return (f"{module.handle}{origin}:\n"
              + body.strip("\n") + "\n")
  return ""


def _variation_row(cfg, module, frameworks):
  if module.is_lite and "onnx" in frameworks:  # And its QDQ ONNX model.
    output = "class probabilities (Lite), logits (ONNX); uint8"
  elif module.is_lite:
    output = ("class probabilities, uint8"
              if cfg.quantized or module.quantization
              else "class probabilities")
  elif module.kind == "classification":
    output = f"logits of {cfg.num_classes} classes"
  else:
    output = (f"{arch_lib.num_features(cfg.architecture, cfg.depth_multiplier)}"
              "-dim feature vector")
  weights = ("quantization-aware" if cfg.quantized else
             "post-training uint8" if module.quantization else "float")
  return (f"| `{kaggle_layout.variation(cfg, module)}` | "
          f"{cfg.depth_multiplier!r} | {cfg.input_size}x{cfg.input_size} | "
          f"{output} | {weights} | "
          f"{', '.join(_FRAMEWORK_TITLES[f] for f in frameworks)} |")


def model_card(architecture, members, owner):
  """The description of Kaggle model `<owner>/<mobilenet-vN>` (or of a
  model of one's own): `members` is [(cfg, module)] of the modules it
  holds."""
  family = published.FAMILIES[architecture]
  any_cfg = members[0][0]
  frameworks, first = {}, {}
  for cfg, module in members:
    slug = kaggle_layout.variation(cfg, module)
    frameworks.setdefault(slug, []).append(
        kaggle_layout.FRAMEWORKS[module.format])
    first.setdefault(slug, (cfg, module))
  rows = [_variation_row(cfg, module, sorted(set(frameworks[slug]),
                                             key=list(_FRAMEWORK_TITLES).index))
          for slug, (cfg, module) in sorted(first.items())]
  facts = dict(
      layout="kaggle_model",
      network=family.title,
      v1=architecture == "mobilenet_v1",
      v2=architecture == "mobilenet_v2",
      owner=owner,
      # What it holds: Lite files (and the quantized ONNX models converted
      # from them), modules (TF1, TF2, TF.js, float ONNX), or both (the
      # family under one owner, `--owner SLUG`).
      lite=any(m.is_lite for _, m in members),
      modules=any(not (m.is_lite or m.is_onnx) for _, m in members),
      onnx=any(m.is_onnx and not c.quantized for c, m in members),
      onnx_quantized=any(m.is_onnx and c.quantized for c, m in members),
      quantized_lite=any(m.is_lite and c.quantized for c, m in members),
      quantops=any(m.quantized and not m.is_lite for _, m in members),
      variation_rows="\n".join(rows),
      num_variations=len(rows),
      model_zoo=family.archive_root,
      license=LICENSE_NAME)
  if any_cfg.custom:
    info = any_cfg.model
    facts.update(layout="kaggle_custom_model", title=info.title,
                 description=info.description, authors=info.authors,
                 dataset=info.dataset, license=info.license,
                 citation=info.citation or "",
                 num_classes=any_cfg.num_classes)
  return cards.render_template(facts["layout"], facts)


def subtitle(cfg):
  """A Kaggle model's subtitle: the family's, or the first sentence of the
  description of a model of one's own."""
  if cfg.custom:
    return cfg.model.description.split(". ")[0].rstrip(".") + "."
  return SUBTITLES[cfg.architecture]

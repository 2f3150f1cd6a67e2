"""Where each module goes on Kaggle Models: the family's layout as rules.

Since 2023-11-15 tfhub.dev's links redirect to Kaggle Models, which holds
the MobileNet family as `<owner>/<model>/<framework>/<variation>/<version>`
(evidence: tests/testdata/kaggle_layout), e.g.
`google/mobilenet-v2/tensorFlow2/100-224-classification/2` for
`google/imagenet/mobilenet_v2_100_224/classification/5`:

* owner: the handle's publisher (google; tensorflow for the Lite files),
  unless the publisher maps it elsewhere (`owners`); a model of one's own:
  its config's `model.kaggle_owner`;
* model: the architecture, `mobilenet-v1` or `mobilenet-v2`; a model of
  one's own: its config's `model.kaggle_model`;
* framework: the format as Kaggle's clients spell it (FRAMEWORKS);
* variation: multiplier (3 digits), input size and kind, `100-224-
  classification`, `025-128-feature-vector`; a Lite file: its model name
  without the architecture, `.` and `_` as `-` (`1-0-224-quantized`), with
  `-metadata` for the metadata variant; quantops modules
  `050-128-quantops-feature-vector`;
* version: Kaggle numbers each (framework, variation) from 1 in publishing
  order, so tfhub.dev's versions of one format are renumbered in order
  (TF2 4, 5 -> 1, 2; V1 TF1 1, 3 -> 1, 2; TF.js of V2 parents 1-3 -> 1-3).

No TensorFlow here.
"""

import dataclasses

from export.core import published

FRAMEWORKS = {published.FORMAT_HUB: "tensorFlow1",
              published.FORMAT_SAVED_MODEL_2: "tensorFlow2",
              published.FORMAT_LITE: "tfLite",
              published.FORMAT_TFJS: "tfJs"}
MODELS = {"mobilenet_v1": "mobilenet-v1", "mobilenet_v2": "mobilenet-v2"}
QUANTOPS = "quantops"
METADATA_SUFFIX = "-metadata"


@dataclasses.dataclass(frozen=True)
class KaggleVersion:
  owner: str
  model: str
  framework: str
  variation: str
  version: int

  @property
  def variation_handle(self):
    """`<owner>/<model>/<framework>/<variation>`, what kagglehub takes."""
    return f"{self.owner}/{self.model}/{self.framework}/{self.variation}"

  @property
  def handle(self):
    return f"{self.variation_handle}/{self.version}"


def variation(cfg, module):
  """The module's variation slug (see the module docstring)."""
  if module.is_lite:
    name = published.lite_model_name(
        cfg.architecture, cfg.depth_multiplier, cfg.input_size,
        cfg.quantized or bool(module.quantization))
    slug = name[len(cfg.architecture) + 1:].replace(".", "-").replace("_", "-")
    return slug + (METADATA_SUFFIX if module.variant == "metadata" else "")
  parts = [published.multiplier_code(cfg.depth_multiplier),
           str(cfg.input_size)]
  if module.quantized:
    parts.append(QUANTOPS)
  parts.append(module.kind.replace("_", "-"))
  return "-".join(parts)


def _published_versions(cfg, module):
  """tfhub.dev's versions of the module's format and variation, in order
  (a model of one's own has one of each)."""
  if cfg.custom:
    return [module.version]
  family = published.FAMILIES[cfg.architecture]
  if module.is_lite:
    return sorted(published.LITE_VERSIONS)
  if module.is_tfjs:
    return sorted(published.tfjs_versions(family, False))
  versions = family.quant_versions if module.quantized else (
      family.float_versions)
  return sorted(v for v in versions
                if published.VERSIONS[v].format == module.format)


def locate(cfg, module, owners=None):
  """The KaggleVersion of `module` (of config `cfg`), or None for a module
  tfhub.dev did not serve (seed 000's test-bucket module, served from
  `module.served_url`).

  Args:
    owners: {publisher: Kaggle owner slug}; publishers not in it keep their
      name.
  """
  if module.served_url is not None:
    return None
  publisher = module.handle.split("/", 1)[0]
  if cfg.custom:  # Its config names its Kaggle owner and model.
    owner = (owners or {}).get(publisher, cfg.model.kaggle_owner)
    model = cfg.model.kaggle_model
  else:
    owner = (owners or {}).get(publisher, publisher)
    model = MODELS[cfg.architecture]
  return KaggleVersion(
      owner=owner, model=model,
      framework=FRAMEWORKS[module.format], variation=variation(cfg, module),
      version=_published_versions(cfg, module).index(module.version) + 1)

"""Where each module goes on Kaggle Models: the family's layout as rules.

Since 2023-11-15 tfhub.dev's links redirect to Kaggle Models, which holds
the MobileNet family as `<owner>/<model>/<framework>/<variation>/<version>`
(evidence: tests/testdata/kaggle_layout), e.g.
`google/mobilenet-v2/tensorFlow2/100-224-classification/2` for
`google/imagenet/mobilenet_v2_100_224/classification/5`:

* owner: the handle's publisher (google; tensorflow for the Lite files and
  the quantized ONNX models converted from them), or a model of one's own:
  its config's `model.kaggle_owner`; unless `owners` maps the publisher (or
  every publisher, EVERY_PUBLISHER) elsewhere;
* model: the architecture, `mobilenet-v1` or `mobilenet-v2`; a model of
  one's own: its config's `model.kaggle_model`;
* framework: the format as Kaggle's clients spell it (FRAMEWORKS);
* variation: multiplier (3 digits), input size and kind, `100-224-
  classification`, `025-128-feature-vector`; a Lite file: its model name
  without the architecture, `.` and `_` as `-` (`1-0-224-quantized`), with
  `-metadata` for the metadata variant; quantops modules
  `050-128-quantops-feature-vector`; an ONNX model (framework `onnx`, which
  Google never published there) its source's: the TF2 module's
  (`050-160-classification`) or the quantized Lite file's
  (`0-25-128-quantized`, `0-25-128-quantized-feature-vector`);
* version: Kaggle numbers each (framework, variation) from 1 in publishing
  order, so tfhub.dev's versions of one format are renumbered in order
  (TF2 4, 5 -> 1, 2; V1 TF1 1, 3 -> 1, 2; TF.js of V2 parents 1-3 -> 1-3);
  an ONNX variation has one version, 1.

No TensorFlow here.
"""

import dataclasses

from export.core import kaggle_names
from export.core import published

# The naming rules the cards share (framework, variation slug) are in core.
FRAMEWORKS = kaggle_names.FRAMEWORKS
variation = kaggle_names.variation
MODELS = kaggle_names.MODELS
EVERY_PUBLISHER = "*"  # An `owners` key: every publisher not named.


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


def _published_versions(cfg, module):
  """tfhub.dev's versions of the module's format and variation, in order
  (a model of one's own has one of each)."""
  if cfg.custom or module.is_onnx:
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
    owners: {publisher: Kaggle owner slug}, EVERY_PUBLISHER for those not
      named; publishers in neither keep their owner.
  """
  if module.served_url is not None:
    return None
  publisher = module.handle.split("/", 1)[0]
  if cfg.custom:  # Its config names its Kaggle owner and model.
    owner, model = cfg.model.kaggle_owner, cfg.model.kaggle_model
  else:
    owner, model = publisher, MODELS[cfg.architecture]
  owners = owners or {}
  owner = owners.get(publisher, owners.get(EVERY_PUBLISHER, owner))
  return KaggleVersion(
      owner=owner, model=model,
      framework=FRAMEWORKS[module.format], variation=variation(cfg, module),
      version=_published_versions(cfg, module).index(module.version) + 1)

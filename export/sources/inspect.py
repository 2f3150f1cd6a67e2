"""What a checkpoint is: architecture, depth multiplier, classes, quantization.

`infer(variables)` reads only the variables' names and shapes
({name: shape}, as `tf.train.list_variables` gives them) and finds the
MobileNet whose layout (`core.architecture.variable_layout`) they hold
exactly: the architecture from the variable scope, the class count from the
classifier's kernel, quantization from the `*_quant` ranges, and the depth
multiplier by trying every multiple of 0.01 up to 4 (several can give the
same depths, e.g. V2 rounds depths to multiples of 8: the roundest one is
chosen, the others listed).
"""

import dataclasses
import fractions

from export.core import architecture as arch_lib

MULTIPLIERS = tuple(round(i / 100, 2) for i in range(1, 401))


class InspectError(ValueError):
  """The checkpoint is not a MobileNet this toolchain can export."""


@dataclasses.dataclass(frozen=True)
class Facts:
  architecture: str
  depth_multiplier: float
  num_classes: int
  quantized: bool
  # Other multipliers that give the same variables (V2's rounding).
  equivalent_multipliers: tuple = ()


def _roundness(multiplier):
  """Sort key: fewer decimals first, then closer to 1."""
  return (fractions.Fraction(str(multiplier)).denominator, abs(multiplier - 1))


def _architecture(variables):
  found = {name for name, arch in arch_lib.ARCHITECTURES.items()
           if any(v.startswith(arch.scope + "/") for v in variables)}
  if len(found) != 1:
    scopes = ", ".join(f"{a.scope}/ ({n})"
                       for n, a in arch_lib.ARCHITECTURES.items())
    raise InspectError("expected the variables of one MobileNet under "
                       f"{scopes}; found {sorted(found) or 'neither'}")
  return found.pop()


def infer(variables):
  """The Facts of a checkpoint with `variables` ({name: shape})."""
  variables = {n: tuple(s) for n, s in variables.items()}
  name = _architecture(variables)
  scope = arch_lib.get(name).scope
  logits = f"{scope}/{arch_lib.LOGITS_SCOPE}/weights"
  if logits not in variables:
    raise InspectError(f"no classifier ({logits}): a checkpoint to export "
                       "has its classification layer")
  num_classes = variables[logits][-1]
  quantized = any(n.endswith(("_quant/min", "_quant/max")) for n in variables)
  matches = []
  for multiplier in MULTIPLIERS:
    layout = arch_lib.variable_layout(name, multiplier, num_classes,
                                      quantized=quantized)
    if all(variables.get(n) == tuple(s) for n, s in layout.items()):
      matches.append(multiplier)
  if not matches:
    raise InspectError(
        f"the {scope} variables fit no depth multiplier from 0.01 to 4 with "
        f"{num_classes} classes{' and quantization ranges' if quantized else ''}"
        " (is it a TF-Slim MobileNet checkpoint?)")
  best = min(matches, key=_roundness)
  return Facts(name, best, num_classes, quantized,
               tuple(m for m in matches if m != best))

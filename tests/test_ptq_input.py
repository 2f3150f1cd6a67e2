"""Post-training quantized Lite files take raw pixels, whatever the
calibration images (issue 28).

A model of one's own (V1 0.25/128, 5 classes) calibrated on dark photos
(scikit-image's natural photos, crops at 25-35% brightness, PNG and JPEG),
exported once with `export.one`. Calibrating the input on them gave it scale
1/255 and zero point 255, so the raw pixels 0..255 its card promises were
read as [-1, 0]. The file must have the published quantized files' input,
scale 1/128 and zero point 128 (a literal, as in tests/test_lite.py: the
published Lite cards, tests/testdata/published_cards/tensorflow/models/
*_quantized/1/default/lite/1.md, put the pixel bytes into the quantized
models as they are and (p - 127.5) / 127.5 into the float ones, which
(q - 128) / 128 reads them as), and on ordinary-brightness photos, decoded
with Pillow and fed raw, it must give the float Lite file's top-1 on at
least 90%: the figure the export reports.

The checkpoint: a random MobileNet's top-1 means nothing (the synthetic one
gives every photo the same class), and with a logits layer fitted on its
features, its 27 random layers leave the photos' differences close to int8
rounding (75-95% agreement, by the draw of crops): the figure would measure
that, not the input. This one keeps the synthetic first layer, passes its responses through the
other blocks unchanged (centre-tap depthwise kernels, identity pointwise
ones, batch norm that does nothing), so the pooled features are the first
layer's colour and edge statistics of the photo, and fits the logits layer
(least squares on those features, computed by Keras' MobileNet with the
same values) to tell five photos apart, as a user fine-tunes a head. Its
float top-1 names the photo a crop comes from; the test checks that too.
"""

import os

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.test_custom_models import write_config

pytestmark = pytest.mark.slow

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera")
SIZE = 128
SPEC = dict(name="dusk", architecture="mobilenet_v1", multiplier=0.25,
            size=SIZE, classes=len(PHOTOS), publisher="acme", calibration=1,
            modules="""\
  - {kind: classification, format: lite}
  - {kind: classification, format: lite, quantization: post_training}
""")
# Crops per photo: fitting the logits layer (not exported), calibration
# (dark), held out (ordinary brightness). The exporter holds out every 5th
# calibration image (sorted by path): those are the ordinary ones, so the
# representative images are all dark and the report measures ordinary ones.
FIT, DARK, HELD_OUT = 16, 24, 6
DARKNESS = (0.25, 0.35)
# The published quantized Lite input: real value (q - 128) / 128.
PUBLISHED_INPUT = (1 / 128, 128)


def _crop(photo, rng):
  """A square crop of 70-95% of the photo's short side, RGB."""
  if photo.ndim == 2:
    photo = np.stack([photo] * 3, -1)
  h, w = photo.shape[:2]
  side = int(min(h, w) * rng.uniform(0.7, 0.95))
  y, x = (int(rng.integers(0, n - side + 1)) for n in (h, w))
  return photo[y:y + side, x:x + side]


def pixels(image, size):
  """uint8 [size, size, 3] of a Pillow image as the card's user feeds it:
  RGB, resized (bilinear) to the card's input size."""
  from PIL import Image
  return np.asarray(image.convert("RGB").resize((size, size),
                                                Image.BILINEAR))


def _write_images(directory, rng):
  """Writes the calibration directory; returns the fitting crops with their
  photo's index and {held-out path: photo index}."""
  import skimage.data
  from PIL import Image
  photos = [getattr(skimage.data, name)() for name in PHOTOS]
  fit = [(k, _crop(p, rng)) for k, p in enumerate(photos) for _ in range(FIT)]
  dark = [_crop(p, rng) for p in photos for _ in range(DARK)]
  held = [(k, _crop(p, rng)) for k, p in enumerate(photos)
          for _ in range(HELD_OUT)]
  dark = [dark[i] for i in rng.permutation(len(dark))]
  held = [held[i] for i in rng.permutation(len(held))]
  os.makedirs(directory)
  truth = {}
  for i in range(len(dark) + len(held)):
    path = os.path.join(directory, f"{i:03d}.{'jpg' if i % 2 else 'png'}")
    if i % 5 == 4:
      truth[path], image = held.pop()
    else:
      image = np.round(dark.pop() * rng.uniform(*DARKNESS)).astype(np.uint8)
    Image.fromarray(image).save(path, quality=95)
  return fit, truth


def _checkpoint_values(cfg, fit):
  """Synthetic values with pass-through blocks and a fitted logits layer
  (see the module docstring)."""
  from PIL import Image
  from export.core import architecture
  from export.sources import synthetic
  from tests.test_keras_reference import KerasReference
  values = synthetic.synthetic_values(cfg)
  epsilon = architecture.get(cfg.architecture).batch_norm_epsilon
  for name, value in values.items():
    leaf = name.rsplit("/", 1)[-1]
    if name.startswith(("MobilenetV1/Conv2d_0/", "MobilenetV1/Logits/")):
      continue
    if leaf == "depthwise_weights":
      value = np.zeros_like(value)
      value[1, 1] = 1
    elif leaf == "weights":
      value = np.zeros_like(value)
      n = min(value.shape[2:])
      value[0, 0, np.arange(n), np.arange(n)] = 1
    elif leaf in ("gamma", "moving_variance"):
      # gamma / sqrt(variance + epsilon) = 1.
      value = np.full_like(value, 1.0 if leaf == "gamma" else 1 - epsilon)
    else:  # beta, moving_mean
      value = np.zeros_like(value)
    values[name] = value.astype(np.float32)
  batch = np.stack([pixels(Image.fromarray(c), SIZE) for _, c in fit])
  features, _ = KerasReference(cfg, values)(batch.astype(np.float32) / 255)
  labels = np.array([k for k, _ in fit])
  centred = features - features.mean(0)
  targets = np.eye(len(PHOTOS))[labels] * 2 - 1
  weights = np.linalg.solve(
      centred.T @ centred + 1e-3 * np.eye(centred.shape[1]),
      centred.T @ targets)
  # Logits spread by about 4: softmax probabilities far from uniform.
  weights *= 4 / (centred @ weights).std()
  values["MobilenetV1/Logits/Conv2d_1c_1x1/weights"] = (
      weights[None, None].astype(np.float32))
  values["MobilenetV1/Logits/Conv2d_1c_1x1/biases"] = (
      -features.mean(0) @ weights).astype(np.float32)
  return values


def _interpreter(path):
  from ai_edge_litert.interpreter import Interpreter
  interpreter = Interpreter(model_path=path, num_threads=1)
  interpreter.allocate_tensors()
  return interpreter


def _top1(path, batch):
  """The class each image of `batch` gets from the Lite file (LiteRT)."""
  interpreter = _interpreter(path)
  (inp,), (out,) = (interpreter.get_input_details(),
                    interpreter.get_output_details())
  classes = []
  for image in batch:
    interpreter.set_tensor(inp["index"], image[None])
    interpreter.invoke()
    classes.append(int(np.argmax(interpreter.get_tensor(out["index"])[0])))
  return np.array(classes)


@pytest.fixture(scope="module")
def dusk(tmp_path_factory, cache_dir):
  """The config calibrated on dark photos, exported once by `export.one`:
  (config, {held-out path: photo}, output dir, the run's stdout)."""
  from export.core import config
  from export.sources import checkpoint
  tmp = tmp_path_factory.mktemp("ptq_input")
  directory = str(tmp / "dusk")
  fit, truth = _write_images(os.path.join(directory, "images"),
                             np.random.default_rng(0))
  cfg = config.load(write_config(directory, SPEC))
  checkpoint.write_values(_checkpoint_values(cfg, fit),
                          os.path.join(directory, "ckpt", "model.ckpt"))
  out = str(tmp / "out")
  result = run_cli("one", "--config", cfg.path, "--output_dir", out,
                   "--cache_dir", cache_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  return cfg, truth, out, result.stdout


def _module_file(cfg, out, quantization):
  handle = next(m.handle for m in cfg.modules if m.quantization ==
                quantization)
  return handle, os.path.join(out, handle, "model.tflite")


def test_dark_calibration_leaves_the_published_input_quantization(dusk):
  cfg, _, out, _ = dusk
  _, path = _module_file(cfg, out, "post_training")
  (inp,) = _interpreter(path).get_input_details()
  assert inp["dtype"] == np.uint8
  assert inp["quantization"] == PUBLISHED_INPUT


def test_raw_pixels_give_the_float_top1_as_reported(dusk):
  """Ordinary photos, decoded with Pillow and resized as the card says:
  raw into the quantized file, (p - 127.5) / 127.5 into the float one."""
  from PIL import Image
  from export.publishing import manifest
  cfg, truth, out, stdout = dusk
  paths = sorted(truth)
  raw = []
  for path in paths:
    with Image.open(path) as image:
      raw.append(pixels(image, SIZE))
  raw = np.stack(raw)
  float_top1 = _top1(_module_file(cfg, out, None)[1],
                     (raw.astype(np.float32) - 127.5) / 127.5)
  handle, path = _module_file(cfg, out, "post_training")
  quantized_top1 = _top1(path, raw)
  # The float model's top-1 means something: the photo a crop comes from.
  assert np.mean(float_top1 == [truth[p] for p in paths]) >= 0.8
  agreement = np.mean(float_top1 == quantized_top1)
  assert agreement >= 0.9
  report = manifest.load(out)[handle].report
  assert report["held_out_images"] == len(paths) == len(PHOTOS) * HELD_OUT
  assert report["top1_agreement"] == pytest.approx(agreement)
  (line,) = [l for l in stdout.splitlines() if handle in l]
  assert (f"top-1 agreement with the float model {agreement:.1%} on "
          f"{len(paths)} held-out images") in line

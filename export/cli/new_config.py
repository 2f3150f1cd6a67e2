"""`export.new_config`: a starting config for a checkpoint of one's own.

Reads the checkpoint's variables (names and shapes only), infers what it is
(`sources.inspect`), checks the label file against its class count, and
writes a config that exports as it is: every format the model can be
exported to, an input size to change if it was trained at another, and
placeholder card text that says so. Then it lists what is left to fill in.
A Keras model file (`sources.keras_model`) also gives its input size and
its input scaling (`input_range`).
"""

import os
import sys
import tempfile

from absl import flags

from export.cli import common
from export.core import config as config_lib
from export.sources import checkpoint as checkpoint_lib
from export.sources import inspect
from export.sources import keras_model

FLAGS = flags.FLAGS
PLACEHOLDER = "PLACEHOLDER"
DEFAULT_INPUT_SIZE = 224


def define_flags():
  flags.DEFINE_string("checkpoint", None,
                      "Checkpoint prefix, directory holding one, .tgz, or a "
                      "Keras model file (.keras, .h5).")
  flags.DEFINE_string("labels", None, "Label file: one line per class.")
  flags.DEFINE_string("output", None, "Where to write the config (.yaml).")
  flags.DEFINE_string("name", None,
                      "The model's name in its handles (lowercase, digits, "
                      "_). Default: the output file's name.")
  flags.DEFINE_integer("input_size", DEFAULT_INPUT_SIZE,
                       "The input size the model was trained at (a Keras "
                       "model's own, where it has one).")
  for name in ("checkpoint", "labels", "output"):
    flags.mark_flag_as_required(name)


def _variables(path):
  """{name: shape} of the checkpoint at `path` (prefix, dir or .tgz)."""
  with common.native_stderr_silenced():
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if path.endswith((".tgz", ".tar.gz")):
    with tempfile.TemporaryDirectory() as tmp:
      prefix = checkpoint_lib.extract_checkpoint(
          path, checkpoint_lib.archive_prefix(path), tmp)
      return dict(tf.train.list_variables(prefix))
  return dict(tf.train.list_variables(checkpoint_lib.find_prefix(path)))


def _modules(facts):
  """The module lines of every format the checkpoint can be exported to."""
  lite = ["  - {kind: classification, format: lite}",
          "  - {kind: classification, format: lite, variant: metadata}"]
  onnx = ["  - {kind: classification, format: onnx}",
          "  - {kind: feature_vector, format: onnx}"]
  if facts.quantized:  # Quantization-aware: TF1 quantops, Lite files and
    # the ONNX models converted from them.
    return ["  - {kind: classification, format: hub}",
            "  - {kind: feature_vector, format: hub}"] + lite + onnx
  return [
      "  - {kind: classification, format: hub}",
      "  - {kind: feature_vector, format: hub}",
      "  - {kind: classification, format: saved_model_2}",
      "  - {kind: feature_vector, format: saved_model_2}",
      *lite,
      "  - {kind: classification, format: tfjs}",
      "  - {kind: feature_vector, format: tfjs}",
      *onnx,
      "  # A uint8 Lite file by post-training quantization (and its ONNX",
      "  # model): uncomment, and set `calibration:` above to a directory of",
      "  # a few hundred images.",
      "  # - {kind: classification, format: lite, quantization: "
      "post_training}",
      "  # - {kind: classification, format: onnx, quantization: "
      "post_training}"]


def _keras_lines(model):
  """What a config from a Keras model says of it: its shape, and the input
  scaling the exports apply."""
  low, high = model.input_range
  return [
      f"# The Keras model is {model.shape}"
      f"{', ending in a softmax' if model.softmax else ''}:",
      "# the modules output its logits, the Lite files their softmax.",
      "# What its network saw of images in [0, 1] (the model's own input",
      "# scaling); the exports take images in [0, 1] and map them to it.",
      f"input_range: [{low:g}, {high:g}]"]


def config_text(facts, name, checkpoint, labels, input_size, source,
                keras=None):
  """The YAML of a starting config (paths relative to where it is);
  `keras`: the sources.keras_model.KerasModel it is made from."""
  equivalent = (f" (the variables fit {', '.join(map(str, facts.equivalent_multipliers))} too)"
                if facts.equivalent_multipliers else "")
  lines = [
      f"# {name}: a {facts.architecture} model of one's own.",
      f"# Written by `python -m export.new_config` from {source}.",
      f"# Inferred from its {'weights' if keras else 'variables'}: "
      f"{facts.architecture}, depth multiplier "
      f"{facts.depth_multiplier:g}{equivalent},",
      f"# {facts.num_classes} classes"
      f"{', quantization-aware (with *_quant ranges)' if facts.quantized else ''}.",
      f"# Fill in every {PLACEHOLDER} (the cards say so until you do).",
      f"family: {config_lib.published.CUSTOM_FAMILY}",
      f"architecture: {facts.architecture}",
      f"depth_multiplier: {facts.depth_multiplier:g}",
      ("# The Keras model's input size." if keras and keras.input_size else
       "# The size it was trained at (a multiple of 32): change if not "
       f"{input_size}."),
      f"input_size: {input_size}",
      f"quantized: {'true' if facts.quantized else 'false'}",
      f"num_classes: {facts.num_classes}",
      f"labels: {labels}",
      *(_keras_lines(keras) if keras else []),
      "model:",
      f"  publisher: {PLACEHOLDER.lower()}-publisher",
      f"  name: {name}",
      f"  title: \"{PLACEHOLDER}: the model's title\"",
      f"  dataset: \"{PLACEHOLDER}: what it was trained on\"",
      f"  description: \"{PLACEHOLDER}: what the model does, for its "
      "cards.\"",
      f"  authors: \"{PLACEHOLDER}: who trained it\"",
      "  license: Apache 2.0",
      "  # citation: \"...\"",
      "checkpoint:",
      f"  path: {checkpoint}",
      "# calibration: images/",
      "modules:",
      *_modules(facts)]
  return "\n".join(lines) + "\n"


def _relative_to(path, directory):
  return os.path.relpath(os.path.abspath(path), os.path.abspath(directory))


def main(argv):
  if len(argv) > 1:
    raise common.app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  os.chdir(os.environ.get("BUILD_WORKING_DIRECTORY", os.getcwd()))
  checkpoint, labels, output = FLAGS.checkpoint, FLAGS.labels, FLAGS.output
  for flag, path in (("checkpoint", checkpoint), ("labels", labels)):
    if not (os.path.exists(path) or os.path.exists(path + ".index")):
      raise common.app.UsageError(f"--{flag}: no such file or directory: "
                                  f"{path}")
  if not output.endswith(".yaml"):
    raise common.app.UsageError(f"--output: {output} is not allowed; expected "
                                "a .yaml file")
  name = FLAGS.name or os.path.basename(output)[:-len(".yaml")]
  if not config_lib._HANDLE_PART.match(name):  # pylint: disable=protected-access
    raise common.app.UsageError(
        f"--name: {name!r} is not allowed; expected lowercase letters, digits "
        "and _ (pass --name if the output file's name is not one)")
  if FLAGS.input_size < config_lib.MIN_INPUT_SIZE or (
      FLAGS.input_size % config_lib.INPUT_SIZE_STEP):
    raise common.app.UsageError(
        f"--input_size: {FLAGS.input_size} is not allowed; expected a "
        f"multiple of {config_lib.INPUT_SIZE_STEP} from "
        f"{config_lib.MIN_INPUT_SIZE} up")
  keras, input_size = None, FLAGS.input_size
  try:
    if keras_model.is_keras_file(checkpoint):
      with common.native_stderr_silenced():  # Keras' and TF's start-up.
        keras = keras_model.read(checkpoint)
      facts = keras.facts
    else:
      facts = inspect.infer(_variables(checkpoint))
  except keras_model.KerasModelError as e:  # Names the file itself.
    print(f"error: {e}", file=sys.stderr)
    return common.EXIT_USAGE
  except (inspect.InspectError, checkpoint_lib.CheckpointError) as e:
    print(f"error: {checkpoint}: {e}", file=sys.stderr)
    return common.EXIT_USAGE
  if keras and keras.input_size:
    if FLAGS["input_size"].present and FLAGS.input_size != keras.input_size:
      raise common.app.UsageError(
          f"--input_size: {FLAGS.input_size} is not allowed; {checkpoint} "
          f"takes {keras.input_size}x{keras.input_size} images")
    input_size = keras.input_size
  with open(labels, encoding="utf-8") as f:
    count = len(f.read().splitlines())
  if count != facts.num_classes:
    print(f"error: {labels}: has {count} lines, but {checkpoint}'s "
          f"classifier has {facts.num_classes} classes; expected one line "
          "per class" + ("" if keras else " (with the background class "
                         "where the checkpoint has one)"), file=sys.stderr)
    return common.EXIT_USAGE
  directory = os.path.dirname(os.path.abspath(output))
  text = config_text(facts, name, _relative_to(checkpoint, directory),
                     _relative_to(labels, directory), input_size,
                     os.path.basename(checkpoint.rstrip("/")), keras)
  os.makedirs(directory, exist_ok=True)
  tmp = f"{output}.tmp-{os.getpid()}"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(tmp, output)
  scaling = (f", inputs [0, 1] mapped to [{keras.input_range[0]:g}, "
             f"{keras.input_range[1]:g}]" if keras else "")
  print(f"wrote {output}: {facts.architecture}, depth multiplier "
        f"{facts.depth_multiplier:g}, {facts.num_classes} classes"
        f"{', quantization-aware' if facts.quantized else ''}, input size "
        f"{input_size}{scaling}")
  size_left = ("" if keras and keras.input_size else
               f"input_size if it was not trained at {input_size}; ")
  print("left to fill in: model.publisher, model.title, model.dataset, "
        "model.description, model.authors (placeholders until then); "
        f"{size_left}calibration, to add the post-training quantized Lite "
        "file")
  return common.EXIT_OK


def run():
  define_flags()
  common.run(main)

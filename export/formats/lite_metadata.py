"""Adds TFLite model metadata and the label file to a Lite image classifier.

Run by `export.formats.lite` with the Python of the virtualenv that has the
TFLite support library (tflite-support pins protobuf < 4, which TensorFlow
cannot share), so this script imports nothing of the exporter:

  python lite_metadata.py --model IN --labels FILE --output OUT --facts JSON

FACTS holds name, description, version, author, license, mean and std (the
input normalisation). The output is written atomically.
"""

import argparse
import contextlib
import json
import os
import time
import zipfile

from tflite_support import metadata_schema_py_generated as metadata_fb
from tflite_support.metadata_writers import image_classifier
from tflite_support.metadata_writers import metadata_info
from tflite_support.metadata_writers import writer_utils

# 1980-01-01T00:00:00Z, the earliest time a zip member can carry.
_ZIP_EPOCH = 315532800


@contextlib.contextmanager
def _pinned_zip_time():
  """The library appends the label file as a zip member, which zipfile
  stamps with the current local time; pinned, the same model and labels give
  the same bytes."""
  real_localtime = zipfile.time.localtime
  zipfile.time.localtime = lambda seconds=None: time.gmtime(_ZIP_EPOCH)
  try:
    yield
  finally:
    zipfile.time.localtime = real_localtime


def populate(model_path, labels_path, facts, output_path):
  model = writer_utils.load_file(model_path)
  input_type = writer_utils.get_input_tensor_types(model)[0]
  output_type = writer_utils.get_output_tensor_types(model)[0]
  writer = image_classifier.MetadataWriter.create_from_metadata_info(
      model,
      general_md=metadata_info.GeneralMd(
          name=facts["name"], version=facts["version"],
          description=facts["description"], author=facts["author"],
          licenses=facts["license"]),
      input_md=metadata_info.InputImageTensorMd(
          name=image_classifier.INPUT_NAME,
          description=image_classifier.INPUT_DESCRIPTION,
          norm_mean=[facts["mean"]], norm_std=[facts["std"]],
          color_space_type=metadata_fb.ColorSpaceType.RGB,
          tensor_type=input_type),
      output_md=metadata_info.ClassificationTensorMd(
          name=image_classifier.OUTPUT_NAME,
          description=image_classifier.OUTPUT_DESCRIPTION,
          label_files=[metadata_info.LabelFileMd(labels_path)],
          tensor_type=output_type))
  with _pinned_zip_time():
    populated = writer.populate()
  tmp = f"{output_path}.tmp-{os.getpid()}"
  writer_utils.save_file(populated, tmp)
  os.replace(tmp, output_path)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", required=True)
  parser.add_argument("--labels", required=True)
  parser.add_argument("--output", required=True)
  parser.add_argument("--facts", required=True, type=json.loads)
  args = parser.parse_args()
  populate(args.model, args.labels, args.facts, args.output)


if __name__ == "__main__":
  main()

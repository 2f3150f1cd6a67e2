"""Reads a Lite file's metadata back with the TFLite support library's
displayer; prints JSON. Run with the Python of .venv-lite (tests/test_lite.py):

  python lite_metadata_reader.py MODEL.tflite
"""

import json
import sys

from tflite_support import metadata


def main(path):
  displayer = metadata.MetadataDisplayer.with_model_file(path)
  files = displayer.get_packed_associated_file_list()
  print(json.dumps({
      "metadata": json.loads(displayer.get_metadata_json()),
      "associated_files": files,
      "contents": {name: displayer.get_associated_file_buffer(name).decode()
                   for name in files},
  }))


if __name__ == "__main__":
  main(sys.argv[1])

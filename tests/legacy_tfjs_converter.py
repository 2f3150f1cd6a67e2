"""Runs in the legacy consumer venv (TF 2.15, tensorflow-hub 0.15).

Converts TF1 Hub format modules to TF.js the way tfhub.dev did: the TF.js
converter's TF Hub path (`convert_tf_hub_module_v1`: `hub.Module`, signature
`default`, frozen), which needs `hub.Module`, gone from tensorflow-hub 0.16.
Not a test module itself: tests/test_tfjs.py runs it.

  python legacy_tfjs_converter.py MODULE_DIR OUTPUT_DIR [MODULE_DIR OUTPUT_DIR ...]
"""

import importlib.util
import os
import sys


def _converter():
  """export/formats/tfjs_converter.py's loader, by path (the exporter's
  package needs more than this venv has)."""
  path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))), "export", "formats", "tfjs_converter.py")
  spec = importlib.util.spec_from_file_location("tfjs_converter", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.load()


def main():
  converter = _converter()
  args = sys.argv[1:]
  for module_dir, output_dir in zip(args[::2], args[1::2]):
    converter.convert_tf_hub_module_v1(module_dir, output_dir)


if __name__ == "__main__":
  main()

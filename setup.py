"""tfhub-mobilenet-export: rebuilds and publishes MobileNet TF Hub modules."""

import os
import re

import setuptools

# The version lives in export/__init__.py (it is part of the exporter version
# recorded in every manifest); read it without importing the package.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "export",
                       "__init__.py"), encoding="utf-8") as f:
  VERSION = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)

setuptools.setup(
    name="tfhub-mobilenet-export",
    version=VERSION,
    description=("Exports TF-Slim MobileNet V1/V2 checkpoints as TF Hub "
                 "modules (TF1 Hub format and TF2 SavedModel) with their "
                 "model cards."),
    packages=setuptools.find_packages(include=["export", "export.*"]),
    package_data={"export.cards": ["templates/*.md", "publishers/*.md"],
                  "export.formats": ["data/*.txt"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow==2.21.*",
        "tf-keras==2.21.*",
        "tensorflow-hub==0.16.1",
        "tf-slim==1.1.0",
        "absl-py>=2.1",
        "PyYAML>=6.0",
        # OpenSSF Model Signing (export/publishing/signing.py). 1.1.1
        # imports OpenSSL without declaring it.
        "model-signing==1.1.1",
        "pyopenssl==26.4.0",
        # The model card templates' language (export/cards/template.py).
        "Jinja2==3.1.6",
        # Publishing to Kaggle Models (export/destinations/kaggle*): the
        # official client and the SDK it is built on, pinned because the
        # tests' loopback stand-in follows these versions' requests.
        "kagglehub==1.0.3",
        "kagglesdk==0.1.38",
        # The ONNX format (export/formats/onnx*.py): graphs built with the
        # onnx package's own API, no converter.
        "onnx==1.23.2",
        # tensorflow-hub imports pkg_resources, which setuptools 82 removed;
        # Python 3.12+ venvs have no setuptools at all unless asked.
        "setuptools<82",
        # Decodes calibration images (export/formats/lite.py): the agreement
        # report of post-training quantized Lite files feeds them as an app
        # would, raw pixels.
        "pillow==13.0.0",
        # Renders the model cards as the hub's pages (export/serving/pages.py):
        # CommonMark with tables.
        "markdown-it-py==4.3.0",
        # Packs the served archives (export/publishing/package.py): ISA-L's
        # deflate, a twelfth of zlib's time at the same size. Pinned: its
        # bytes are part of the archives' reproducibility.
        "isal==1.9.1",
    ],
    # The LiteRT interpreter (TFLite's runtime) and ONNX Runtime run converted
    # models in the tests and benchmarks.
    # The kaggle CLI reads the --staging_dir folders in the tests.
    # scikit-image ships natural photos (skimage.data) that the tests
    # write as a user's image files.
    extras_require={"test": ["pytest>=8", "ai-edge-litert==2.3.*",
                             "kaggle==2.2.5", "scikit-image==0.26.0",
                             "onnxruntime==1.32.0"]},
)

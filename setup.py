"""tfhub-mobilenet-export: rebuilds and publishes MobileNet TF Hub modules."""

import setuptools

setuptools.setup(
    name="tfhub-mobilenet-export",
    version="0.1.0",
    description=("Exports TF-Slim MobileNet V1/V2 checkpoints as TF Hub "
                 "modules (TF1 Hub format and TF2 SavedModel) with their "
                 "model cards."),
    packages=setuptools.find_packages(include=["export", "export.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow==2.21.*",
        "tf-keras==2.21.*",
        "tensorflow-hub==0.16.1",
        "tf-slim==1.1.0",
        "absl-py>=2.1",
        "PyYAML>=6.0",
    ],
    extras_require={"test": ["pytest>=8"]},
)

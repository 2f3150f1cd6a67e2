"""Exports TF-Slim MobileNets as TensorFlow Hub modules."""

__version__ = "0.2.0"

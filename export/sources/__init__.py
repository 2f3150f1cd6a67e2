"""Checkpoints: finding, downloading, extracting, reading, and synthetic ones.

`source.prepare(cfg, Source(...))` is the one way the pipeline gets a
config's checkpoint; `checkpoint.read_values` reads it strictly.
"""

"""Where exported modules are published beyond the output directory.

A destination reads what an export wrote (its manifest) and never exports
anything itself. `kaggle_layout` says where each module of the family goes
on Kaggle Models, where tfhub.dev's handles resolve today.
"""

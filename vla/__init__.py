"""The VLA model: encoders, projector, LM wrapper, action tokenizers, prompt, data, training, inference.

Importing `vla` imports no torch; the heavy parts are imported by the submodules that need them.
"""

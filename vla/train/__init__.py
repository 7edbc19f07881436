"""Training and fine-tuning of the VLA (`vla-train`): the loop, resumable train state, LoRA and freezing.

Importing `vla.train` imports no torch; `vla.train.loop` and the modules it uses do.
"""

"""The VLA model (PaLM-E / RT-2 style): config, network, batching and decoding.

    from vla.model import VLA, VLAConfig
    model = VLA.from_config(cfg)            # cfg: VLAConfig (conf/model/*.yaml through vla.config.to_dataclass)
    batch = model.collate(samples)          # samples from vla.transforms
    out = model(batch)                      # Output(loss, logits, action_accuracy)
    actions = model.predict_actions(batch)  # (B, H, A) normalized

Importing this package imports torch (the config alone is in `vla.model.config`, torch-free).
"""

from vla.model.batch import Collator
from vla.model.config import LMConfig, ProjectorConfig, VisionConfig, VLAConfig, load_model_config
from vla.model.tokens import build_action_tokenizer_for, load_text_tokenizer_for
from vla.model.vla import VLA, Output

__all__ = ["Collator", "LMConfig", "Output", "ProjectorConfig", "VLA", "VLAConfig", "VisionConfig",
           "build_action_tokenizer_for", "load_model_config",
           "load_text_tokenizer_for"]

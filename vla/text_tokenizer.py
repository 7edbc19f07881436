"""The tiny text tokenizer for the from-scratch model, and the action-id layout of any text tokenizer.

`train_tiny_tokenizer` trains a byte-level BPE OFFLINE (HF `tokenizers`) on a corpus generated here:
robot instructions (verbs x colors x objects x places/directions), the prompt template of `vla.prompt`, and
a few generic English sentences. It is deterministic, so the copy shipped in `vla/assets/tiny_tokenizer/`
is exactly what `python -m vla.text_tokenizer` regenerates (a test checks this).

Vocabulary layout (ids):  [0, 4) pad, bos, eos, unk  |  byte-level BPE  |  unused `<reserved_i>` up to
`vocab_size - n_action_tokens`  |  `<act_0>` ... `<act_{n-1}>`: the last n ids, reserved for actions.
Byte-level means any text encodes (no unknown characters); the padding to a fixed size means the action
block is always `[vocab_size - n, vocab_size)` however many merges the corpus supports.

For a pretrained tokenizer (SmolLM2's 49152 ids) `action_token_offset` also takes the LAST n ids, as OpenVLA
does with Llama 2's, rather than adding new tokens. Why: the embedding matrix and the tied LM head keep
their shape (no resize of GGUF-loaded weights, checkpoints stay compatible with the base model), the rows
start from pretrained values instead of random ones, and the last ids of a BPE are its rarest merges
(SmolLM2's are e.g. "Ġmeltdown", "ĠThessalon"), which robot instructions do not contain. The cost: such a
word in a prompt would read as an action token to the model; constrained decoding is unaffected.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from vla.io import atomic_write_json
from vla.optional import require
from vla.prompt import build_prompt

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)  # ids 0..3 in the tiny tokenizer
ACTION_TOKEN = "<act_{}>"
RESERVED_TOKEN = "<reserved_{}>"
TINY_TOKENIZER_DIR = Path(__file__).parent / "assets" / "tiny_tokenizer"
TINY_VOCAB_SIZE = 1024
TINY_ACTION_TOKENS = 256
MAX_TINY_VOCAB = 4096

_VERBS = ("pick up", "push", "move", "place", "put", "lift", "grasp", "slide", "open", "close", "press", "turn",
          "reach", "stack", "sweep", "insert", "pull", "drop", "rotate", "touch")
_COLORS = ("red", "green", "blue", "yellow", "orange", "purple", "black", "white", "pink", "brown", "gray")
_OBJECTS = ("block", "cube", "cup", "bowl", "plate", "ball", "bottle", "can", "mug", "box", "lid", "peg",
            "puck", "sponge", "marker", "drawer", "door", "button", "lever", "handle", "window", "faucet")
_PLACES = ("to the left", "to the right", "forward", "backward", "up", "down", "on the table",
           "into the bowl", "onto the plate", "next to the cup", "in the drawer", "to the goal",
           "to the corner", "on top of the green block", "behind the box", "in front of the mug")
_GENERIC = (
    "the robot arm moves slowly over the table.",
    "a camera looks down at the workspace from the front.",
    "the gripper opens, then closes around the object.",
    "what should the robot do next?",
    "the task is done when the object reaches the target.",
    "first find the object, then move the arm above it.",
    "it is a small table with a few colorful things on it.",
    "please hand me the cup and wait for the next command.",
    "the drawer is closed and the door is open.",
    "step 1: pick up the sponge. step 2: wipe the table. step 3: done.",
    "i spilled my drink, can you help?",
    "bring me something to eat from the kitchen.",
    "the plan failed, so try again from the start.",
    "numbers: 0 1 2 3 4 5 6 7 8 9 10 20 50 100.",
    "yes. no. ok. stop. wait. go. done. success. failure.",
    "The quick brown fox jumps over the lazy dog.",
    "Robots learn from demonstrations and from language.",
    "Vision, language and action are combined in one model.",
)


def instruction_corpus() -> list[str]:
    """The deterministic training text: every verb/color/object/place instruction, prompts, generic lines."""
    lines = [f"{v} the {c} {o}" for v, c, o in itertools.product(_VERBS, _COLORS, _OBJECTS)]
    lines += [f"{v} the {o} {p}" for v, o, p in itertools.product(_VERBS, _OBJECTS, _PLACES)]
    lines += [build_prompt(f"{v} the {c} {o}") for v, c, o in zip(_VERBS, itertools.cycle(_COLORS), _OBJECTS)]
    lines += list(_GENERIC)
    return lines


def _check_sizes(vocab_size: int, n_action_tokens: int) -> None:
    for name, value in (("vocab_size", vocab_size), ("n_action_tokens", n_action_tokens)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if vocab_size > MAX_TINY_VOCAB:
        raise ValueError(f"vocab_size must be <= {MAX_TINY_VOCAB} for the tiny tokenizer, got {vocab_size}")
    text_ids = vocab_size - n_action_tokens
    if text_ids < len(SPECIAL_TOKENS) + 256 + 1:
        raise ValueError(
            f"vocab_size={vocab_size} leaves {text_ids} ids after {n_action_tokens} action tokens; "
            f"need > {len(SPECIAL_TOKENS) + 256} (specials + 256 byte symbols)"
        )


def _train_bpe(text_vocab_size: int) -> Any:
    """A byte-level BPE with the special tokens at ids 0..3, trained on `instruction_corpus()`."""
    tk = require("tokenizers")
    bpe = tk.Tokenizer(tk.models.BPE(unk_token=UNK))
    bpe.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tk.decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(
        vocab_size=text_vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(instruction_corpus(), trainer=trainer)
    return bpe


def train_tiny_tokenizer(vocab_size: int = TINY_VOCAB_SIZE, n_action_tokens: int = TINY_ACTION_TOKENS) -> Any:
    """Train the tiny tokenizer offline; returns a `transformers.PreTrainedTokenizerFast` of exactly
    `vocab_size` ids whose last `n_action_tokens` are `<act_i>` (see the module doc for the layout).

    Encoding adds BOS in front (Llama convention); EOS is appended by whoever builds training targets.
    """
    _check_sizes(vocab_size, n_action_tokens)
    tk = require("tokenizers")
    transformers = require("transformers")
    text_size = vocab_size - n_action_tokens
    bpe = _train_bpe(text_size)
    n_reserved = text_size - bpe.get_vocab_size()
    bpe.add_special_tokens([RESERVED_TOKEN.format(i) for i in range(n_reserved)])
    bpe.add_special_tokens([ACTION_TOKEN.format(i) for i in range(n_action_tokens)])
    bos_id = bpe.token_to_id(BOS)
    bpe.post_processor = tk.processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, bos_id)]
    )
    if bpe.get_vocab_size() != vocab_size:
        raise RuntimeError(f"tiny tokenizer came out with {bpe.get_vocab_size()} ids, expected {vocab_size}")
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK
    )


def load_text_tokenizer(path: str | Path = TINY_TOKENIZER_DIR, gguf_file: str | None = None) -> Any:
    """Load a tokenizer from a LOCAL directory (a checkpoint, the shipped tiny one, or a GGUF model's
    folder with `gguf_file`); never touches the network. Raises FileNotFoundError for a missing directory."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"tokenizer directory not found: {path}")
    transformers = require("transformers")
    kwargs: dict[str, Any] = {"local_files_only": True}
    if gguf_file is not None:
        kwargs["gguf_file"] = gguf_file
    return transformers.AutoTokenizer.from_pretrained(str(path), **kwargs)


def action_token_offset(tokenizer: Any, n: int) -> int:
    """The first LM id of the action block: the last `n` ids of `tokenizer` (`len(tokenizer) - n`).

    Raises ValueError if `n` does not fit, or if a special or added token other than `<act_k>` (at its own
    slot k) sits in the block, since overwriting bos/eos/pad would break generation and padding.
    """
    size = len(tokenizer)
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n < size:
        raise ValueError(f"n must be an int in (0, {size}) for a tokenizer of {size} ids, got {n!r}")
    offset = size - n
    clashes = []
    added = getattr(tokenizer, "added_tokens_decoder", {})  # e.g. <reserved_i>, not always in all_special_ids
    for tid in sorted(set(tokenizer.all_special_ids) | set(added)):
        if offset <= tid < size and tokenizer.convert_ids_to_tokens(tid) != ACTION_TOKEN.format(tid - offset):
            clashes.append((tid, tokenizer.convert_ids_to_tokens(tid)))
    if clashes:
        raise ValueError(f"the last {n} ids [{offset}, {size}) hold special tokens {clashes}; not usable for actions")
    return offset


def save_text_tokenizer(tokenizer: Any, directory: str | Path) -> None:
    """`save_pretrained` into `directory`, naming the class `PreTrainedTokenizerFast` in tokenizer_config.json
    (transformers 5 writes its new alias `TokenizersBackend`, which transformers 4 cannot load)."""
    tokenizer.save_pretrained(str(directory))
    config_path = Path(directory) / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    atomic_write_json(config_path, config)


def main() -> None:
    """Regenerate the shipped tiny tokenizer: `python -m vla.text_tokenizer`."""
    tokenizer = train_tiny_tokenizer()
    save_text_tokenizer(tokenizer, TINY_TOKENIZER_DIR)
    offset = action_token_offset(tokenizer, TINY_ACTION_TOKENS)
    print(f"wrote {TINY_TOKENIZER_DIR} ({len(tokenizer)} ids, action ids from {offset})")


if __name__ == "__main__":
    main()

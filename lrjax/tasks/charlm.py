"""A character-level language model on the standard library's own source, ready for a sweep.

The text is every Python installation's: the ``*.py`` files directly under
``sysconfig.get_paths()["stdlib"]`` (not its subfolders), in name order. A file goes to the
training, validation or test split by ``zlib.crc32(name, seed) % 10``: 0-7 train, 8
validation, 9 test, so the split is by whole file and does not depend on the machine.
Each split is its files' bytes concatenated, cut to its first ``chars`` characters. On
Python 3.11.7 the 168 files split 135 / 19 / 14, with 3,881,805 / 558,907 / 257,676 bytes
before the cut (2,000,000 / 200,000 / 200,000 after it, by default).

Vocabulary (`VOCAB` = 98 ids): byte ``b`` in 32..126 (space to ``~``) is ``b - 32``, tab
is 95 (these are the 96 printable characters), newline is 96, and every other byte (a
carriage return, a byte of a non-ASCII UTF-8 character) is 97, "other".

The model is a pre-norm decoder-only transformer (Radford et al. 2019, GPT-2's layout):
token plus learned position embeddings, ``layers`` blocks of
``x += attention(LN(x))`` (causal, ``heads`` heads) and ``x += W2 gelu(W1 LN(x))``
(hidden width 4 x ``width``), a final LayerNorm, and an output head tied to the token
embedding. Every member of a sweep starts from the same weights (``Config.seed``) and reads
the same batches, so members differ only in their hyperparameters.

A member's hyperparameters ``hp`` are scalars, possibly traced: ``peak`` (peak rate),
``family`` (0: linear warmup then cosine decay to 0 at the last step; 1: WSD, linear
warmup, constant, then a 1-sqrt cool-down to 0 over the last 20% of steps; 2: linear
warmup then inverse square root; 3: linear warmup then constant), ``optimizer`` (0:
AdamW with weight decay 0.1 on every parameter; 1: Adam; 2: SGD with heavy-ball momentum
0.9) and ``warmup`` (steps, an int).
Losses are in nats per character; bits per character (bpc) = nats / ln 2.

This module imports flax at the top (an optional dependency); ``import lrjax`` never imports
``lrjax.tasks``.
"""

from __future__ import annotations

import dataclasses
import math
import sysconfig
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrjax import schedules as S
from lrjax.sweep import space as sp
from lrjax.sweep.digits import select
from lrjax.sweep.task import Task, check_memory
from lrjax.transforms import scale_by_adam, scale_by_learning_rate, scale_by_momentum
from lrjax.transforms.base import decay_weights

# hp: {"peak": float, "family": int in 0..3, "optimizer": int in 0..2, "warmup": int};
# each value a scalar, possibly traced.
Hyperparameters = dict[str, Any]

VOCAB = 98
"""Token ids: 0-94 the bytes 32-126, 95 tab, 96 newline, 97 any other byte."""

_TABLE = np.full(256, VOCAB - 1, np.int32)
_TABLE[32:127] = np.arange(95)
_TABLE[ord("\t")], _TABLE[ord("\n")] = 95, 96

CHARS = (2_000_000, 200_000, 200_000)
"""`load`'s default cut of the (train, validation, test) texts, in characters."""


def encode(text: bytes) -> np.ndarray:
    """Bytes as int32 token ids (see `VOCAB`)."""
    return _TABLE[np.frombuffer(text, np.uint8)]


def decode(ids: np.ndarray) -> str:
    """Token ids as text; "other" (97) reads as U+FFFD."""
    chars = [chr(i + 32) for i in range(95)] + ["\t", "\n", "\ufffd"]
    return "".join(chars[i] for i in np.asarray(ids))


class Data(NamedTuple):
    train: np.ndarray  # int32 token ids
    val: np.ndarray
    test: np.ndarray


def split_files(seed: int = 0, folder: str | Path | None = None) -> tuple[list[Path], ...]:
    """The (train, validation, test) ``*.py`` files of `folder` (default: the stdlib's), by
    ``zlib.crc32(name, seed) % 10``: 0-7, 8, 9; each list in name order."""
    folder = Path(sysconfig.get_paths()["stdlib"] if folder is None else folder)
    splits: tuple[list[Path], ...] = ([], [], [])
    for path in sorted(p for p in folder.glob("*.py") if p.is_file()):
        bucket = zlib.crc32(path.name.encode(), seed) % 10
        splits[0 if bucket < 8 else bucket - 7].append(path)
    return splits


def load(chars: tuple[int, int, int] = CHARS, seed: int = 0) -> Data:
    """The stdlib's source split by file (see `split_files`), each split concatenated, cut to
    its ``chars`` entry and encoded."""
    if len(chars) != 3 or any(isinstance(c, bool) or int(c) != c or c < 2 for c in chars):
        raise ValueError(f"chars must be three integers >= 2 (train, val, test), got {chars!r}")
    texts = []
    for files, n in zip(split_files(seed), chars, strict=True):
        parts, size = [], 0
        for path in files:
            if size >= n:
                break
            parts.append(path.read_bytes())
            size += len(parts[-1])
        texts.append(encode(b"".join(parts)[:n]))
    return Data(*texts)


@dataclasses.dataclass(frozen=True)
class Config:
    """The static settings of a run: the model's shape, the batches and the steps."""

    context: int = 64
    width: int = 64
    layers: int = 2
    heads: int = 4
    batch: int = 32
    steps: int = 1000
    eval_windows: int = 32  # validation windows of `context` characters, fixed offsets
    seed: int = 0  # the initial weights' and the batches' seed

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            low = 0 if field.name == "seed" else 1
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"Config.{field.name} must be an int >= {low}, got {value!r}")
        if self.width % self.heads:
            raise ValueError(f"Config.heads={self.heads} must divide Config.width={self.width}")


class Block(nn.Module):
    heads: int

    @nn.compact
    def __call__(self, x, mask):
        x = x + nn.MultiHeadDotProductAttention(self.heads)(nn.LayerNorm()(x), mask=mask)
        h = nn.gelu(nn.Dense(4 * x.shape[-1])(nn.LayerNorm()(x)))
        return x + nn.Dense(x.shape[-1])(h)


class Transformer(nn.Module):
    """``ids (..., T) -> logits (..., T, VOCAB)``; position t sees ids[..., :t + 1] only."""

    config: Config

    @nn.compact
    def __call__(self, ids):
        c = self.config
        embed = nn.Embed(VOCAB, c.width, embedding_init=nn.initializers.normal(0.02))
        pos = self.param("pos", nn.initializers.normal(0.02), (c.context, c.width))
        x = embed(ids) + pos[: ids.shape[-1]]
        mask = nn.make_causal_mask(ids)
        for _ in range(c.layers):
            x = Block(c.heads)(x, mask)
        return embed.attend(nn.LayerNorm()(x))


def schedule(hp: Hyperparameters, steps: int) -> S.Schedule:
    """``hp["family"]``'s rate at step k, W = ``hp["warmup"]``, T = `steps`, C = T // 5:

    * all: ``peak * k / W`` for k < W;
    * 0: ``peak * (1 + cos(pi * (k - W) / (T - W))) / 2`` (Loshchilov & Hutter 2017);
    * 1: ``peak`` until T - C, then ``peak * (1 - sqrt((k - T + C) / C))`` (Hägele et al.
      2024, "Scaling Laws and Compute-Optimal Training beyond Fixed Training Durations");
    * 2: ``peak / sqrt(1 + (k - W) / max(W, 1))`` (Vaswani et al. 2017);
    * 3: ``peak`` (constant after the warmup).
    """
    peak, warm = hp["peak"], hp["warmup"]
    cool = steps // 5
    return S.switch(
        hp["family"],
        [
            S.warmup(S.cosine_decay(peak, jnp.maximum(steps - warm, 1)), warm),
            S.warmup_stable_decay(
                peak, warm, jnp.maximum(steps - cool - warm, 0), cool, decay_shape="1-sqrt"
            ),
            S.inverse_sqrt(peak, warm),
            S.warmup(S.constant(peak), warm),
        ],
    )


OPTIMIZERS = ("adamw", "adam", "momentum")
"""``hp["optimizer"]``'s names: AdamW (weight decay 0.1), Adam, SGD with momentum 0.9."""

SCHEDULES = ("warmup_cosine", "wsd_1sqrt", "inverse_sqrt", "constant")
"""``hp["family"]``'s names (see `schedule`)."""


def optimizer(
    hp: Hyperparameters, steps: int, rate: S.Schedule | None = None
) -> optax.GradientTransformation:
    """``chain(select(hp["optimizer"], directions), scale_by_learning_rate(schedule))``: with
    one rate after the switch, each branch is update for update `lrjax.adamw` (weight decay
    0.1), `lrjax.adam` and `lrjax.sgd` (momentum 0.9) at that rate. ``rate`` replaces
    `schedule` (the range test's growing rate)."""
    directions = [
        optax.chain(scale_by_adam(), decay_weights(0.1)),
        scale_by_adam(),
        scale_by_momentum(0.9),
    ]
    rate = schedule(hp, steps) if rate is None else rate
    return optax.chain(select(hp["optimizer"], directions), scale_by_learning_rate(rate))


def nats(params: Any, model: Transformer, windows: jax.Array) -> jax.Array:
    """Mean next-character cross-entropy of windows (..., context + 1), in nats."""
    logits = model.apply(params, windows[..., :-1])
    return optax.softmax_cross_entropy_with_integer_labels(logits, windows[..., 1:]).mean()


def _windows(text: jax.Array, offsets: jax.Array, context: int) -> jax.Array:
    return text[offsets[..., None] + jnp.arange(context + 1)]


def batch_offsets(n: int, config: Config) -> np.ndarray:
    """int32 (steps, batch) start offsets of training windows (``context + 1`` characters)
    in a text of `n` characters, uniform from a seeded generator."""
    if n < config.context + 1:
        raise ValueError(f"the text ({n} chars) is shorter than a window ({config.context + 1})")
    rng = np.random.default_rng(config.seed + 1)
    return rng.integers(0, n - config.context, (config.steps, config.batch)).astype(np.int32)


def make_step(
    config: Config = Config(), data: Data | None = None, rate: S.Schedule | None = None
) -> tuple[Callable, Callable, Callable, jax.Array]:
    """``(init, step, evaluate, batches)`` for `lrjax.sweep.run`.

    ``init(hp) -> (params, opt_state)``, the weights drawn from ``config.seed`` (the same
    for every member; under `lrjax.sweep.run` inside the compiled program).
    ``step(carry, offsets, hp) -> (carry, {"loss": nats per char})`` takes one row of
    ``batches`` (int32 (steps, batch), `batch_offsets`) and gathers those windows of the
    training text. ``evaluate(carry, hp) -> {"val_bpc": bits per char}`` runs on
    ``config.eval_windows`` windows of the validation text at evenly spaced offsets from
    its start to its end. `data` defaults to `load()`. ``rate`` replaces hp's schedule
    (see `optimizer`).
    """
    data = load() if data is None else data
    if len(data.val) < config.context + 1:
        raise ValueError(f"the validation text is shorter than a window ({config.context + 1})")
    model = Transformer(config)
    train, val = jnp.asarray(data.train), jnp.asarray(data.val)
    batches = jnp.asarray(batch_offsets(len(data.train), config))
    starts = np.linspace(0, len(data.val) - config.context - 1, config.eval_windows)
    val_windows = _windows(val, jnp.asarray(starts.astype(np.int32)), config.context)

    def init(hp: Hyperparameters):
        params = model.init(jax.random.key(config.seed), jnp.zeros((1, config.context), int))
        return params, optimizer(hp, config.steps, rate).init(params)

    def step(carry, offsets: jax.Array, hp: Hyperparameters):
        p, s = carry
        loss, g = jax.value_and_grad(nats)(p, model, _windows(train, offsets, config.context))
        u, s = optimizer(hp, config.steps, rate).update(g, s, p)
        return (optax.apply_updates(p, u), s), {"loss": loss}

    def evaluate(carry, hp: Hyperparameters):
        return {"val_bpc": nats(carry[0], model, val_windows) / math.log(2)}

    return init, step, evaluate, batches


def make_train(config: Config = Config(), data: Data | None = None) -> Callable:
    """``train(hp) -> {"loss": (steps,), "val_bpc": ()}``: `make_step`'s pieces, the steps
    under `jax.lax.scan`, then one evaluation."""
    init, step, evaluate, batches = make_step(config, data)

    def train(hp: Hyperparameters) -> dict[str, jax.Array]:
        carry, metrics = jax.lax.scan(lambda c, b: step(c, b, hp), init(hp), batches)
        return {**metrics, **evaluate(carry, hp)}

    return train


def test_bpc(params: Any, data: Data, config: Config = Config(), chunk: int = 256) -> float:
    """Bits per character of `params` on the whole test text, in non-overlapping windows of
    ``context`` predictions (the text's tail that fills no window is left out)."""
    n = (len(data.test) - 1) // config.context
    if n < 1:
        raise ValueError(f"the test text is shorter than a window ({config.context + 1})")
    starts = np.arange(n) * config.context
    windows = _windows(jnp.asarray(data.test), jnp.asarray(starts, jnp.int32), config.context)
    model, pad = Transformer(config), -n % chunk
    padded = jnp.concatenate([windows, jnp.repeat(windows[:1], pad, 0)]).reshape(
        -1, chunk, config.context + 1
    )

    @jax.jit
    def total(params, padded):
        def one(w):
            logits = model.apply(params, w[:, :-1])
            return optax.softmax_cross_entropy_with_integer_labels(logits, w[:, 1:]).sum(-1)

        losses = jax.lax.map(one, padded).reshape(-1)[:n]
        return losses.sum()

    return float(total(params, padded)) / (n * config.context) / math.log(2)


test_bpc.__test__ = False  # not a pytest test, whatever its name


def task(
    steps: int = 600,
    seed: int = 0,
    context: int = 32,
    width: int = 64,
    layers: int = 2,
    heads: int = 4,
    batch: int = 16,
) -> Task:
    """The character-level transformer as a `lrjax.sweep.task.Task`: peak rate (log-uniform on
    [1e-3, 1e-1], 4 points on the default grid) x schedule family (warmup-cosine, WSD with a
    1-sqrt cool-down, inverse square root) x optimizer (AdamW, SGD with momentum), warmup
    10% of the steps; the score is validation bits per character, minimised; the winner is
    retrained alone and scored on the whole test text (`test_bpc`). The baseline is Adam at
    a constant 1e-3 (``optax.adam(1e-3)``; ``torch.optim.Adam()``'s defaults). The defaults
    are sized for a sweep of a few minutes on two CPU cores; `Config`'s are larger."""
    config = Config(
        context=context,
        width=width,
        layers=layers,
        heads=heads,
        batch=batch,
        steps=steps,
        seed=seed,
    )
    check_memory(f"charlm: {steps} steps of batch {batch} (their offsets)", 12 * steps * batch)
    data = load(seed=0)
    init, step, evaluate, batches = make_step(config, data)

    @jax.jit
    def train(hp):
        carry, _ = jax.lax.scan(lambda c, b: step(c, b, hp), init(hp), batches)
        return carry[0], evaluate(carry, hp)["val_bpc"]

    def test(hp):
        params, val = train(hp)
        return {"test_bpc": test_bpc(params, data, config), "val_bpc": val}

    def with_rate(rate):
        return make_step(config, data, rate)[:2]

    warmup = max(1, steps // 10)
    return Task(
        name="character-level transformer on the standard library's source",
        space={
            "peak": sp.log_uniform(1e-3, 1e-1),
            "family": sp.choice([0, 1, 2]),
            "optimizer": sp.choice([0, 2]),
            "warmup": warmup,
        },
        init=init,
        step=step,
        evaluate=evaluate,
        batches=batches,
        score="val_bpc",
        mode="min",
        labels={"family": SCHEDULES, "optimizer": OPTIMIZERS},
        test=test,
        baselines={
            "optax.adam(1e-3), constant (= torch.optim.Adam() defaults)": {
                "peak": 1e-3,
                "family": "constant",
                "optimizer": "adam",
                "warmup": 0,
            }
        },
        with_rate=with_rate,
        defaults={"sampler": "grid", "points": 4},
        description=(
            f"A decoder-only transformer ({layers} layers, width {width}, {heads} heads, "
            f"context {context}) trained on the characters of the Python standard library's "
            f"source (files split 8/1/1 by a hash of their names), {steps} steps of "
            f"{batch} windows. Score: validation bits per character on {config.eval_windows} "
            f"windows; test: the whole test text; the training loss is in nats."
        ),
    )

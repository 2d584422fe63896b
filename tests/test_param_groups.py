"""Parameter groups (issue 18): a two-group fine-tuning and a timm-style layer-decay
fine-tuning, each written in native lrjax and in `lrjax.compat.torch`'s group-list form,
against torch 2.13's own AdamW with parameter groups and a per-group LambdaLR, run live
in float64 on the same parameters and the same gradients (torch is the reference here,
not a stand-in); and each group's rate read with `lrjax.applied_lr`."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax import schedules as S
from lrjax.compat import torch as T
from lrjax.transforms.groups import layer_index, matches, names

torch = pytest.importorskip("torch")

STEPS = 12


def warm(k):
    """LambdaLR's multiplier: linear warmup over 4 steps, then 0.9 per step."""
    k = jnp.asarray(k, float)  # float64 under x64, as torch's Python floats
    return jnp.where(k < 4, (k + 1) / 4, 0.9 ** (k - 3))


def warm_torch(k: int) -> float:
    return (k + 1) / 4 if k < 4 else 0.9 ** (k - 3)


def model_params() -> dict:
    rng = np.random.default_rng(0)
    shapes = {
        "embed": {"w": (4, 3)},
        "blocks": [{"w": (3, 3), "b": (3,)}, {"w": (3, 3), "b": (3,)}],
        "head": {"w": (3, 2), "b": (2,)},
    }
    return jax.tree.map(
        lambda s: rng.normal(size=s), shapes, is_leaf=lambda x: isinstance(x, tuple)
    )


def loss(leaves: list, xp) -> object:
    """A smooth non-quadratic loss of every leaf, written for jax.numpy and torch alike."""
    total = 0.0
    for i, p in enumerate(leaves):
        total = total + ((xp.sin(p * (i + 1)) + 0.1 * p**2) * (0.5 + i / 10)).sum()
    return total


def run_lrjax(opt: optax.GradientTransformation, params: dict):
    @jax.jit
    def step(params, state):
        grads = jax.grad(lambda p: loss(jax.tree.leaves(p), jnp))(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, lrjax.applied_lr(state)

    state = opt.init(params)
    rates = []
    for _ in range(STEPS):
        params, state, rate = step(params, state)
        rates.append({k: float(v) for k, v in rate.items()})
    return params, rates


def run_torch(groups_of, params: dict):
    """torch.optim.AdamW over ``groups_of(named tensors)`` with LambdaLR(warm) per group;
    returns the final leaves and each step's group rates."""
    leaves = [
        torch.tensor(np.asarray(x), dtype=torch.float64, requires_grad=True)
        for x in jax.tree.leaves(params)
    ]
    named = dict(zip(names(params), leaves, strict=True))
    opt = torch.optim.AdamW(groups_of(named), lr=1e-3, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, warm_torch)
    rates = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss(leaves, torch).backward()
        rates.append([g["lr"] for g in opt.param_groups])
        opt.step()
        scheduler.step()
    return [t.detach().numpy() for t in leaves], rates


def assert_same(ours: dict, theirs: list, atol: float):
    """compat.torch is torch's arithmetic (atol 1e-13 on values of order 1); native
    lrjax.adamw is the same formula rounded in another order (1 - b2 among others, see
    docs/optimizers.md), which 12 steps keep within 1e-10."""
    for mine, reference in zip(jax.tree.leaves(ours), theirs, strict=True):
        np.testing.assert_allclose(np.asarray(mine), reference, rtol=1e-10, atol=atol)


NATIVE, PORTED = 1e-10, 1e-13


def test_the_names_groups_select(x64):
    assert names(model_params()) == [
        "blocks/0/b", "blocks/0/w", "blocks/1/b", "blocks/1/w", "embed/w", "head/b", "head/w",
    ]  # fmt: skip
    assert matches("blocks/**", "blocks/1/w") and not matches("blocks/*", "blocks/1/w")
    assert [layer_index(n, 3) for n in names(model_params())] == [1, 1, 2, 2, 0, 3, 3]


def test_two_group_fine_tuning_matches_torch(x64):
    """A small rate for the backbone, a larger one for the head, one warmup schedule."""
    params = model_params()

    def torch_groups(named):
        backbone = [t for n, t in named.items() if not n.startswith("head")]
        return [{"params": backbone, "lr": 1e-4}, {"params": [named["head/b"], named["head/w"]]}]

    reference, torch_rates = run_torch(torch_groups, params)

    native = lrjax.param_groups(
        {"head": ("head/**", lrjax.adamw(T.LambdaLR(1e-3, warm), weight_decay=0.01))},
        default=lrjax.adamw(T.LambdaLR(1e-4, warm), weight_decay=0.01),
    )
    ported = T.AdamW(
        [
            {"params": ["embed/**", "blocks/**"], "lr": T.LambdaLR(1e-4, warm), "name": "backbone"},
            {"params": "head/**", "name": "head"},
        ],
        lr=T.LambdaLR(1e-3, warm),
        weight_decay=0.01,
    )
    cases = ((native, ("default", "head"), NATIVE), (ported, ("backbone", "head"), PORTED))
    for opt, labels, atol in cases:
        final, rates = run_lrjax(opt, params)
        assert_same(final, reference, atol)
        ours = [[r[labels[0]], r[labels[1]]] for r in rates]
        np.testing.assert_allclose(ours, torch_rates, rtol=1e-12)


def test_layer_decay_fine_tuning_matches_torch(x64):
    """timm's param_groups_layer_decay: layer l's rate is lr * 0.7 ** (depth - l), and
    no weight decay on vectors (biases, norms)."""
    params = model_params()
    depth, decay = 3, 0.7

    def torch_groups(named):
        groups = []
        for name, tensor in named.items():
            scale = decay ** (depth - layer_index(name, depth))
            wd = 0.01 if tensor.ndim > 1 else 0.0
            groups.append({"params": [tensor], "lr": 1e-3 * scale, "weight_decay": wd})
        return groups

    reference, torch_rates = run_torch(torch_groups, params)

    matrices = lambda p: jax.tree.map(lambda x: x.ndim > 1, p)  # noqa: E731
    native = lrjax.layer_decay(
        lambda lr: lrjax.adamw(lr, weight_decay=0.01, mask=matrices),
        T.LambdaLR(1e-3, warm),
        decay=decay,
        depth=depth,
    )
    final, rates = run_lrjax(native, params)
    assert_same(final, reference, NATIVE)
    for name, column in zip(names(params), np.asarray(torch_rates).T, strict=True):
        layer = f"layer_{layer_index(name, depth)}"
        np.testing.assert_allclose([r[layer] for r in rates], column, rtol=1e-12)

    ported = T.AdamW(
        [
            {
                "params": name,
                "lr_scale": decay ** (depth - layer_index(name, depth)),
                "weight_decay": 0.01 if leaf.ndim > 1 else 0.0,
            }
            for name, leaf in zip(names(params), jax.tree.leaves(params), strict=True)
        ],
        lr=T.LambdaLR(1e-3, warm),
    )
    final, _ = run_lrjax(ported, params)
    assert_same(final, reference, PORTED)


def test_a_traced_decay_vmaps_like_a_loop(x64):
    params = model_params()

    def final(decay):
        opt = lrjax.layer_decay(lrjax.sgd, S.constant(0.1), decay=decay, depth=3)
        state = opt.init(params)
        grads = jax.tree.map(jnp.ones_like, params)
        updates, state = opt.update(grads, state, params)
        return updates["embed"]["w"][0, 0], lrjax.applied_lr(state)["layer_0"]

    decays = jnp.array([0.5, 0.8])
    together = jax.vmap(final)(decays)
    for i, d in enumerate([0.5, 0.8]):
        alone = final(jnp.asarray(d))
        np.testing.assert_allclose(together[0][i], alone[0])
        assert float(alone[1]) == pytest.approx(0.1 * d**3)


def test_group_errors_name_what_is_wrong():
    params = {"backbone": {"w": jnp.ones(2)}, "head": {"w": jnp.ones(2)}}
    only_head = lrjax.param_groups({"head": ("head/**", lrjax.sgd(0.1))})
    with pytest.raises(ValueError, match="'backbone/w' is in no group .head."):
        only_head.init(params)
    with pytest.raises(ValueError, match="labelled 'default'"):
        lrjax.param_groups({"default": ("**", lrjax.sgd(0.1))}, default=lrjax.sgd(0.1))
    with pytest.raises(TypeError, match="selector must be a pattern"):
        lrjax.param_groups({"a": (5, lrjax.sgd(0.1))})
    both = T.SGD([{"params": "**"}, {"params": "head/**"}], lr=0.1)
    with pytest.raises(ValueError, match="'head/w' is in groups 0, 1; torch refuses"):
        both.init(params)
    none = T.SGD([{"params": "head/**"}], lr=0.1)
    with pytest.raises(ValueError, match="'backbone/w' is in no parameter group"):
        none.init(params)
    with pytest.raises(TypeError, match="'layer_id' is not an argument of AdamW"):
        T.AdamW([{"params": "**", "layer_id": 3}])
    with pytest.raises(ValueError, match="depth must be .* >= 1, got 0"):
        lrjax.layer_decay(lrjax.sgd, 0.1, 0.5, depth=0)
    positional = T.SGD([{"params": "**"}], 0.5)  # torch's defaults may follow positionally
    state = positional.update(params, positional.init(params), params)[1]
    assert float(lrjax.applied_lr(state)["0"]) == 0.5

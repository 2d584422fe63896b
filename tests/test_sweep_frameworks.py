"""`lrjax.sweep.run` trains Flax NNX, Flax Linen and Equinox models as their users write them.

For each framework a population of learning rates trains a small MLP on a tiny regression
problem, with an evaluation every few steps, and every member's losses, evaluations and
final weights equal that member trained alone by the framework's own jitted step in a
Python loop (`nnx.jit`, `jax.jit` on a ``TrainState``, `eqx.filter_jit`). The rates the
sweep logs are the rates (or schedule values) each update applied; `member_carry` gives
back the framework's real objects; new hyperparameter values of the same shape reuse the
compiled programs. The optimizer is built from the traced hyperparameters (in ``init``
for NNX and Linen, in ``step`` for Equinox) and no tracer leaks between programs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
import lrjax.schedules as S
from lrjax import sweep
from lrjax.sweep import programs

STEPS, EVERY, BATCH = 12, 5, 8  # segments of 5, 5 and 2 steps: evaluations at 5, 10, 12
EVAL_STEPS = [5, 10, 12]
_keys = jax.random.split(jax.random.key(0), 2)
_W = jnp.array([1.0, -2.0, 3.0, 0.5])
X = jax.random.normal(_keys[0], (STEPS * BATCH, 4))
Y = jnp.sin(X @ _W)[:, None]
BATCHES = {"x": X.reshape(STEPS, BATCH, 4), "y": Y.reshape(STEPS, BATCH, 1)}
XV = jax.random.normal(_keys[1], (32, 4))
YV = jnp.sin(XV @ _W)[:, None]
RATES = jnp.array([1e-3, 1e-2, 1e-1])


def close(actual, desired):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), rtol=1e-5, atol=1e-7)


def batch(k: int) -> dict:
    return jax.tree.map(lambda b: b[k], BATCHES)


def member(hp: dict, i: int) -> dict:
    """Member ``i``'s hyperparameters as Python numbers."""
    return {k: np.asarray(v)[i].item() for k, v in hp.items()}


def train_alone(train_step, evaluate):
    """A member's per-step losses and its evaluations at `EVAL_STEPS`, by a plain loop."""
    losses, evals = [], []
    for k in range(STEPS):
        losses.append(float(train_step(batch(k))))
        if k + 1 in EVAL_STEPS:
            evals.append(float(evaluate()))
    return np.array(losses), np.array(evals)


def assert_equals_members_alone(result, alone, lrs):
    """The sweep's curves equal each member's own: ``alone[i] = (losses, evals, ...)``."""
    assert result.losses.shape == (len(alone), STEPS)
    np.testing.assert_array_equal(result.eval_steps, EVAL_STEPS)
    for i, (losses, evals, *_) in enumerate(alone):
        close(result.losses[i], losses)
        close(result.evals["val"][i], evals)
    close(result.lrs, lrs)


def assert_no_recompile(init, step, hparams, evaluate, new_hparams, rates):
    """A second sweep with other values of the same shape runs the compiled programs."""
    compiled = programs.advance(init, step, True), programs.evaluate(init, evaluate)
    sizes = [p._cache_size() for p in compiled]
    assert min(sizes) >= 1  # the first sweep compiled them
    result = sweep.run(init, step, new_hparams, BATCHES, evaluate=evaluate, eval_every=EVERY)
    assert [p._cache_size() for p in compiled] == sizes
    close(result.lrs, rates)  # and it trained with the new values


# ---------------------------------------------------------------------------------------
# Flax NNX: the model and an nnx.Optimizer in the carry, the optimizer built in init
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nnx_case():
    nnx = pytest.importorskip("flax.nnx")

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.hidden = nnx.Linear(4, 16, rngs=rngs)
            self.out = nnx.Linear(16, 1, rngs=rngs)

        def __call__(self, x):
            return self.out(jnp.tanh(self.hidden(x)))

    def mse(model, x, y):
        return jnp.mean((model(x) - y) ** 2)

    def init(hp):
        model = MLP(nnx.Rngs(0))
        return model, nnx.Optimizer(model, lrjax.adam(hp["lr"]), wrt=nnx.Param)

    def step(carry, b, hp):
        model, opt = carry
        loss, grads = nnx.value_and_grad(mse)(model, b["x"], b["y"])
        opt.update(model, grads)
        return (model, opt), loss

    def evaluate(carry, hp):
        return {"val": mse(carry[0], XV, YV)}

    @nnx.jit
    def train_step(model, opt, x, y):  # NNX's usual step
        loss, grads = nnx.value_and_grad(mse)(model, x, y)
        opt.update(model, grads)
        return loss

    def alone(lr):
        model = MLP(nnx.Rngs(0))
        opt = nnx.Optimizer(model, lrjax.adam(lr), wrt=nnx.Param)
        curves = train_alone(
            lambda b: train_step(model, opt, b["x"], b["y"]), lambda: mse(model, XV, YV)
        )
        return (*curves, model)

    hp = {"lr": RATES}
    result = sweep.run(
        init, step, hp, BATCHES, evaluate=evaluate, eval_every=EVERY, return_carry=True
    )
    members = [alone(float(lr)) for lr in RATES]
    return nnx, init, step, evaluate, hp, result, members


def test_nnx_sweep_equals_each_member_trained_alone(nnx_case):
    *_, result, members = nnx_case
    assert_equals_members_alone(result, members, np.repeat(RATES[:, None], STEPS, 1))


def test_nnx_member_carry_is_the_model_and_its_optimizer(nnx_case):
    nnx, init, _, _, hp, result, members = nnx_case
    for i in range(len(RATES)):
        model, opt = sweep.member_carry(init, hp, result.carry, i)
        assert isinstance(opt, nnx.Optimizer) and isinstance(model, nnx.Module)
        assert float(lrjax.applied_lr(opt)) == pytest.approx(float(RATES[i]))
        assert int(opt.step[...]) == STEPS
        reference = members[i][2]
        close(model.hidden.kernel[...], reference.hidden.kernel[...])
        close(model(XV), reference(XV))  # a model to call


def test_nnx_new_rates_do_not_recompile(nnx_case):
    _, init, step, evaluate, hp, *_ = nnx_case
    new = RATES[::-1] / 2
    assert_no_recompile(init, step, hp, evaluate, {"lr": new}, np.repeat(new[:, None], STEPS, 1))


# ---------------------------------------------------------------------------------------
# Flax Linen: a TrainState whose tx follows a schedule with a traced peak and warmup
# ---------------------------------------------------------------------------------------

LINEN_HP = {"peak": RATES, "warmup": jnp.array([0, 2, 6])}


def linen_schedule(hp):
    return S.warmup(S.cosine_decay(hp["peak"], STEPS), hp["warmup"])


def linen_lrs(hp):
    """(population, STEPS) the schedule's value at each update, member by member."""
    n = len(hp["peak"])
    return np.stack([linen_schedule(member(hp, i))(jnp.arange(STEPS)) for i in range(n)])


@pytest.fixture(scope="module")
def linen_case():
    nn = pytest.importorskip("flax.linen")
    from flax.training.train_state import TrainState

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(1)(jnp.tanh(nn.Dense(16)(x)))

    def mse(state, params, x, y):
        return jnp.mean((state.apply_fn(params, x) - y) ** 2)

    def create(tx):
        model = MLP()
        params = model.init(jax.random.key(0), jnp.zeros((1, 4)))
        return TrainState.create(apply_fn=model.apply, params=params, tx=tx)

    def init(hp):
        return create(lrjax.adam(linen_schedule(hp)))

    def step(state, b, hp):
        loss, grads = jax.value_and_grad(lambda p: mse(state, p, b["x"], b["y"]))(state.params)
        return state.apply_gradients(grads=grads), {"loss": loss}

    def evaluate(state, hp):
        return {"val": mse(state, state.params, XV, YV)}

    @jax.jit
    def train_step(state, x, y):  # Linen's usual step
        loss, grads = jax.value_and_grad(lambda p: mse(state, p, x, y))(state.params)
        return state.apply_gradients(grads=grads), loss

    def alone(hp):
        state = create(lrjax.adam(linen_schedule(hp)))

        def one(b):
            nonlocal state
            state, loss = train_step(state, b["x"], b["y"])
            return loss

        curves = train_alone(one, lambda: mse(state, state.params, XV, YV))
        return (*curves, state)

    hp = LINEN_HP
    result = sweep.run(
        init, step, hp, BATCHES, evaluate=evaluate, eval_every=EVERY, return_carry=True
    )
    members = [alone(member(hp, i)) for i in range(len(RATES))]
    return TrainState, init, step, evaluate, hp, result, members


def test_linen_sweep_equals_each_member_trained_alone(linen_case):
    *_, hp, result, members = linen_case
    lrs = linen_lrs(hp)
    assert lrs[1, 0] == 0 and lrs[1, 2] == pytest.approx(float(RATES[1]))  # warmup, then peak
    assert_equals_members_alone(result, members, lrs)


def test_linen_member_carry_is_a_train_state(linen_case):
    TrainState, init, _, _, hp, result, members = linen_case
    lrs = linen_lrs(hp)
    for i in range(len(RATES)):
        state = sweep.member_carry(init, hp, result.carry, i)
        assert isinstance(state, TrainState)
        assert int(state.step) == STEPS  # the int 0 of TrainState.create, carried as an array
        assert float(lrjax.applied_lr(state.opt_state)) == pytest.approx(lrs[i, -1])
        jax.tree.map(close, state.params, members[i][2].params)
        close(state.apply_fn(state.params, XV), members[i][2].apply_fn(state.params, XV))
        state.apply_gradients(grads=state.params)  # its tx is whole again


def test_linen_new_schedules_do_not_recompile(linen_case):
    _, init, step, evaluate, hp, *_ = linen_case
    new = {"peak": RATES / 3, "warmup": jnp.array([5, 0, 11])}
    assert_no_recompile(init, step, hp, evaluate, new, linen_lrs(new))


def test_train_state_whose_tx_closes_over_traced_hparams():
    """What used to raise UnexpectedTracerError: ``optax.sgd(hp["lr"], hp["momentum"])``
    closes over tracers, and a TrainState carried whole from one compiled program into the
    next brings them along. The sweep carries only the arrays and rebuilds the tx from
    each program's own ``init(hp)``, over several segments and chunks."""
    nn = pytest.importorskip("flax.linen")
    from flax.training.train_state import TrainState

    model = nn.Dense(1)
    params = model.init(jax.random.key(0), jnp.zeros((1, 4)))

    def init(hp):
        tx = optax.sgd(hp["lr"], momentum=hp["momentum"])
        return TrainState.create(apply_fn=model.apply, params=params, tx=tx)

    def step(state, b, hp):
        grads = jax.grad(lambda p: jnp.mean((state.apply_fn(p, b["x"]) - b["y"]) ** 2))(
            state.params
        )
        state = state.apply_gradients(grads=grads)
        return state, jnp.mean((state.apply_fn(state.params, b["x"]) - b["y"]) ** 2)

    hp = {"lr": jnp.array([0.01, 0.05, 0.1]), "momentum": jnp.array([0.0, 0.9, 0.5])}

    # Carried whole out of one program into another, the tx's tracers escape.
    states = jax.jit(jax.vmap(init))(hp)
    with pytest.raises(jax.errors.UnexpectedTracerError):
        jax.jit(jax.vmap(step, in_axes=(0, None, 0)))(states, batch(0), hp)

    result = sweep.run(init, step, hp, BATCHES, eval_every=5, chunk_size=2, return_carry=True)
    for i in range(3):
        state = init(member(hp, i))
        for k in range(STEPS):
            state, loss = jax.jit(step)(state, batch(k), member(hp, i))
            close(result.losses[i, k], loss)
        got = sweep.member_carry(init, hp, result.carry, i)
        jax.tree.map(close, got.params, state.params)


# ---------------------------------------------------------------------------------------
# Equinox: an eqx.nn.MLP and its optax state in the carry, the optimizer rebuilt in step
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def eqx_case():
    eqx = pytest.importorskip("equinox")

    def mse(model, x, y):
        return jnp.mean((jax.vmap(model)(x) - y) ** 2)

    def new_model():
        return eqx.nn.MLP(4, 1, 16, 1, activation=jnp.tanh, key=jax.random.key(0))

    def init(hp):
        model = new_model()
        return model, lrjax.adam(hp["lr"]).init(eqx.filter(model, eqx.is_array))

    def step(carry, b, hp):
        model, opt_state = carry
        loss, grads = eqx.filter_value_and_grad(mse)(model, b["x"], b["y"])
        updates, opt_state = lrjax.adam(hp["lr"]).update(
            grads, opt_state, eqx.filter(model, eqx.is_array)
        )
        return (eqx.apply_updates(model, updates), opt_state), loss

    def evaluate(carry, hp):
        return {"val": mse(carry[0], XV, YV)}

    def alone(lr):
        optim = lrjax.adam(lr)

        @eqx.filter_jit
        def train_step(model, opt_state, x, y):  # Equinox's usual step
            loss, grads = eqx.filter_value_and_grad(mse)(model, x, y)
            updates, opt_state = optim.update(grads, opt_state, eqx.filter(model, eqx.is_array))
            return eqx.apply_updates(model, updates), opt_state, loss

        model = new_model()
        opt_state = optim.init(eqx.filter(model, eqx.is_array))

        def one(b):
            nonlocal model, opt_state
            model, opt_state, loss = train_step(model, opt_state, b["x"], b["y"])
            return loss

        curves = train_alone(one, lambda: mse(model, XV, YV))
        return (*curves, model)

    hp = {"lr": RATES}
    result = sweep.run(init, step, hp, BATCHES, evaluate=evaluate, eval_every=EVERY)
    members = [alone(float(lr)) for lr in RATES]
    return eqx, init, step, evaluate, hp, result, members


def test_equinox_sweep_equals_each_member_trained_alone(eqx_case):
    *_, result, members = eqx_case
    assert_equals_members_alone(result, members, np.repeat(RATES[:, None], STEPS, 1))


def test_equinox_member_carry_is_a_module_to_call(eqx_case):
    eqx, init, step, evaluate, hp, _, members = eqx_case
    result = sweep.run(
        init, step, hp, BATCHES, evaluate=evaluate, eval_every=EVERY, return_carry=True
    )
    for i in range(len(RATES)):
        model, opt_state = sweep.member_carry(init, hp, result.carry, i)
        assert isinstance(model, eqx.nn.MLP)
        assert model.activation is jnp.tanh  # a static leaf, from init(hp)
        assert float(lrjax.applied_lr(opt_state)) == pytest.approx(float(RATES[i]))
        close(jax.vmap(model)(XV), jax.vmap(members[i][2])(XV))


def test_equinox_new_rates_do_not_recompile(eqx_case):
    _, init, step, evaluate, hp, *_ = eqx_case
    new = RATES * 2
    assert_no_recompile(init, step, hp, evaluate, {"lr": new}, np.repeat(new[:, None], STEPS, 1))


# ---------------------------------------------------------------------------------------
# steps=N, no batches: an NNX step draws its own data from an nnx.Rngs stream in the carry
# ---------------------------------------------------------------------------------------


def _nnx_self_fed():
    nnx = pytest.importorskip("flax.nnx")

    def draw(rngs):
        x = jax.random.normal(rngs.data(), (BATCH, 4))
        return x, jnp.sin(x @ _W)[:, None]

    def mse(model, x, y):
        return jnp.mean((model(x) - y) ** 2)

    def init(hp):
        model = nnx.Linear(4, 1, rngs=nnx.Rngs(0))
        opt = nnx.Optimizer(model, lrjax.sgd(hp["lr"], momentum=0.9), wrt=nnx.Param)
        return model, opt, nnx.Rngs(data=1)

    def step(carry, hp):
        model, opt, rngs = carry
        loss, grads = nnx.value_and_grad(mse)(model, *draw(rngs))
        opt.update(model, grads)
        return (model, opt, rngs), loss

    @nnx.jit
    def train_step(model, opt, rngs):
        loss, grads = nnx.value_and_grad(mse)(model, *draw(rngs))
        opt.update(model, grads)
        return loss

    def alone(lr):
        model = nnx.Linear(4, 1, rngs=nnx.Rngs(0))
        opt = nnx.Optimizer(model, lrjax.sgd(lr, momentum=0.9), wrt=nnx.Param)
        rngs = nnx.Rngs(data=1)
        return [float(train_step(model, opt, rngs)) for _ in range(STEPS)]

    return init, step, alone


def test_nnx_step_that_draws_its_own_data():
    init, step, alone = _nnx_self_fed()
    hp = {"lr": jnp.array([0.01, 0.1])}
    result = sweep.run(init, step, hp, steps=STEPS, eval_every=EVERY)
    for i, lr in enumerate([0.01, 0.1]):
        close(result.losses[i], alone(lr))
    close(result.lrs, np.repeat(np.array(hp["lr"])[:, None], STEPS, 1))
    assert result.losses[1, -1] < result.losses[1, 0]  # the stream moves on: fresh data, learning


def test_return_carry_with_a_prng_key_in_the_carry():
    def init(hp):
        return jnp.zeros(()), jax.random.key(0)

    def step(carry, hp):
        x, key = carry
        key, sub = jax.random.split(key)
        return (x + hp["lr"] * jax.random.normal(sub), key), x

    # two chunks: their carries' keys are joined as keys
    result = sweep.run(init, step, {"lr": jnp.ones(2)}, steps=3, return_carry=True, chunk_size=1)
    x, key = sweep.member_carry(init, {"lr": jnp.ones(2)}, result.carry, 1)
    assert jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    expected = jax.random.key(0)
    for _ in range(3):
        expected, _ = jax.random.split(expected)
    np.testing.assert_array_equal(jax.random.key_data(key), jax.random.key_data(expected))

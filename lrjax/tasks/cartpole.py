"""PPO on gymnax's CartPole-v1, the whole training one jittable function of its hyperparameters.

The algorithm is proximal policy optimisation (Schulman et al. 2017, "Proximal Policy
Optimization Algorithms") with generalised advantage estimation (Schulman et al. 2016,
"High-Dimensional Continuous Control Using Generalized Advantage Estimation"), laid out as
PureJaxRL does (Lu et al. 2022, "Discovered Policy Optimisation"): environments, rollout and
updates all live in JAX, so one update is a pure function `step(carry, hp)` and a training
run is `lax.scan` of it, which `jax.vmap` turns into a population.

One update:

1. Roll out ``num_steps`` steps of ``num_envs`` environments with the current policy.
2. GAE: ``δ_t = r_t + γ (1 - terminated_t) V(s'_t) - V(s_t)`` and
   ``A_t = δ_t + γ λ (1 - done_t) A_{t+1}``; the value target is ``A_t + V(s_t)``.
3. ``update_epochs`` passes over the batch in ``num_minibatches`` shuffled minibatches,
   each minimising ``-min(ρA, clip(ρ, 1±ε)A) + c_v · clipped value loss - c_e · entropy``
   (advantages normalised per minibatch), with gradients clipped to global norm
   ``max_grad_norm`` before Adam.

Written for gymnax 1.0.1, whose ``env.step`` returns six values ``(obs, state, reward,
terminated, truncated, info)`` and auto-resets on either: ``obs`` is then the first
observation of the next episode and ``info["final_observation"]`` the last one of the
finished episode. Earlier gymnax returned five values with one ``done`` that folded the
time limit in, and PureJaxRL (written for it) cuts the bootstrap at time-outs too. Here a
time-out (500 steps) ends the advantage trace but still bootstraps from ``V`` of the final
observation; only a true termination (the pole fell) sets the future value to zero.

The rate schedule differs from PureJaxRL's in one detail: PureJaxRL's annealing steps once
per update; here it is linear in the optimizer step (every minibatch update), see
`optimizer`. This module imports gymnax and flax at the top: they are optional
dependencies, and ``import lrjax`` never imports ``lrjax.tasks``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

import lrjax
from lrjax import schedules as S
from lrjax.sweep import space as sp
from lrjax.sweep.task import Task

# hp: {"lr": peak rate, "anneal": end rate / peak in [0, 1], "warmup": updates of linear
# warmup (int), "seed": int}; each value a scalar, possibly traced.
Hyperparameters = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Config:
    """The static settings of a run (PureJaxRL's CartPole defaults, fewer environments)."""

    num_envs: int = 4
    num_steps: int = 128
    total_timesteps: int = 100_000
    update_epochs: int = 4
    num_minibatches: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: int = 64

    def __post_init__(self):
        counts = ("num_envs", "num_steps", "total_timesteps", "update_epochs")
        for name in (*counts, "num_minibatches", "hidden"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Config.{name} must be a positive int, got {value!r}")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"Config.{name} must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("clip_eps", "max_grad_norm"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Config.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("ent_coef", "vf_coef"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"Config.{name} must be >= 0, got {getattr(self, name)!r}")
        batch = self.num_envs * self.num_steps
        if batch % self.num_minibatches:
            raise ValueError(
                f"Config.num_minibatches={self.num_minibatches} must divide the batch "
                f"num_envs * num_steps = {batch}"
            )
        if self.num_updates == 0:
            raise ValueError(
                f"Config.total_timesteps={self.total_timesteps} is less than one update "
                f"(num_envs * num_steps = {batch}); raise it"
            )

    @property
    def num_updates(self) -> int:
        return self.total_timesteps // (self.num_envs * self.num_steps)


def optimizer(hp: Hyperparameters, config: Config) -> optax.GradientTransformation:
    """Clip to global norm, then Adam (eps 1e-5) at a warmup-then-linear rate.

    With ``U`` = update_epochs * num_minibatches optimizer steps per update, ``W`` =
    hp["warmup"] * U and ``T`` = num_updates * U, the rate at optimizer step k is
    ``lr * k / W`` for k < W, then falls linearly from ``lr`` at k = W to
    ``lr * anneal`` at k = T.
    """
    per_update = config.update_epochs * config.num_minibatches
    total = config.num_updates * per_update
    lr, warmup = hp["lr"], hp["warmup"] * per_update
    decay = S.linear(lr, lr * hp["anneal"], jnp.maximum(total - warmup, 1))
    schedule = S.warmup(decay, warmup, target=lr)
    return optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm), lrjax.adam(schedule, eps=1e-5)
    )


class ActorCritic(nn.Module):
    """Separate tanh MLPs for the policy logits and the value, orthogonally initialised."""

    num_actions: int
    hidden: int = 64

    @nn.compact
    def __call__(self, obs):
        def mlp(out, scale):
            x = obs
            for _ in range(2):
                x = nn.tanh(nn.Dense(self.hidden, nn.initializers.orthogonal(np.sqrt(2)))(x))
            return nn.Dense(out, nn.initializers.orthogonal(scale))(x)

        return mlp(self.num_actions, 0.01), mlp(1, 1.0)[..., 0]


class Episodes(NamedTuple):
    """Per-environment episode bookkeeping, shape (num_envs,)."""

    returns: jax.Array  # float32, return of the running episode so far
    lengths: jax.Array  # int32, steps of the running episode so far
    last_return: jax.Array  # float32, return of the last finished episode (0 before one)


class Carry(NamedTuple):
    train_state: TrainState  # params, Adam state, and the tx init built (a static field)
    env_state: Any  # gymnax CartPole states, batched over environments
    obs: jax.Array  # float32 (num_envs, 4), the observation the next action sees
    key: jax.Array  # typed PRNG key
    episodes: Episodes


def make_step(
    config: Config = Config(), make_optimizer: Callable = optimizer
) -> tuple[Callable, Callable]:
    """``(init, step)``: ``init(hp) -> Carry`` and ``step(carry, hp) -> (carry, metrics)``;
    ``make_optimizer(hp, config)`` builds the optimizer (default `optimizer`).

    ``step`` performs one PPO update and returns float32 scalars: "return", the mean return
    of the episodes that finished during the update or, when none did, the mean over
    environments of their last finished return (0 before any finished), so it is never
    NaN; "loss", the total PPO loss averaged over minibatches; "entropy", the policy's mean
    entropy over the same minibatches.

    ``init`` builds everything from hp: the key from hp["seed"], and the carry's
    `TrainState` with the optimizer of hp's rate settings (a static field closing over hp,
    as PureJaxRL writes it), which ``step`` uses through ``apply_gradients``. Under
    `lrjax.sweep.run` that tx is rebuilt from ``init(hp)`` in each compiled program, so no
    tracer leaks; a hand-written ``jax.jit(step)`` needs a carry from an unjitted ``init``
    (concrete hp), since a jitted one's tx would hold its tracers.
    """
    env, env_params = gymnax.make("CartPole-v1")
    network = ActorCritic(env.action_space(env_params).n, config.hidden)
    batch = config.num_envs * config.num_steps
    reset = jax.vmap(env.reset, in_axes=(0, None))
    env_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def init(hp: Hyperparameters) -> Carry:
        key, net_key, env_key = jax.random.split(jax.random.key(hp["seed"]), 3)
        obs, env_state = reset(jax.random.split(env_key, config.num_envs), env_params)
        params = network.init(net_key, obs)
        state = TrainState.create(
            apply_fn=network.apply, params=params, tx=make_optimizer(hp, config)
        )
        zeros = jnp.zeros(config.num_envs, jnp.float32)
        episodes = Episodes(zeros, jnp.zeros(config.num_envs, jnp.int32), zeros)
        return Carry(state, env_state, obs, key, episodes)

    def act(carry: Carry, _):
        state, env_state, obs, key, episodes = carry
        key, act_key, env_key = jax.random.split(key, 3)
        logits, value = network.apply(state.params, obs)
        action = jax.random.categorical(act_key, logits)
        log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], 1)[:, 0]
        keys = jax.random.split(env_key, config.num_envs)
        next_obs, env_state, reward, terminated, truncated, info = env_step(
            keys, env_state, action, env_params
        )
        reward = reward.astype(jnp.float32)
        done = terminated | truncated
        _, final_value = network.apply(state.params, info["final_observation"])
        returns = episodes.returns + reward
        episodes = Episodes(
            jnp.where(done, 0.0, returns),
            jnp.where(done, 0, episodes.lengths + 1),
            jnp.where(done, returns, episodes.last_return),
        )
        transition = dict(
            obs=obs, action=action, log_prob=log_prob, value=value, reward=reward,
            terminated=terminated, done=done, final_value=final_value, finished=returns,
        )  # fmt: skip
        return Carry(state, env_state, next_obs, key, episodes), transition

    def advantages(t):
        def back(next_adv, x):
            future = config.gamma * jnp.where(x["terminated"], 0.0, x["final_value"])
            delta = x["reward"] + future - x["value"]
            adv = delta + config.gamma * config.gae_lambda * jnp.where(x["done"], 0.0, next_adv)
            return adv, adv

        _, adv = jax.lax.scan(back, jnp.zeros(config.num_envs), t, reverse=True)
        return adv, adv + t["value"]

    def loss_fn(params, mb):
        logits, value = network.apply(params, mb["obs"])
        log_probs = jax.nn.log_softmax(logits)
        log_prob = jnp.take_along_axis(log_probs, mb["action"][:, None], 1)[:, 0]
        eps = config.clip_eps
        ratio = jnp.exp(log_prob - mb["log_prob"])
        adv = (mb["adv"] - mb["adv"].mean()) / (mb["adv"].std() + 1e-8)
        actor = -jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - eps, 1 + eps) * adv).mean()
        clipped_value = mb["value"] + jnp.clip(value - mb["value"], -eps, eps)
        errors = jnp.maximum((value - mb["target"]) ** 2, (clipped_value - mb["target"]) ** 2)
        entropy = -(jnp.exp(log_probs) * log_probs).sum(-1).mean()
        loss = actor + config.vf_coef * 0.5 * errors.mean() - config.ent_coef * entropy
        return loss, entropy

    def step(carry: Carry, hp: Hyperparameters):
        carry, t = jax.lax.scan(act, carry, length=config.num_steps)
        adv, target = advantages(t)
        flat = {k: t[k].reshape(batch, *t[k].shape[2:]) for k in ("obs", "action", "log_prob")}
        flat.update(value=t["value"].ravel(), adv=adv.ravel(), target=target.ravel())

        def minibatch(state, mb):
            (loss, entropy), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, mb)
            return state.apply_gradients(grads=grads), (loss, entropy)

        def epoch(state, key):
            order = jax.random.permutation(key, batch)
            shuffled = jax.tree.map(lambda x: x[order], flat)
            minibatches = jax.tree.map(
                lambda x: x.reshape(config.num_minibatches, -1, *x.shape[1:]), shuffled
            )
            return jax.lax.scan(minibatch, state, minibatches)

        key, epoch_key = jax.random.split(carry.key)
        state, (loss, entropy) = jax.lax.scan(
            epoch, carry.train_state, jax.random.split(epoch_key, config.update_epochs)
        )
        done = t["done"].astype(jnp.float32)
        finished = (done * t["finished"]).sum() / jnp.maximum(done.sum(), 1.0)
        ret = jnp.where(done.sum() > 0, finished, carry.episodes.last_return.mean())
        metrics = {"return": ret, "loss": loss.mean(), "entropy": entropy.mean()}
        return carry._replace(train_state=state, key=key), metrics

    return init, step


def make_train(config: Config = Config()) -> Callable:
    """``train(hp) -> metrics``: `make_step`'s ``init``, then ``config.num_updates`` steps
    under `jax.lax.scan`; each metric is stacked to shape (num_updates,)."""
    init, step = make_step(config)

    def train(hp: Hyperparameters) -> dict[str, jax.Array]:
        _, metrics = jax.lax.scan(lambda c, _: step(c, hp), init(hp), length=config.num_updates)
        return metrics

    return train


def make_evaluate(config: Config = Config(), envs: int = 8, seed: int = 0) -> Callable:
    """``evaluate(carry, hp) -> {"return": mean}``: the policy of ``carry`` (actions drawn
    from it, as in training) plays one full episode in each of ``envs`` environments,
    from the same start states and keys for every member and every call (``seed``), and
    the mean of those episodes' returns is the score. CartPole-v1 ends an episode by 500
    steps, so 500 steps finish every one."""
    env, env_params = gymnax.make("CartPole-v1")
    network = ActorCritic(env.action_space(env_params).n, config.hidden)
    reset = jax.vmap(env.reset, in_axes=(0, None))
    env_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def evaluate(carry: Carry, hp: Hyperparameters) -> dict[str, jax.Array]:
        key = jax.random.key(seed)
        obs, state = reset(jax.random.split(key, envs), env_params)
        zeros = jnp.zeros(envs, jnp.float32)

        def play(c, k):
            obs, state, total, ended = c
            act_key, env_key = jax.random.split(k)
            logits, _ = network.apply(carry.train_state.params, obs)
            action = jax.random.categorical(act_key, logits)
            obs, state, reward, terminated, truncated, _ = env_step(
                jax.random.split(env_key, envs), state, action, env_params
            )
            total = total + jnp.where(ended, 0.0, reward.astype(jnp.float32))
            return (obs, state, total, ended | terminated | truncated), None

        keys = jax.random.split(jax.random.fold_in(key, 1), 500)
        (_, _, total, _), _ = jax.lax.scan(play, (obs, state, zeros, zeros > 1), keys)
        return {"return": total.mean()}

    return evaluate


def task(steps: int = 50, seed: int = 0, envs: int = 4) -> Task:
    """PPO on CartPole-v1 as a `lrjax.sweep.task.Task`: ``steps`` PPO updates (default
    50: 25,600 environment steps, where settings still differ; by `Config`'s 195 most
    reach the 500 cap) with ``envs`` environments; the space is
    the peak rate (log-uniform on [1e-4, 3e-2]), the end rate as a fraction of the peak
    (``anneal``, uniform on [0, 1]), warmup updates (0 to a fifth of them) and the seed
    (0 to 999),
    sampled by scrambled Halton (32 settings). The score is `make_evaluate`'s mean
    return, maximised; the winner is retrained with 5 fresh seeds (1000 + ``seed`` ...)
    and scored the same way. Baselines: Adam at a constant 1e-3 (optax's and torch's
    default) and PureJaxRL's CartPole setting (2.5e-4, annealed linearly to 0)."""
    for name, value in (("steps", steps), ("envs", envs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"cartpole: {name} must be an integer >= 1, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"cartpole: seed must be an integer >= 0, got {seed!r}")
    config = Config(num_envs=envs, total_timesteps=steps * envs * Config().num_steps)
    init, step = make_step(config)
    evaluate = make_evaluate(config, envs=16, seed=seed)

    @jax.jit
    def returns(hp):
        def one(s):
            member = {**hp, "seed": s}
            carry = jax.lax.fori_loop(
                0, config.num_updates, lambda _, c: step(c, member)[0], init(member)
            )
            return evaluate(carry, member)["return"]

        return jax.vmap(one)(jnp.arange(5, dtype=jnp.int32) + 1000 + seed)

    def test(hp):
        values = returns(hp)
        return {"test_return": values.mean(), "test_return_std": values.std()}

    def with_rate(rate):
        per_update = config.update_epochs * config.num_minibatches

        def optimizer_with(hp, config):
            by_update = S.from_fn(_per_update, {"rate": rate, "every": per_update})
            return optax.chain(
                optax.clip_by_global_norm(config.max_grad_norm), lrjax.adam(by_update, eps=1e-5)
            )

        return make_step(config, optimizer_with)

    return Task(
        name="PPO on CartPole-v1",
        space={
            "lr": sp.log_uniform(1e-4, 3e-2),
            "anneal": sp.uniform(0.0, 1.0),
            "warmup": sp.int_uniform(0, max(1, steps // 5)),
            "seed": sp.int_uniform(0, 999),
        },
        init=init,
        step=step,
        evaluate=evaluate,
        steps=config.num_updates,
        score="return",
        mode="max",
        test=test,
        baselines={
            "optax.adam(1e-3), constant (= torch.optim.Adam() defaults)": {
                "lr": 1e-3,
                "anneal": 1.0,
                "warmup": 0,
                "seed": 0,
            },
            "PureJaxRL's CartPole setting (2.5e-4, annealed to 0)": {
                "lr": 2.5e-4,
                "anneal": 0.0,
                "warmup": 0,
                "seed": 0,
            },
        },
        with_rate=with_rate,
        range_metric="return",
        defaults={"sampler": "halton", "population": 32},
        description=(
            f"PPO (PureJaxRL's layout, Linen actor-critic 64-64) on gymnax's CartPole-v1: "
            f"{config.num_updates} updates of {envs} environments x {config.num_steps} "
            f"steps, 4 epochs x 4 minibatches each, gradients clipped to norm 0.5, Adam "
            f"(eps 1e-5). Score: mean return of one episode in each of 16 evaluation "
            f"environments (the policy's sampled actions), maximised."
        ),
    )


def _per_update(step: jax.Array, rate: S.Schedule, every: int) -> jax.Array:
    """The rate at optimizer step ``step`` when ``rate`` counts PPO updates of ``every``
    optimizer steps."""
    return rate(step // every)

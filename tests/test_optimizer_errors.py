"""Bad optimizer input raises ValueError naming the argument and the value; traced values
are not checked (validation never breaks jit or vmap); gradients whose tree does not
match the params raise ValueError showing both structures."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrjax
from lrjax.compat import dadaptation, hypergrad, prodigyopt, schedulefree, torch

NAN = float("nan")

# (call, regex: the argument's name and the offending value)
BAD = [
    # learning rate
    (lambda: lrjax.sgd(-0.1), r"learning_rate must be a finite number >= 0, got -0.1"),
    (lambda: lrjax.adam(-1e-3), r"learning_rate must be .*>= 0, got -0.001"),
    (lambda: lrjax.adagrad(-1.0), r"learning_rate must be .*>= 0, got -1.0"),
    (lambda: lrjax.adadelta(-1.0), r"learning_rate must be .*>= 0, got -1.0"),
    (lambda: lrjax.rmsprop(-0.01), r"learning_rate must be .*>= 0, got -0.01"),
    (lambda: lrjax.adamw(-0.01), r"learning_rate must be .*>= 0, got -0.01"),
    (lambda: lrjax.nadam(-0.01), r"learning_rate must be .*>= 0, got -0.01"),
    (lambda: lrjax.radam(-0.01), r"learning_rate must be .*>= 0, got -0.01"),
    (lambda: lrjax.adamax(-0.01), r"learning_rate must be .*>= 0, got -0.01"),
    (lambda: lrjax.scale_by_learning_rate(-2.0), r"learning_rate must be .*>= 0, got -2.0"),
    (lambda: lrjax.adam(NAN), r"learning_rate must be a finite number >= 0, got nan"),
    (lambda: lrjax.sgd(float("inf")), r"learning_rate must be .*, got inf"),
    (
        lambda: torch.SGD(lr=-0.1),
        r"^Invalid learning rate: .* \(lr must be a finite number >= 0, got -0.1",
    ),
    (lambda: torch.Adam(lr=-0.1), r"^Invalid learning rate: .* \(lr must be .*>= 0, got -0.1"),
    (lambda: torch.AdamW(lr=NAN), r"^Invalid learning rate: .* \(lr must be .*, got nan"),
    (lambda: torch.Adagrad(lr=-0.1), r"^Invalid learning rate: .* \(lr must be .*>= 0, got -0.1"),
    (lambda: torch.Adadelta(lr=-0.1), r"^Invalid learning rate: .* \(lr must be .*>= 0, got -0.1"),
    (lambda: torch.RMSprop(lr=-0.1), r"^Invalid learning rate: .* \(lr must be .*>= 0, got -0.1"),
    (lambda: torch.NAdam(lr=-0.1), r"^Invalid learning rate: .* \(lr must be .*>= 0, got -0.1"),
    (lambda: torch.RAdam(lr=-0.1), r"^Invalid learning rate: .* \(lr must be .*>= 0, got -0.1"),
    (lambda: torch.Adamax(lr=-0.1), r"^Invalid learning rate: .* \(lr must be .*>= 0, got -0.1"),
    # betas in [0, 1)
    (lambda: lrjax.adam(0.1, b1=1.0), r"b1 must be in \[0.0, 1.0\), got 1.0"),
    (lambda: lrjax.adam(0.1, b1=-0.1), r"b1 must be in \[0.0, 1.0\), got -0.1"),
    (lambda: lrjax.adam(0.1, b2=1.5), r"b2 must be in \[0.0, 1.0\), got 1.5"),
    (lambda: lrjax.adamw(0.1, b2=NAN), r"b2 must be in \[0.0, 1.0\), got nan"),
    (lambda: lrjax.nadam(0.1, b1=1.0), r"b1 must be in \[0.0, 1.0\), got 1.0"),
    (lambda: lrjax.radam(0.1, b2=1.0), r"b2 must be in \[0.0, 1.0\), got 1.0"),
    (lambda: lrjax.adamax(0.1, b1=2.0), r"b1 must be in \[0.0, 1.0\), got 2.0"),
    (lambda: lrjax.scale_by_adam(b2=-1e-3), r"b2 must be in \[0.0, 1.0\), got -0.001"),
    (
        lambda: torch.Adam(betas=(1.0, 0.999)),
        r"^Invalid beta parameter at index 0: 1.0 \(betas\[0\] must be in \[0, 1\)",
    ),
    (
        lambda: torch.AdamW(betas=(0.9, 1.0)),
        r"^Invalid beta parameter at index 1: 1.0 \(betas\[1\] must be in \[0, 1\)",
    ),
    (
        lambda: torch.NAdam(betas=(-0.5, 0.9)),
        r"^Invalid beta parameter at index 0: .* \(betas\[0\] must be .*, got -0.5",
    ),
    (
        lambda: torch.RAdam(betas=(0.9, NAN)),
        r"^Invalid beta parameter at index 1: .* \(betas\[1\] must be .*, got nan",
    ),
    (
        lambda: torch.Adamax(betas=(0.9, 1.2)),
        r"^Invalid beta parameter at index 1: .* \(betas\[1\] must be .*, got 1.2",
    ),
    (lambda: torch.Adam(betas=(0.9,)), r"betas must be a pair .*got \(0.9,\)"),
    (lambda: torch.AdamW(betas=(0.9, 0.99, 0.999)), r"betas must be a pair"),
    (lambda: torch.NAdam(betas=[]), r"betas must be a pair"),
    (lambda: dadaptation.DAdaptAdam(betas=(0.9,)), r"betas must be a pair .*got \(0.9,\)"),
    (lambda: hypergrad.AdamHD(betas=(0.9, 0.99, 0.999)), r"betas must be a pair"),
    (lambda: prodigyopt.Prodigy(betas=0.9), r"betas must be a pair .*got 0.9"),
    (lambda: schedulefree.AdamWScheduleFree(betas=[]), r"betas must be a pair .*got \[\]"),
    # momentum and dampening
    (lambda: lrjax.sgd(0.1, momentum=1.0), r"momentum must be in \[0.0, 1.0\), got 1.0"),
    (lambda: lrjax.sgd(0.1, momentum=-0.5), r"momentum must be in \[0.0, 1.0\), got -0.5"),
    (lambda: lrjax.sgd(0.1, momentum=NAN), r"momentum must be .*, got nan"),
    (lambda: lrjax.rmsprop(0.1, momentum=1.5), r"momentum must be in \[0.0, 1.0\), got 1.5"),
    (lambda: lrjax.scale_by_momentum(1.0), r"momentum must be in \[0.0, 1.0\), got 1.0"),
    (lambda: lrjax.sgd(0.1, 0.9, dampening=1.5), r"dampening must be in \[0.0, 1.0\], got 1.5"),
    (lambda: lrjax.sgd(0.1, 0.9, dampening=-0.1), r"dampening must be .*, got -0.1"),
    (
        lambda: torch.SGD(momentum=-0.9),
        r"^Invalid momentum value: -0.9 \(momentum must be .*>= 0, got -0.9",
    ),
    (
        lambda: torch.RMSprop(momentum=NAN),
        r"^Invalid momentum value: nan \(momentum must be .*, got nan",
    ),
    (
        lambda: torch.SGD(momentum=0.9, dampening=0.1, nesterov=True),
        r"^Nesterov momentum requires a momentum and zero dampening \(got momentum=0.9 and "
        r"dampening=0.1",
    ),
    (
        lambda: torch.SGD(nesterov=True),
        r"^Nesterov momentum requires a momentum and zero dampening .*momentum=0",
    ),
    # eps
    (lambda: lrjax.adam(0.1, eps=-1e-8), r"eps must be a finite number >= 0, got -1e-08"),
    (lambda: lrjax.nadam(0.1, eps=NAN), r"eps must be .*, got nan"),
    (lambda: lrjax.radam(0.1, eps=-1.0), r"eps must be .*>= 0, got -1.0"),
    (lambda: lrjax.adamax(0.1, eps=-1.0), r"eps must be .*>= 0, got -1.0"),
    (lambda: lrjax.adagrad(0.1, eps=-1e-10), r"eps must be .*>= 0, got -1e-10"),
    (lambda: lrjax.adadelta(eps=-1e-6), r"eps must be .*>= 0, got -1e-06"),
    (lambda: lrjax.rmsprop(0.1, eps=-1e-8), r"eps must be .*>= 0, got -1e-08"),
    (lambda: lrjax.adam(0.1, eps_root=-1e-8), r"eps_root must be .*>= 0, got -1e-08"),
    (lambda: torch.Adam(eps=-1.0), r"^Invalid epsilon value: .* \(eps must be .*>= 0, got -1.0"),
    (lambda: torch.RMSprop(eps=-1.0), r"^Invalid epsilon value: .* \(eps must be .*>= 0, got -1.0"),
    # weight decay
    (lambda: lrjax.sgd(0.1, weight_decay=-1e-4), r"weight_decay must be .*>= 0, got -0.0001"),
    (lambda: lrjax.adamw(0.1, weight_decay=-0.01), r"weight_decay must be .*>= 0, got -0.01"),
    (lambda: lrjax.adam(0.1, weight_decay=NAN), r"weight_decay must be .*, got nan"),
    (lambda: lrjax.adagrad(0.1, weight_decay=-1.0), r"weight_decay must be .*, got -1.0"),
    (lambda: lrjax.adadelta(weight_decay=-1.0), r"weight_decay must be .*, got -1.0"),
    (lambda: lrjax.rmsprop(0.1, weight_decay=-1.0), r"weight_decay must be .*, got -1.0"),
    (lambda: lrjax.nadam(0.1, weight_decay=-1.0), r"weight_decay must be .*, got -1.0"),
    (lambda: lrjax.radam(0.1, weight_decay=-1.0), r"weight_decay must be .*, got -1.0"),
    (lambda: lrjax.adamax(0.1, weight_decay=-1.0), r"weight_decay must be .*, got -1.0"),
    (
        lambda: torch.AdamW(weight_decay=-0.1),
        r"^Invalid weight_decay value: .* \(weight_decay must be .*>= 0, got -0.1",
    ),
    (
        lambda: torch.SGD(weight_decay=-0.1),
        r"^Invalid weight_decay value: .* \(weight_decay must be .*>= 0, got -0.1",
    ),
    # rho, decay (alpha)
    (lambda: lrjax.adadelta(rho=1.0), r"rho must be in \[0.0, 1.0\), got 1.0"),
    (lambda: lrjax.adadelta(rho=-0.1), r"rho must be in \[0.0, 1.0\), got -0.1"),
    (lambda: lrjax.rmsprop(0.1, decay=1.0), r"decay must be in \[0.0, 1.0\), got 1.0"),
    (lambda: lrjax.rmsprop(0.1, decay=NAN), r"decay must be .*, got nan"),
    (
        lambda: torch.Adadelta(rho=1.1),
        r"^Invalid rho value: 1.1 \(rho must be in \[0.0, 1.0\], got 1.1",
    ),
    (lambda: torch.RMSprop(alpha=-0.5), r"^Invalid alpha value: -0.5 \(alpha must be .*>= 0"),
    # Adagrad
    (lambda: lrjax.adagrad(0.1, lr_decay=-0.1), r"lr_decay must be .*>= 0, got -0.1"),
    (
        lambda: lrjax.adagrad(0.1, initial_accumulator_value=-0.1),
        r"initial_accumulator_value must be a finite number >= 0, got -0.1",
    ),
    (
        lambda: torch.Adagrad(lr_decay=-1.0),
        r"^Invalid lr_decay value: .* \(lr_decay must be .*, got -1.0",
    ),
    (
        lambda: torch.Adagrad(initial_accumulator_value=NAN),
        r"^Invalid initial_accumulator_value value: .* "
        r"\(initial_accumulator_value must be .*, got nan",
    ),
    # NAdam, RAdam
    (lambda: lrjax.nadam(0.1, momentum_decay=-4e-3), r"momentum_decay must be .*, got -0.004"),
    (
        lambda: torch.NAdam(momentum_decay=-1.0),
        r"^Invalid momentum_decay value: .* \(momentum_decay must be .*>= 0, got -1.0",
    ),
    (lambda: lrjax.radam(0.1, threshold=NAN), r"threshold must be a finite number >= 4, got nan"),
    # a learning rate is one number (torch: "Tensor lr must be 1-element"), or a schedule of one
    (lambda: lrjax.adam(jnp.array([0.1, 0.2])), r"learning_rate must be a scalar, .*\(2,\)"),
    (lambda: lrjax.sgd([0.1, 0.2]), r"learning_rate must be a scalar, .*\(2,\)"),
    (
        lambda: lrjax.adam(lambda k: jnp.full(2, 0.1)),
        r"learning_rate must return a scalar for each step, got shape \(2,\)",
    ),
    (lambda: lrjax.adaptive.prodigy(jnp.ones(2)), r"learning_rate must be a scalar"),
    (lambda: torch.Adam(lr=jnp.array([0.1, 0.2])), r"^Tensor lr must be 1-element"),
    (lambda: torch.SGD(lr=np.full((1, 2), 0.1)), r"^Tensor lr must be 1-element"),
]


@pytest.mark.parametrize("call, message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_hyperparameter_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_unknown_torch_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['amsgrad'\\]"):
        torch.SGD(amsgrad=True)


def test_sparse_adam_has_no_kernel_choices():
    """torch's SparseAdam takes no ``foreach``/``fused`` (torch raises a TypeError too)."""
    with pytest.raises(TypeError, match="foreach"):
        torch.SparseAdam(foreach=True)


@pytest.mark.parametrize(
    "call",
    [
        lambda: lrjax.adam(jnp.asarray(-1.0, jnp.bfloat16)),
        lambda: lrjax.adam(0.1, b2=jnp.asarray(1.0, jnp.bfloat16)),
    ],
    ids=["learning_rate", "b2"],
)
def test_bfloat16_hyperparameters_are_checked(call):
    with pytest.raises(ValueError, match="learning_rate|b2"):
        call()


# Every hyperparameter negative (or >= 1) at once: nothing is checked while tracing.
TRACED = {
    "sgd": lambda v: lrjax.sgd(v, momentum=-v, dampening=2 * v, weight_decay=v),
    "adagrad": lambda v: lrjax.adagrad(
        v, initial_accumulator_value=v, eps=v, lr_decay=v, weight_decay=v
    ),
    "adadelta": lambda v: lrjax.adadelta(v, rho=-v, eps=v, weight_decay=v),
    "rmsprop": lambda v: lrjax.rmsprop(v, decay=-v, eps=v, momentum=-v, weight_decay=v),
    "adam": lambda v: lrjax.adam(v, -v, -v, v, eps_root=v, weight_decay=v),
    "adamw": lambda v: lrjax.adamw(v, -v, -v, v, weight_decay=v),
    "nadam": lambda v: lrjax.nadam(v, -v, -v, v, momentum_decay=v, weight_decay=v),
    "radam": lambda v: lrjax.radam(v, -v, -v, v, threshold=v * jnp.inf, weight_decay=v),
    "adamax": lambda v: lrjax.adamax(v, -v, -v, v, weight_decay=v),
    "torch_SGD": lambda v: torch.SGD(v, -v, 2 * v, v, nesterov=True),
    "torch_Adam": lambda v: torch.Adam(v, (-v, -v), v, v),
}
PARAMS = {"a": jnp.ones(3), "b": jnp.ones((2, 2))}


@pytest.mark.parametrize("name", TRACED)
def test_traced_values_are_not_checked(name):
    def build_and_step(v):  # v = -1: every value is out of range
        opt = TRACED[name](v)
        return opt.update(PARAMS, opt.init(PARAMS), PARAMS)[0]

    jax.eval_shape(build_and_step, -1.0)  # traced by jit's tracing machinery: no error
    jax.eval_shape(jax.vmap(build_and_step), jnp.array([-1.0, -2.0]))
    with pytest.raises(ValueError):  # the same values given concretely are rejected
        build_and_step(-1.0)


def test_traced_value_inside_jit_does_not_raise():
    @jax.jit
    def step(lr, b1):
        opt = lrjax.adam(lr, b1)
        return opt.update(PARAMS, opt.init(PARAMS), PARAMS)[0]

    updates = step(-0.1, 1.5)
    assert updates["a"].shape == (3,)


OPTIMIZERS = {
    "sgd": lambda: lrjax.sgd(0.1),
    "sgd_momentum": lambda: lrjax.sgd(0.1, 0.9),
    "adagrad": lambda: lrjax.adagrad(0.1),
    "adadelta": lambda: lrjax.adadelta(),
    "rmsprop": lambda: lrjax.rmsprop(0.1),
    "rmsprop_centered_momentum": lambda: lrjax.rmsprop(0.1, centered=True, momentum=0.9),
    "adam": lambda: lrjax.adam(0.1),
    "adam_amsgrad": lambda: lrjax.adam(0.1, amsgrad=True),
    "adamw": lambda: lrjax.adamw(0.1),
    "nadam": lambda: lrjax.nadam(0.1),
    "radam": lambda: lrjax.radam(0.1),
    "adamax": lambda: lrjax.adamax(0.1),
    "torch_RMSprop": lambda: torch.RMSprop(),
}
WRONG = {
    "missing_leaf": {"a": jnp.ones(3)},
    "extra_leaf": {"a": jnp.ones(3), "b": jnp.ones((2, 2)), "c": jnp.ones(1)},
    "renamed_leaf": {"a": jnp.ones(3), "c": jnp.ones((2, 2))},
    "list_not_dict": [jnp.ones(3), jnp.ones((2, 2))],
}


@pytest.mark.parametrize("wrong", WRONG)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_gradient_structure_mismatch_raises(name, wrong):
    opt = OPTIMIZERS[name]()
    state = opt.init(PARAMS)
    with pytest.raises(ValueError, match=r"gradient tree does not match .*PyTreeDef.*expected"):
        opt.update(WRONG[wrong], state, PARAMS)


@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if n != "sgd"])
def test_structure_is_checked_against_the_state_without_params(name):
    """Optimizers with per-leaf state check the gradients against it even when `params`
    is not passed (plain SGD has no per-leaf state and can only check against params)."""
    opt = OPTIMIZERS[name]()
    with pytest.raises(ValueError, match=r"gradient tree does not match"):
        opt.update(WRONG["missing_leaf"], opt.init(PARAMS))


def test_torch_accepts_what_torch_accepts():
    """torch.optim checks only these ranges: momentum >= 0 (not < 1), rho <= 1, alpha >= 0,
    dampening unchecked; the compat constructors build the same optimizers."""
    params = jnp.ones(3)
    for opt in (
        torch.SGD(lr=0.1, momentum=1.5, dampening=-0.5),
        torch.RMSprop(alpha=2.0, momentum=1.0),
        torch.Adadelta(rho=1.0),
    ):
        updates, _ = opt.update(params, opt.init(params), params)
        assert updates.shape == (3,)


def test_torch_one_element_lr_is_a_scalar():
    opt = torch.SGD(lr=np.array([0.5]))
    params = jnp.ones(2)
    updates, _ = opt.update(params, opt.init(params), params)
    np.testing.assert_array_equal(updates, -0.5 * np.ones(2))

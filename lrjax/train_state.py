"""A Flax Linen ``TrainState`` step that forwards extra arguments to the optimizer.

``TrainState.apply_gradients(grads=...)`` calls ``tx.update(grads, opt_state, params)``
with nothing else, so a loss-aware method (`lrjax.adaptive.reduce_on_plateau`,
`lrjax.adaptive.scale_by_loss`, Prodigy's and D-Adaptation's ``value=`` where they take
it) never sees the loss. `apply_gradients` here is the same step with ``**extra_args``
passed through: ``state = apply_gradients(state, grads, value=loss)``. It reads the
state's fields by name (``step``, ``params``, ``opt_state``, ``tx``) and calls its
``replace``, so lrjax does not import flax.
"""

from __future__ import annotations

from typing import Any

import optax


def apply_gradients(state: Any, grads: optax.Updates, **extra_args: Any) -> Any:
    """``state`` (a Linen ``TrainState``) after one update with ``grads``; ``extra_args``
    (``value=loss``) go to ``state.tx.update``, wrapped by `optax.with_extra_args_support`
    so that a transformation that takes none still works."""
    tx = optax.with_extra_args_support(state.tx)
    updates, opt_state = tx.update(grads, state.opt_state, state.params, **extra_args)
    params = optax.apply_updates(state.params, updates)
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state)

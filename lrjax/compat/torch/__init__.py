"""PyTorch-exact schedulers and optimizers, laid out as ``torch.optim``.

``lrjax.compat.torch.lr_scheduler`` holds the schedulers and ``lrjax.compat.torch.optim``
the optimizers, ``lrjax.compat.torch.swa_utils`` SWA's ``SWALR`` and ``AveragedModel``;
all are re-exported here, so ``lrjax.compat.torch.AdamW(lr=
lrjax.compat.torch.OneCycleLR(0.05, max_lr=0.1, total_steps=50))`` ports a torch pair.
"""

from lrjax.compat.torch import lr_scheduler, optim, swa_utils
from lrjax.compat.torch.lr_scheduler import *  # noqa: F403
from lrjax.compat.torch.optim import *  # noqa: F403
from lrjax.compat.torch.swa_utils import *  # noqa: F403

__all__ = [
    "lr_scheduler",
    "optim",
    "swa_utils",
    *lr_scheduler.__all__,
    *optim.__all__,
    *swa_utils.__all__,
]

"""Generate the schedule gallery: docs/gallery/<name>.png and docs/gallery.md.

    python docs/gen_gallery.py      (``make docs`` runs it before ``mkdocs build``)

One small plot per schedule family of `lrjax.schedules` (combinators included) and per
step-based constructor of `lrjax.compat.torch`, `lrjax.compat.keras` and
`lrjax.compat.timm`, each evaluated by the library itself. The page shows every plot
beside the expression that built it and the formula: the first paragraph of the object's
docstring, verbatim. The PNGs are small (palette images) and carry no timestamp or
version, so rerunning the script on the same machine rewrites identical files. Needs
matplotlib, and Pillow, which matplotlib installs (the ``demo`` extra).
"""

from __future__ import annotations

import html
import inspect
import io
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

import lrjax.schedules as S
from lrjax.compat import keras, timm, torch

DOCS = Path(__file__).resolve().parent
IMAGES = DOCS / "gallery"
PAGE = DOCS / "gallery.md"
STEPS = 400
NAMESPACE = {"S": S, "torch": torch, "keras": keras, "timm": timm, "jax": jax, "jnp": jnp}

COS = "S.cosine_decay(0.1, 300, final=0.005)"

# (section, [(file name, object whose docstring gives the formula, expression)])
SECTIONS = [
    (
        "Decays",
        [
            ("constant", S.constant, "S.constant(0.05)"),
            ("step_decay", S.step_decay, "S.step_decay(0.1, 0.5, every=80)"),
            ("multi_step", S.multi_step, "S.multi_step(0.1, [100, 200, 200, 300], 0.5)"),
            (
                "piecewise_constant",
                S.piecewise_constant,
                "S.piecewise_constant([100, 250], [0.1, 0.03, 0.005])",
            ),
            (
                "piecewise_interpolate",
                S.piecewise_interpolate,
                "S.piecewise_interpolate([0, 50, 200, 400], [0.0, 0.1, 0.04, 0.0], 'cosine')",
            ),
            (
                "exponential_decay",
                S.exponential_decay,
                "S.exponential_decay(0.1, 0.5, 60, end=0.01)",
            ),
            ("natural_exp_decay", S.natural_exp_decay, "S.natural_exp_decay(0.1, 1.0, 100)"),
            (
                "inverse_time_decay",
                S.inverse_time_decay,
                "S.inverse_time_decay(0.1, rate=1.0, steps=20)",
            ),
            (
                "polynomial_decay",
                S.polynomial_decay,
                "S.polynomial_decay(0.1, 0.001, 300, power=2.0)",
            ),
            ("linear", S.linear, "S.linear(0.1, 0.01, 300, begin=50)"),
            ("cosine_decay", S.cosine_decay, COS),
            ("tanh_decay", S.tanh_decay, "S.tanh_decay(0.1, 400, final=0.001)"),
            (
                "inverse_sqrt",
                S.inverse_sqrt,
                "S.inverse_sqrt(0.1, 40, cooldown_steps=80, total_steps=400)",
            ),
            (
                "warmup_stable_decay",
                S.warmup_stable_decay,
                "S.warmup_stable_decay(0.1, 40, 260, 100, decay_shape='1-sqrt')",
            ),
        ],
    ),
    (
        "Cycles and noise",
        [
            (
                "warm_restarts",
                S.warm_restarts,
                "S.warm_restarts(0.1, 40, 2, 0.001, decay=0.7)",
            ),
            ("cyclic", S.cyclic, "S.cyclic(0.005, 0.1, 30, 20, mode='triangular2')"),
            ("one_cycle", S.one_cycle, "S.one_cycle(0.1, 400, 0.25, three_phase=True)"),
            (
                "random_uniform",
                S.random_uniform,
                "S.random_uniform(jax.random.key(0), 1e-3, 1e-1, 25, log_scale=True)",
            ),
        ],
    ),
    (
        "Combinators",
        [
            ("warmup", S.warmup, f"S.warmup({COS}, 50, shape='cosine')"),
            (
                "join",
                S.join,
                "S.join([S.linear(0.0, 0.1, 50), S.constant(0.1), S.linear(0.1, 0.0, 100)],"
                " [50, 300])",
            ),
            ("clip", S.clip, "S.clip(S.exponential_decay(0.2, 0.98), 0.01, 0.08)"),
            ("scale", S.scale, f"S.scale({COS}, 0.5)"),
            (
                "product",
                S.product,
                f"S.product([{COS}, S.cyclic(0.5, 1.0, 25, mode='triangular')])",
            ),
            (
                "switch",
                S.switch,
                f"S.switch(1, [S.constant(0.05), {COS}, S.linear(0.1, 0.0, 400)])",
            ),
            ("noise", S.noise, f"S.noise({COS}, jax.random.key(1), pct=0.3, std=0.5, start=100)"),
            (
                "from_fn",
                S.from_fn,
                "S.from_fn(lambda k, peak: peak * jnp.exp(-((k - 200) / 80.0) ** 2),"
                " {'peak': 0.1})",
            ),
            (
                "multiplicative",
                S.multiplicative,
                "S.multiplicative(0.1, lambda k: jnp.where(k % 100 == 0, 0.5, 0.999))",
            ),
        ],
    ),
    (
        "PyTorch (lrjax.compat.torch)",
        [
            ("torch_StepLR", torch.StepLR, "torch.StepLR(0.1, step_size=80, gamma=0.5)"),
            (
                "torch_MultiStepLR",
                torch.MultiStepLR,
                "torch.MultiStepLR(0.1, milestones=[100, 250], gamma=0.2)",
            ),
            (
                "torch_ConstantLR",
                torch.ConstantLR,
                "torch.ConstantLR(0.1, factor=0.25, total_iters=100)",
            ),
            (
                "torch_LinearLR",
                torch.LinearLR,
                "torch.LinearLR(0.1, start_factor=0.1, end_factor=1.0, total_iters=200)",
            ),
            ("torch_ExponentialLR", torch.ExponentialLR, "torch.ExponentialLR(0.1, gamma=0.99)"),
            (
                "torch_PolynomialLR",
                torch.PolynomialLR,
                "torch.PolynomialLR(0.1, total_iters=300, power=2.0)",
            ),
            (
                "torch_CosineAnnealingLR",
                torch.CosineAnnealingLR,
                "torch.CosineAnnealingLR(0.1, T_max=150, eta_min=0.01)",
            ),
            (
                "torch_CosineAnnealingWarmRestarts",
                torch.CosineAnnealingWarmRestarts,
                "torch.CosineAnnealingWarmRestarts(0.1, T_0=50, T_mult=2, eta_min=0.001)",
            ),
            (
                "torch_CyclicLR",
                torch.CyclicLR,
                "torch.CyclicLR(0.01, max_lr=0.1, step_size_up=40, mode='exp_range', gamma=0.997)",
            ),
            (
                "torch_OneCycleLR",
                torch.OneCycleLR,
                "torch.OneCycleLR(0.1, max_lr=0.1, total_steps=400)",
            ),
            (
                "torch_LambdaLR",
                torch.LambdaLR,
                "torch.LambdaLR(0.1, lambda k: 1.0 / (1.0 + k / 50.0))",
            ),
            (
                "torch_MultiplicativeLR",
                torch.MultiplicativeLR,
                "torch.MultiplicativeLR(0.1, lambda k: 0.99)",
            ),
            (
                "torch_SequentialLR",
                torch.SequentialLR,
                "torch.SequentialLR(0.1, [torch.LinearLR(0.1, 0.1, total_iters=50),"
                " torch.CosineAnnealingLR(0.1, T_max=350)], milestones=[50])",
            ),
            (
                "torch_ChainedScheduler",
                torch.ChainedScheduler,
                "torch.ChainedScheduler(0.1, [torch.ConstantLR(0.1, 0.5, total_iters=100),"
                " torch.ExponentialLR(0.1, gamma=0.995)])",
            ),
        ],
    ),
    (
        "Keras (lrjax.compat.keras)",
        [
            (
                "keras_ExponentialDecay",
                keras.ExponentialDecay,
                "keras.ExponentialDecay(0.1, decay_steps=50, decay_rate=0.6, staircase=True)",
            ),
            (
                "keras_PiecewiseConstantDecay",
                keras.PiecewiseConstantDecay,
                "keras.PiecewiseConstantDecay([100, 250], [0.1, 0.03, 0.005])",
            ),
            (
                "keras_PolynomialDecay",
                keras.PolynomialDecay,
                "keras.PolynomialDecay(0.1, 120, 0.001, power=1.0, cycle=True)",
            ),
            (
                "keras_InverseTimeDecay",
                keras.InverseTimeDecay,
                "keras.InverseTimeDecay(0.1, decay_steps=20, decay_rate=0.5)",
            ),
            (
                "keras_CosineDecay",
                keras.CosineDecay,
                "keras.CosineDecay(0.0, 300, alpha=0.05, warmup_target=0.1, warmup_steps=50)",
            ),
            (
                "keras_CosineDecayRestarts",
                keras.CosineDecayRestarts,
                "keras.CosineDecayRestarts(0.1, first_decay_steps=40, t_mul=2.0, m_mul=0.8,"
                " alpha=0.05)",
            ),
        ],
    ),
    (
        "timm (lrjax.compat.timm)",
        [
            (
                "timm_CosineLRScheduler",
                timm.CosineLRScheduler,
                "timm.CosineLRScheduler(0.1, t_initial=100, warmup_t=10, warmup_lr_init=1e-5,"
                " cycle_limit=3, cycle_decay=0.7)",
            ),
            (
                "timm_TanhLRScheduler",
                timm.TanhLRScheduler,
                "timm.TanhLRScheduler(0.1, 150, lr_min=0.001, warmup_t=10, cycle_limit=3,"
                " cycle_decay=0.7)",
            ),
            (
                "timm_StepLRScheduler",
                timm.StepLRScheduler,
                "timm.StepLRScheduler(0.1, decay_t=80, decay_rate=0.5, warmup_t=20,"
                " warmup_lr_init=0.01)",
            ),
            (
                "timm_MultiStepLRScheduler",
                timm.MultiStepLRScheduler,
                "timm.MultiStepLRScheduler(0.1, decay_t=[100, 250], decay_rate=0.3)",
            ),
            (
                "timm_PolyLRScheduler",
                timm.PolyLRScheduler,
                "timm.PolyLRScheduler(0.1, t_initial=200, power=0.5, lr_min=0.001, cycle_limit=2)",
            ),
        ],
    ),
]

HEADER = """\
# Schedule gallery

<!-- Generated by docs/gen_gallery.py (`make docs`); edit that script, not this page. -->

Every schedule family of `lrjax.schedules` and every step-based constructor of
`lrjax.compat.torch`, `lrjax.compat.keras` and `lrjax.compat.timm`, evaluated by lrjax on
steps 0 to {last}. Beside each plot: the expression that built it (`S` is
`lrjax.schedules`), and the formula, the first paragraph of its docstring verbatim. The
[API reference](api/schedules.md) has the full docstrings. The plateau controllers
(`torch.ReduceLROnPlateau`, `timm.PlateauLRScheduler`) follow the loss rather than the
step, so they have no curve here.
"""


def display(name: str) -> str:
    """``torch_StepLR`` -> ``torch.StepLR``; family names stay as they are."""
    prefix, _, rest = name.partition("_")
    return f"{prefix}.{rest}" if prefix in ("torch", "keras", "timm") else name


def formula(obj) -> str:
    """The first paragraph of the docstring, verbatim, on one line."""
    return " ".join(inspect.getdoc(obj).split("\n\n")[0].split())


def literal(text: str) -> str:
    """`text` as literal inline HTML in a Markdown table cell: no emphasis, links or pipes."""
    out = html.escape(text, quote=False)
    for char in "|*_`[]\\":
        out = out.replace(char, f"&#{ord(char)};")
    return out


def reference(obj) -> str:
    """The API reference identifier of `obj`, where mkdocstrings renders it."""
    module = obj.__module__
    if module.startswith("lrjax.schedules.") and getattr(S, obj.__name__, None) is obj:
        if obj.__name__ not in ("cyclic", "noise"):  # named like their modules
            module = "lrjax.schedules"
    return f"{module}.{obj.__name__}"


def plot(name: str, schedule: S.Schedule, path: Path) -> None:
    steps = np.arange(STEPS)
    values = np.asarray(schedule(jnp.asarray(steps)), np.float64)
    fig = Figure(figsize=(4, 2.5), dpi=80)
    ax = fig.add_subplot()
    ax.plot(steps, values, lw=1.4, color="C0")
    ax.set_title(name, fontsize=9)
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("learning rate", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_ylim(bottom=0, top=max(1.08 * float(values.max()), 1e-12))
    ax.grid(alpha=0.3)
    fig.tight_layout(pad=0.4)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    # A 64-colour palette makes the file a third of the size and looks the same.
    image = Image.open(buffer).convert("RGB").quantize(64)
    image.save(path, optimize=True)  # Pillow writes no timestamp: same input, same file


def main() -> None:
    t0 = time.perf_counter()
    IMAGES.mkdir(exist_ok=True)
    expected = set()
    lines = [HEADER.format(last=STEPS - 1)]
    for section, entries in SECTIONS:
        lines += [f"## {section}", "", "| plot | definition |", "|---|---|"]
        for name, obj, expression in entries:
            schedule = eval(expression, dict(NAMESPACE))  # the expression shown on the page
            file = f"{name}.png"
            plot(display(name), schedule, IMAGES / file)
            expected.add(file)
            title = obj.__name__
            cell = (
                f"[`{title}`][{reference(obj)}]<br>`{expression}`<br>"
                f"<code>{literal(formula(obj))}</code>"
            )
            lines.append(f"| ![{name}](gallery/{file}) | {cell} |")
        lines.append("")
    for stale in IMAGES.glob("*.png"):
        if stale.name not in expected:
            stale.unlink()
    PAGE.write_text("\n".join(lines))
    size = sum((IMAGES / f).stat().st_size for f in expected)
    print(
        f"wrote {PAGE.relative_to(DOCS.parent)} and {len(expected)} images "
        f"({size / 1024:.0f} KiB) in {time.perf_counter() - t0:.1f} s"
    )


if __name__ == "__main__":
    main()

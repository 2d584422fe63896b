"""Search spaces: grid, random and scrambled Halton populations as pytrees of arrays.

Expected values are derived in the tests themselves (itertools.product over np.linspace /
np.geomspace, an independent radical inverse, counting arguments), never copied from a run.
"""

import itertools
import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrjax.sweep import space

UNIT2 = {"x": space.uniform(0.0, 1.0), "y": space.uniform(0.0, 1.0)}


def radical_inverse(i: int, base: int) -> Fraction:
    """The exact radical inverse: the base-``base`` digits of i mirrored about the point."""
    digits = []
    while i:
        i, digit = divmod(i, base)
        digits.append(digit)  # least significant first: d0, d1, ...
    return sum((Fraction(d, base ** (k + 1)) for k, d in enumerate(digits)), Fraction(0))


def radical_inverse_digits(i: int, base: int) -> float:
    """The textbook form: i = d0 + d1 b + ... gives d0 / b + d1 / b^2 + ..."""
    result, weight = 0.0, 1.0 / base
    while i:
        i, digit = divmod(i, base)
        result += digit * weight
        weight /= base
    return result


def np64(x) -> np.ndarray:
    return np.asarray(x, np.float64)


# ---------------------------------------------------------------------------------------
# grid
# ---------------------------------------------------------------------------------------


def test_grid_is_the_cartesian_product_in_itertools_order():
    specs = {
        "lr": space.log_uniform(1e-4, 1e-1),
        "opt": {"b1": space.uniform(0.8, 0.95), "b2": 0.999},
        "warmup": space.uniform(0.0, 10.0),
    }
    out = space.grid(specs, {"lr": 4, "warmup": 2})  # b1 gets the default
    lr = np.geomspace(1e-4, 1e-1, 4)
    b1 = np.linspace(0.8, 0.95, space.DEFAULT_POINTS)
    b2 = [0.999]
    warmup = np.linspace(0.0, 10.0, 2)
    expected = list(itertools.product(lr, b1, b2, warmup))
    assert len(expected) == 4 * 3 * 1 * 2
    assert set(out) == {"lr", "opt", "warmup"} and set(out["opt"]) == {"b1", "b2"}
    leaves = [out["lr"], out["opt"]["b1"], out["opt"]["b2"], out["warmup"]]
    for k, leaf in enumerate(leaves):
        assert isinstance(leaf, jax.Array)
        assert leaf.shape == (len(expected),)
        np.testing.assert_allclose(np64(leaf), [e[k] for e in expected], rtol=1e-6)
    # the last name varies fastest
    np.testing.assert_allclose(np64(out["warmup"][:2]), [0.0, 10.0])
    assert out["lr"][0] == out["lr"][5] and out["lr"][5] != out["lr"][6]


def test_grid_sizes_multiply_with_one_number_for_all():
    specs = {"a": space.uniform(0, 1), "b": space.uniform(2, 3), "c": space.log_uniform(1, 100)}
    for points in (1, 2, 5):
        out = space.grid(specs, points)
        assert all(v.shape == (points**3,) for v in out.values())
    out = space.grid(specs, 1)
    np.testing.assert_allclose([float(out[k][0]) for k in "abc"], [0.0, 2.0, 1.0])


def test_grid_default_points():
    out = space.grid({"a": space.uniform(0.0, 2.0)})
    np.testing.assert_allclose(np64(out["a"]), np.linspace(0.0, 2.0, space.DEFAULT_POINTS))


def test_grid_points_dict_number_at_a_sub_dict_covers_its_names():
    specs = {
        "opt": {"b1": space.uniform(0.0, 1.0), "b2": space.uniform(0.0, 1.0)},
        "lr": space.uniform(0.0, 1.0),
    }
    out = space.grid(specs, {"opt": 2})
    assert out["lr"].shape == (2 * 2 * space.DEFAULT_POINTS,)
    expected = list(itertools.product([0, 1], [0, 1], np.linspace(0, 1, space.DEFAULT_POINTS)))
    np.testing.assert_allclose(np64(out["opt"]["b1"]), [e[0] for e in expected])
    np.testing.assert_allclose(np64(out["opt"]["b2"]), [e[1] for e in expected])
    np.testing.assert_allclose(np64(out["lr"]), [e[2] for e in expected], atol=1e-7)

    # a nested dict gives single names; the rest of the sub-dict keeps the default
    out = space.grid(specs, {"opt": {"b2": 5}, "lr": 1})
    assert out["lr"].shape == (space.DEFAULT_POINTS * 5 * 1,)
    np.testing.assert_allclose(np64(out["opt"]["b2"][:5]), np.linspace(0, 1, 5), atol=1e-7)


def test_grid_choice_lists_all_values_whatever_points():
    specs = {"family": space.choice([2, 0, 1]), "m": space.choice([0.9, 0.5])}
    for points in (1, 7):
        out = space.grid(specs, points)
        expected = list(itertools.product([2, 0, 1], [0.9, 0.5]))
        np.testing.assert_array_equal(np.asarray(out["family"]), [e[0] for e in expected])
        np.testing.assert_allclose(np64(out["m"]), [e[1] for e in expected], rtol=1e-6)
        assert out["family"].dtype == jnp.int32
        assert out["m"].dtype == jnp.float32


def test_grid_int_uniform_rounds_and_drops_repeats():
    out = space.grid({"w": space.int_uniform(0, 10)}, 4)  # 0, 3.33, 6.67, 10
    np.testing.assert_array_equal(np.asarray(out["w"]), [0, 3, 7, 10])
    assert out["w"].dtype == jnp.int32
    out = space.grid({"w": space.int_uniform(0, 2)}, 5)  # 0, .5, 1, 1.5, 2 -> three integers
    assert sorted(set(np.asarray(out["w"]).tolist())) == [0, 1, 2]
    assert out["w"].shape == (3,)
    out = space.grid({"w": space.int_uniform(5, 6), "x": space.uniform(0, 1)}, 9)
    assert out["w"].shape == (2 * 9,)  # 9 linspace points between 5 and 6 round to {5, 6}


def test_grid_constants_broadcast():
    specs = {"a": space.uniform(0, 1), "k": 3, "f": 0.5, "o": {"c": -2.25}}
    out = space.grid(specs, 4)
    assert out["k"].shape == out["f"].shape == out["o"]["c"].shape == (4,)
    np.testing.assert_array_equal(np.asarray(out["k"]), np.full(4, 3))
    np.testing.assert_array_equal(np64(out["f"]), np.full(4, 0.5))
    np.testing.assert_array_equal(np64(out["o"]["c"]), np.full(4, -2.25))
    assert out["k"].dtype == jnp.int32 and out["f"].dtype == jnp.float32


@pytest.mark.parametrize(
    "points, match",
    [
        ({"nope": 2}, r"points\['nope'\]"),
        ({"opt": {"b3": 2}}, r"points\['opt'\]\['b3'\]"),
        ({"a": {"x": 2}}, r"points\['a'\]\['x'\]"),
    ],
)
def test_grid_unknown_name_in_points(points, match):
    specs = {"a": space.uniform(0, 1), "opt": {"b1": space.uniform(0, 1)}}
    with pytest.raises(ValueError, match=match):
        space.grid(specs, points)


# ---------------------------------------------------------------------------------------
# random
# ---------------------------------------------------------------------------------------

MIXED = {
    "lr": space.log_uniform(1e-4, 1e-1),
    "opt": {"b1": space.uniform(0.8, 0.95), "b2": 0.999},
    "warmup": space.int_uniform(0, 1000),
    "family": space.choice([0, 1, 2]),
}


def _flat(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def test_random_reproducible_and_seed_dependent():
    a, b, c = (space.random(MIXED, 64, s) for s in (3, 3, 4))
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(_flat(a), _flat(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(np.asarray(a["lr"]), np.asarray(c["lr"]))
    assert not np.array_equal(np.asarray(a["opt"]["b1"]), np.asarray(c["opt"]["b1"]))
    # np.integer seeds are accepted
    for x, y in zip(_flat(a), _flat(space.random(MIXED, 64, np.int64(3))), strict=True):
        np.testing.assert_array_equal(x, y)


def test_random_prefix_does_not_depend_on_n():
    small, large = space.random(MIXED, 5, 11), space.random(MIXED, 50, 11)
    for x, y in zip(_flat(small), _flat(large), strict=True):
        assert y.shape == (50,)
        np.testing.assert_array_equal(x, y[:5])


def test_random_follows_the_documented_unit_samples(x64):
    # one column of default_rng(seed).random((n, d)) per sampled dimension, constants skipped
    n, seed = 40, 7
    out = space.random(MIXED, n, seed)
    u = np.random.default_rng(seed).random((n, 4))
    np.testing.assert_allclose(np64(out["lr"]), 1e-4 * 1000.0 ** u[:, 0], rtol=1e-12)
    np.testing.assert_allclose(np64(out["opt"]["b1"]), 0.8 + 0.15 * u[:, 1], rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(out["warmup"]), np.floor(1001 * u[:, 2]))
    np.testing.assert_array_equal(np.asarray(out["family"]), np.floor(3 * u[:, 3]))
    np.testing.assert_array_equal(np64(out["opt"]["b2"]), np.full(n, 0.999))


def test_random_values_in_range():
    out = space.random(MIXED, 2000, 0)
    lr, w, fam = np64(out["lr"]), np.asarray(out["warmup"]), np.asarray(out["family"])
    b1 = np64(out["opt"]["b1"])
    assert np.all((lr >= np.float32(1e-4)) & (lr <= np.float32(1e-1)))
    assert np.all((b1 >= np.float32(0.8)) & (b1 <= np.float32(0.95)))
    assert np.all((w >= 0) & (w <= 1000))
    assert set(fam.tolist()) <= {0, 1, 2}


def test_random_log_uniform_equal_share_per_decade():
    n = 20_000
    x = np64(space.random({"lr": space.log_uniform(1e-4, 1e-1)}, n, 0)["lr"])
    decade = np.floor(np.log10(x) + 4).clip(0, 2)  # 0: [1e-4, 1e-3), 1: ..., 2: [1e-2, 1e-1]
    fractions = np.bincount(decade.astype(int), minlength=3) / n
    np.testing.assert_allclose(fractions, 1 / 3, atol=0.02)
    # log10 is uniform on [-4, -1]: mean at the midpoint, variance width^2 / 12
    logs = np.log10(x)
    assert abs(logs.mean() - (-2.5)) < 0.05  # standard error ~0.006
    assert abs(logs.var() - 9 / 12) < 0.05
    # and a linear-scale uniform would put ~90% in the top decade; this is far from it
    assert fractions[2] < 0.4


def test_random_int_uniform_hits_each_integer_equally():
    n = 20_000
    w = np.asarray(space.random({"w": space.int_uniform(-2, 2)}, n, 1)["w"])
    assert w.min() == -2 and w.max() == 2
    counts = np.bincount(w + 2, minlength=5)
    assert len(counts) == 5
    np.testing.assert_allclose(counts / n, 0.2, atol=0.015)  # sd ~0.003


def test_random_choice_equal_frequency():
    n = 20_000
    values = [0.1, 0.3, 0.9, 2.7]
    c = np64(space.random({"c": space.choice(values)}, n, 2)["c"])
    fractions = np.array([np.mean(np.isclose(c, v)) for v in values])
    assert fractions.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(fractions, 0.25, atol=0.015)


def test_dtypes_default_float32_and_int32():
    out = space.random({**MIXED, "ci": 3, "cf": 0.5, "cm": space.choice([1, 2.5])}, 4, 0)
    assert out["lr"].dtype == jnp.float32
    assert out["opt"]["b1"].dtype == jnp.float32
    assert out["opt"]["b2"].dtype == jnp.float32
    assert out["cf"].dtype == jnp.float32
    assert out["cm"].dtype == jnp.float32  # a choice mixing ints and floats is float
    assert out["warmup"].dtype == jnp.int32
    assert out["family"].dtype == jnp.int32
    assert out["ci"].dtype == jnp.int32


def test_dtypes_under_x64():
    specs = {"u": space.uniform(0, 1), "i": space.int_uniform(0, 3), "c": 0.25}
    with jax.enable_x64(True):
        for sampler in (
            lambda: space.random(specs, 4, 0),
            lambda: space.halton(specs, 4, 0),
            lambda: space.grid(specs, 2),
        ):
            out = sampler()
            assert out["u"].dtype == jnp.float64
            assert out["c"].dtype == jnp.float64
            assert out["i"].dtype == jnp.int32
    # the float dtype is chosen per call, not cached from the first
    assert space.random(specs, 4, 0)["u"].dtype == jnp.float32


# ---------------------------------------------------------------------------------------
# halton
# ---------------------------------------------------------------------------------------


def test_radical_inverse_helpers_agree():
    for base in (2, 3, 5):
        for i in range(200):
            exact = radical_inverse(i, base)
            assert 0 <= exact < 1
            assert float(exact) == pytest.approx(radical_inverse_digits(i, base), rel=1e-15)
    assert [radical_inverse(i, 2) for i in range(1, 5)] == [
        Fraction(1, 2),
        Fraction(1, 4),
        Fraction(3, 4),
        Fraction(1, 8),
    ]


def test_halton_plain_first_points(x64):
    out = space.halton(UNIT2, 8, scramble=False)  # skip=1 leaves out the origin
    np.testing.assert_allclose(
        np64(out["x"]), [1 / 2, 1 / 4, 3 / 4, 1 / 8, 5 / 8, 3 / 8, 7 / 8, 1 / 16], rtol=1e-14
    )
    np.testing.assert_allclose(
        np64(out["y"]), [1 / 3, 2 / 3, 1 / 9, 4 / 9, 7 / 9, 2 / 9, 5 / 9, 8 / 9], rtol=1e-14
    )


def test_halton_plain_matches_radical_inverse(x64):
    specs = {"a": space.uniform(0, 1), "skipped": 4.0, "n": {"b": space.uniform(0, 1)}}
    specs["c"] = space.uniform(0, 1)
    specs["d"] = space.uniform(0, 1)
    n, skip = 300, 0
    out = space.halton(specs, n, seed=123, skip=skip, scramble=False)
    idx = range(skip, skip + n)
    # constants take no dimension: a, b, c, d get the bases 2, 3, 5, 7
    for leaf, base in ((out["a"], 2), (out["n"]["b"], 3), (out["c"], 5), (out["d"], 7)):
        expected = [float(radical_inverse(i, base)) for i in idx]
        np.testing.assert_allclose(np64(leaf), expected, rtol=1e-13, atol=1e-15)
    assert float(out["a"][0]) == 0.0  # point 0 is the origin
    np.testing.assert_array_equal(np64(out["skipped"]), np.full(n, 4.0))
    # scramble=False ignores the seed
    other = space.halton(specs, n, seed=9, skip=skip, scramble=False)
    for x, y in zip(_flat(out), _flat(other), strict=True):
        np.testing.assert_array_equal(x, y)


def test_halton_maps_units_through_the_specs(x64):
    specs = {
        "lr": space.log_uniform(1e-3, 1.0),
        "w": space.int_uniform(10, 19),
        "c": space.choice([5, 6, 7, 8, 9]),
    }
    n = 50
    out = space.halton(specs, n, scramble=False)
    u2, u3, u5 = ([radical_inverse(i, b) for i in range(1, n + 1)] for b in (2, 3, 5))
    lr = [1e-3 * 1000.0 ** float(u) for u in u2]
    np.testing.assert_allclose(np64(out["lr"]), lr, rtol=1e-12)
    # exact floors: int_uniform(10, 19) is 10 + floor(10 u), a choice of 5 is values[floor(5 u)]
    np.testing.assert_array_equal(np.asarray(out["w"]), [10 + math.floor(10 * u) for u in u3])
    np.testing.assert_array_equal(np.asarray(out["c"]), [5 + math.floor(5 * u) for u in u5])


@pytest.mark.parametrize("scramble", [True, False])
@pytest.mark.parametrize("s, n, m", [(0, 10, 7), (1, 16, 16), (37, 5, 30)])
def test_halton_continuation(scramble, s, n, m):
    specs = {**MIXED, "z": space.uniform(-1, 1)}
    whole = space.halton(specs, n + m, 5, skip=s, scramble=scramble)
    head = space.halton(specs, n, 5, skip=s, scramble=scramble)
    tail = space.halton(specs, m, 5, skip=s + n, scramble=scramble)
    for w, h, t in zip(_flat(whole), _flat(head), _flat(tail), strict=True):
        np.testing.assert_array_equal(w[:n], h)
        np.testing.assert_array_equal(w[n:], t)


def _cells(x: np.ndarray, count: int) -> np.ndarray:
    return np.sort(np.floor(x * count).astype(int))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_halton_scrambled_stratification_base2(x64, seed):
    for k in range(1, 9):
        n = 2**k
        for skip in (0, n, 5 * n):
            x = np64(space.halton(UNIT2, n, seed, skip=skip)["x"])
            assert np.all((x >= 0) & (x < 1))
            np.testing.assert_array_equal(_cells(x, n), np.arange(n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_halton_scrambled_stratification_base3(x64, seed):
    for n in (3, 9, 27, 81):
        for skip in (0, n, 4 * n):
            y = np64(space.halton(UNIT2, n, seed, skip=skip)["y"])
            assert np.all((y >= 0) & (y < 1))
            np.testing.assert_array_equal(_cells(y, n), np.arange(n))
    # unaligned blocks do not get this guarantee in general; aligned blocks in 2-D do
    # jointly: 2**3 * 3**2 = 72 points starting at 0 give each x-eighth 9 points, and
    # each y-ninth 8 points
    out = space.halton(UNIT2, 72, seed, skip=0)
    assert np.all(np.bincount(_cells(np64(out["x"]), 8), minlength=8) == 9)
    assert np.all(np.bincount(_cells(np64(out["y"]), 9), minlength=9) == 8)


def test_halton_scrambled_reproducible_and_seed_dependent():
    a, b, c = (space.halton(MIXED, 32, s) for s in (0, 0, 1))
    for x, y in zip(_flat(a), _flat(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(np.asarray(a["lr"]), np.asarray(c["lr"]))
    assert not np.array_equal(np.asarray(a["opt"]["b1"]), np.asarray(c["opt"]["b1"]))
    # scrambled differs from plain, and the scrambled point 0 is not the origin
    plain = space.halton(UNIT2, 32, 0, scramble=False)
    scrambled = space.halton(UNIT2, 32, 0)
    assert not np.array_equal(np.asarray(plain["x"]), np.asarray(scrambled["x"]))
    origin = space.halton(UNIT2, 1, 0, skip=0)
    assert float(origin["x"][0]) != 0.0 or float(origin["y"][0]) != 0.0


def _count_variance(x: np.ndarray, y: np.ndarray, bins: int = 8) -> float:
    counts, _, _ = np.histogram2d(x, y, bins=bins, range=[[0, 1], [0, 1]])
    assert counts.sum() == len(x)
    return float(counts.var())


def _l2_star_discrepancy(points: np.ndarray) -> float:
    """Warnock's closed form of the L2 star discrepancy of points in [0, 1]^d."""
    n, d = points.shape
    term1 = 3.0**-d
    term2 = 2.0 ** (1 - d) / n * np.prod(1 - points**2, axis=1).sum()
    term3 = np.prod(1 - np.maximum(points[:, None], points[None]), axis=2).sum() / n**2
    return math.sqrt(term1 - term2 + term3)


def test_l2_star_discrepancy_helper():
    # a single point at the origin: the box [0, t) holds it for every t, so
    # D^2 = int (1 - t1 t2)^2 dt = 1 - 1/2 + 1/9
    assert _l2_star_discrepancy(np.zeros((1, 2))) == pytest.approx(math.sqrt(1 - 0.5 + 1 / 9))
    # the 1-D centred grid (i + 1/2) / n has D^2 = 1 / (12 n^2)
    grid = ((np.arange(10) + 0.5) / 10)[:, None]
    assert _l2_star_discrepancy(grid) == pytest.approx(math.sqrt(1 / (12 * 100)))


def test_halton_covers_the_square_more_evenly_than_random():
    n = 256
    halton_var, random_var, halton_d, random_d = [], [], [], []
    for seed in range(4):
        h = space.halton(UNIT2, n, seed)
        r = space.random(UNIT2, n, seed)
        hx, hy, rx, ry = np64(h["x"]), np64(h["y"]), np64(r["x"]), np64(r["y"])
        halton_var.append(_count_variance(hx, hy))
        random_var.append(_count_variance(rx, ry))
        halton_d.append(_l2_star_discrepancy(np.stack([hx, hy], 1)))
        random_d.append(_l2_star_discrepancy(np.stack([rx, ry], 1)))
    # 4 expected per cell: multinomial variance ~3.9 for random points; Halton's x strata of
    # width 1/8 hold exactly 32 points each, which leaves far less room
    assert np.mean(random_var) > 2.5
    assert max(halton_var) < 1.5
    assert max(halton_var) < 0.4 * min(random_var)
    # expected random L2* ~ sqrt((1/4 - 1/9) / n) ~ 0.023; Halton's is O(log n / n)
    assert max(halton_d) < 0.01
    assert max(halton_d) < 0.5 * min(random_d)


# ---------------------------------------------------------------------------------------
# the population as a vmappable pytree
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sample",
    [
        lambda s: space.grid(s, 2),
        lambda s: space.random(s, 6, 0),
        lambda s: space.halton(s, 6, 0),
    ],
)
def test_vmap_over_the_population(sample):
    specs = {
        "a": space.uniform(1.0, 2.0),
        "opt": {"lr": space.log_uniform(1e-3, 1e-1), "k": 2},
        "steps": space.int_uniform(1, 5),
    }
    hp = sample(specs)
    population = hp["a"].shape[0]
    for leaf in jax.tree_util.tree_leaves(hp):
        assert leaf.shape == (population,)
    doubled = jax.vmap(lambda hp: hp["a"] * 2)(hp)
    assert doubled.shape == (population,)
    np.testing.assert_allclose(np.asarray(doubled), 2 * np.asarray(hp["a"]))

    def member(hp):
        assert hp["a"].shape == () and hp["opt"]["k"].shape == ()
        return hp["a"] * hp["opt"]["lr"] * hp["steps"] + hp["opt"]["k"]

    result = jax.jit(jax.vmap(member))(hp)
    expected = np64(hp["a"]) * np64(hp["opt"]["lr"]) * np.asarray(hp["steps"]) + 2
    np.testing.assert_allclose(np.asarray(result), expected, rtol=1e-6)


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------

U = {"a": space.uniform(0, 1)}


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: space.uniform(1, 0), "low must be < high"),
        (lambda: space.uniform(1, 1), "low must be < high"),
        (lambda: space.uniform(float("nan"), 1), "low"),
        (lambda: space.uniform(0, float("inf")), "high"),
        (lambda: space.uniform("0", 1), "low"),
        (lambda: space.log_uniform(0, 1), "low"),
        (lambda: space.log_uniform(-1, 1), "low"),
        (lambda: space.log_uniform(1, 0.5), "low must be < high"),
        (lambda: space.int_uniform(0.5, 3), "low must be an integer"),
        (lambda: space.int_uniform(0, 2.5), "high must be an integer"),
        (lambda: space.int_uniform(3, 1), "low must be < high"),
        (lambda: space.int_uniform(0, 2**40), "high"),
        (lambda: space.choice([]), "values"),
        (lambda: space.choice([1, float("nan")]), "values"),
        (lambda: space.choice("ab"), "values"),
        (lambda: space.choice([[1, 2], [3, 4]]), "values"),
    ],
)
def test_bad_specs(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: space.random(U, 0, 0), "n must be"),
        (lambda: space.random(U, 2.0, 0), "n must be"),
        (lambda: space.random(U, True, 0), "n must be"),
        (lambda: space.random(U, 3, -1), "seed must be"),
        (lambda: space.random(U, 3, True), "seed must be"),
        (lambda: space.random(U, 3, 1.0), "seed must be"),
        (lambda: space.halton(U, 0), "n must be"),
        (lambda: space.halton(U, 3, -1), "seed must be"),
        (lambda: space.halton(U, 3, False), "seed must be"),
        (lambda: space.halton(U, 3, 0, skip=-1), "skip must be"),
        (lambda: space.halton(U, 3, 0, scramble="yes"), "scramble"),
        (lambda: space.grid(U, 0), "points must be"),
        (lambda: space.grid(U, 2.0), "points must be"),
        (lambda: space.grid(U, True), "points must be"),
        (lambda: space.grid(U, {"a": 0}), r"points\['a'\] must be"),
        (lambda: space.grid({"o": {"a": space.uniform(0, 1)}}, {"o": -1}), r"points\['o'\]"),
    ],
)
def test_bad_sampler_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "specs, match",
    [
        ([("a", space.uniform(0, 1))], "specs must be a dict"),
        (space.uniform(0, 1), "specs must be a dict"),
        ({}, "specs must name at least one"),
        ({"a": {}}, "specs must name at least one"),
        ({"a": "fast"}, r"specs\['a'\]"),
        ({"o": {"b": "x"}}, r"specs\['o'\]\['b'\]"),
        ({"a": None}, r"specs\['a'\]"),
        ({"a": [1, 2]}, r"specs\['a'\]"),
        ({"a": True}, r"specs\['a'\]"),
    ],
)
@pytest.mark.parametrize(
    "sampler",
    [lambda s: space.grid(s), lambda s: space.random(s, 2, 0), lambda s: space.halton(s, 2)],
)
def test_bad_specs_structure(specs, match, sampler):
    with pytest.raises(ValueError, match=match):
        sampler(specs)

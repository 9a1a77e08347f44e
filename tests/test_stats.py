"""kaq_sionna.app.stats: Clopper-Pearson coverage on simulated binomial data, crossings that
return a bound unless two points with errors bracket the target, and gap intervals."""

import math

import numpy as np
import pytest

from kaq_sionna.app.stats import (
    CI_LEVEL,
    Crossing,
    binomial_ci,
    crossing,
    fmt_gap,
    fmt_snr,
    gap,
)


@pytest.mark.parametrize("p, n", [(0.1, 64), (0.01, 500), (0.3, 128), (0.002, 3072)])
def test_clopper_pearson_covers_at_least_the_level(p, n):
    rng = np.random.default_rng(12345)
    ks = rng.binomial(n, p, size=4000)
    cover = np.mean([lo <= p <= hi for lo, hi in (binomial_ci(k, n) for k in ks)])
    # exact intervals are conservative: coverage >= level, up to 4000-sample noise (sd ~0.0035)
    assert cover >= CI_LEVEL - 0.012


def test_zero_errors_give_the_one_sided_upper_bound():
    lo, hi = binomial_ci(0, 3072)
    assert lo == 0
    assert hi == pytest.approx(1 - (1 - CI_LEVEL) ** (1 / 3072))  # "rule of three": ~3/n
    assert hi == pytest.approx(3 / 3072, rel=0.01)
    assert binomial_ci(5, 5)[1] == 1.0
    assert binomial_ci(3, 0) == (0.0, 1.0)


def test_crossing_interpolates_between_two_points_with_errors():
    c = crossing([10, 11, 12], [186, 60, 2], [512, 1536, 3072], 0.01)
    b0, b1 = 60 / 1536, 2 / 3072
    t = (math.log(b0) - math.log(0.01)) / (math.log(b0) - math.log(b1))
    assert c.kind == "value" and c.snr_db == pytest.approx(11 + t)
    assert c.low < c.snr_db < c.high
    assert fmt_snr(c) == f"{11 + t:.2f}"


def test_above_target_then_zero_errors_is_a_bound():
    # the 16x16 ADMM-Net QAT-MSE 4-bit curve: BLER 0.0173 at 11 dB, no error at 12 dB
    c = crossing([10, 11, 12], [150, 53, 0], [512, 3072, 3072], 0.01)
    assert c == Crossing("upper", low=11.0, high=12.0)
    assert fmt_snr(c) == "<= 12"


def test_other_bounds():
    assert crossing([0, 1], [5, 1], [100, 100], 0.1) == Crossing("upper", high=0.0)
    assert crossing([0, 1], [90, 50], [100, 100], 0.1) == Crossing("lower", low=1.0)
    assert fmt_snr(crossing([0, 1], [90, 50], [100, 100], 0.1)) == "> 1"
    assert crossing([], [], [], 0.1).kind == "none"


def test_gap_of_a_value_and_a_bound_is_an_interval():
    kaq4 = crossing([10, 11, 12], [104, 16, 0], [512, 3072, 3072], 0.01)
    qat4 = crossing([10, 11, 12], [150, 53, 0], [512, 3072, 3072], 0.01)
    assert kaq4.kind == "value" and qat4.kind == "upper"
    g = gap(kaq4, qat4)
    assert g.estimate is None
    assert g.low == pytest.approx(kaq4.low - 12) and g.high == pytest.approx(kaq4.high - 11)
    assert fmt_gap(g).startswith("[") and fmt_gap(g).endswith("] dB")
    two = gap(kaq4, kaq4)
    assert two.estimate == 0 and two.low < 0 < two.high
    assert fmt_gap(gap(crossing([0, 1], [90, 50], [100, 100], 0.1), kaq4)).startswith(">")


def test_results_carry_intervals_on_read_and_in_the_csv(root):
    from kaq_sionna.app.results import CI_FIELDS, load_results, plot_png, to_csv

    doc = load_results(root / "results/kaq_coded_16x16_16qam_admm_qatmse/results.json")
    assert doc["ci_level"] == CI_LEVEL
    for c in doc["curves"]:
        assert all(len(c[f]) == len(c["snr_db"]) for f in CI_FIELDS)
        for k, _n, v, lo, hi in zip(c["block_errors"], c["num_blocks"], c["bler"],
                                   c["bler_ci_low"], c["bler_ci_high"], strict=True):
            assert lo <= v <= hi
            assert (lo == 0 and hi > 0) if k == 0 else lo > 0
    header = to_csv(doc).splitlines()[0].split(",")
    assert header[-4:] == list(CI_FIELDS)
    assert plot_png(doc, error_bars=True)[:4] == b"\x89PNG"

"""Registry entries of Sionna's MIMO detectors (``lmmse``, ``zf``, ``kbest``, ``ep``,
``mmse-pic``, ``ml``), all with soft-bit (LLR) output."""

from sionna.phy.mimo import (
    EPDetector,
    KBestDetector,
    LinearDetector,
    List2LLRSimple,
    MaximumLikelihoodDetector,
)

from kaq_sionna.core.params import Param, SpecError
from kaq_sionna.detection.ml import ChunkedMLDetector
from kaq_sionna.detection.sionna_baselines import MMSEPICWithoutPrior, bounded_path_counts
from kaq_sionna.registry.detectors import DetectorSpec

DEMAPPING = Param("demapping_method", str, "app", "exact (app) or max-log LLRs",
                  choices=("app", "maxlog"))


# Exhaustive ML enumerates 2**(num_tx * num_bits_per_symbol) candidates per
# channel use. Above ML_CHUNK_ABOVE_BITS the memory of a whole batch explodes, so the
# batch is evaluated in chunks (ChunkedMLDetector); above ML_MAX_BITS even that is too
# slow (4x4 16-QAM, 16 bits, already costs seconds per 1000 channel uses, see ml.py).
ML_CHUNK_ABOVE_BITS = 12
ML_MAX_BITS = 16


def _needs_enough_antennas(ctx, params):
    if ctx.num_rx < ctx.num_tx:
        raise SpecError("[link] num_rx", f">= num_tx = {ctx.num_tx} for a linear detector",
                        ctx.num_rx)


def _ml_feasible(ctx, params):
    bits = ctx.num_tx * ctx.num_bits_per_symbol
    if bits > ML_MAX_BITS:
        raise SpecError("[[detector]] (ml)",
                        f"num_tx * num_bits_per_symbol <= {ML_MAX_BITS} "
                        f"(at most {2 ** ML_MAX_BITS} candidates per channel use)",
                        f"{ctx.num_tx} x {ctx.num_bits_per_symbol} = {bits} bits "
                        f"({2 ** bits} candidates); use kbest, ep or mmse-sic instead")


def _ml(ctx, demapping_method):
    if ctx.num_tx * ctx.num_bits_per_symbol > ML_CHUNK_ABOVE_BITS:
        return ChunkedMLDetector(ctx.num_tx, ctx.num_bits_per_symbol, demapping_method,
                                 precision=ctx.precision)
    return MaximumLikelihoodDetector("bit", demapping_method, ctx.num_tx, "qam",
                                     ctx.num_bits_per_symbol, precision=ctx.precision)


def _kbest(ctx, list_size, llr_clip):
    list2llr = List2LLRSimple(ctx.num_bits_per_symbol, llr_clip_val=llr_clip,
                              precision=ctx.precision)
    with bounded_path_counts():
        return KBestDetector("bit", ctx.num_tx, list_size, "qam", ctx.num_bits_per_symbol,
                             list2llr=list2llr, precision=ctx.precision)


def _linear(equalizer):
    def factory(ctx, demapping_method):
        return LinearDetector(equalizer, "bit", demapping_method, "qam",
                              ctx.num_bits_per_symbol, precision=ctx.precision)
    return factory



SPECS = (
    DetectorSpec("lmmse", "LMMSE equalizer + demapper (sionna LinearDetector)", (DEMAPPING,),
                 _linear("lmmse"), _needs_enough_antennas),
    DetectorSpec("zf", "zero-forcing equalizer + demapper (sionna LinearDetector)", (DEMAPPING,),
                 _linear("zf"), _needs_enough_antennas),
    DetectorSpec(
        "kbest", "K-Best tree search with list LLRs (sionna KBestDetector)",
        (Param("list_size", int, 16, "number of paths kept per level", min=1),
         Param("llr_clip", float, 20.0, "magnitude of the LLRs of bits without a "
               "counter-hypothesis in the list (Sionna's default 20 hurts LDPC decoding; "
               "4-8 is better in coded links)", min=0.0, min_exclusive=True)),
        lambda ctx, list_size, llr_clip: _kbest(ctx, list_size, llr_clip)),
    DetectorSpec(
        "ep", "expectation propagation (sionna EPDetector)",
        (Param("num_iter", int, 10, "EP iterations", min=1),
         Param("beta", float, 0.9, "update smoothing", min=0.0, max=1.0)),
        lambda ctx, num_iter, beta: EPDetector("bit", ctx.num_bits_per_symbol, l=num_iter,
                                               beta=beta, precision=ctx.precision)),
    DetectorSpec(
        "mmse-pic", "MMSE parallel interference cancellation, zero prior (sionna MMSEPICDetector)",
        (Param("num_iter", int, 1, "self-iterations", min=1),
         Param("demapping_method", str, "maxlog", "app or maxlog", choices=("app", "maxlog"))),
        lambda ctx, num_iter, demapping_method: MMSEPICWithoutPrior(
            ctx.num_bits_per_symbol, num_iter, demapping_method, precision=ctx.precision)),
    DetectorSpec(
        "ml", "exhaustive maximum likelihood (sionna MaximumLikelihoodDetector, run in chunks "
        f"of channel uses above {ML_CHUNK_ABOVE_BITS} bits)", (DEMAPPING,), _ml, _ml_feasible),
)

"""Registry entry ``"sdnet"``: an untrained SDNet for the link (the learngene detector).

Like ``pgdnet``/``admmnet``, ``"sdnet"`` builds the *untrained* network (here randomly
initialised with a fixed seed, so it is only useful as a starting point for training and in
tests); trained models are registry entries under their own names (``sdnet-collective-...``,
``sdnet-<size>-<task>``, :mod:`kaq_sionna.registry.pretrained`).
``size = "collective"`` is the collective model's architecture (one head),
``"s"``, ``"m"``, ``"l"`` the individual sizes without inheritance.
"""

from kaq_sionna.core.params import Param
from kaq_sionna.detection.sdnet import COLLECTIVE_CONV, COLLECTIVE_HEAD, INDIVIDUAL_SIZES, SDNet
from kaq_sionna.registry.detectors import DetectorSpec

SIZES = ("collective", *INDIVIDUAL_SIZES)
PARAMS = (
    Param("size", str, "collective", "architecture: the collective model's, or an individual "
          "size (new layers + learngene-sized layers, randomly initialised)", choices=SIZES),
    Param("seed", int, 0, "Keras seed of the random initialisation", min=0),
)


def build_untrained(ctx, size="collective", seed=0):
    """An untrained :class:`~kaq_sionna.detection.sdnet.SDNet` for the link ``ctx``."""
    import keras

    from kaq_sionna.detection.learngene import build_sized, extract_learngene
    from kaq_sionna.detection.sdnet import SDNetCollective

    keras.utils.set_random_seed(seed)
    if size == "collective":
        return SDNet(ctx.num_tx, ctx.num_rx, ctx.num_bits_per_symbol, COLLECTIVE_CONV,
                     precision=ctx.precision, **COLLECTIVE_HEAD)
    donor = SDNetCollective(COLLECTIVE_CONV, {"t": (ctx.num_tx, ctx.num_rx,
                                                    ctx.num_bits_per_symbol)})
    lg = extract_learngene(donor, 2, "bottom")
    return build_sized(size, ctx.num_tx, ctx.num_rx, ctx.num_bits_per_symbol, lg, inherit=False,
                       precision=ctx.precision, seed=seed)


SPECS = (DetectorSpec(
    "sdnet", "SDNet (learngene paper, arXiv 2503.16931): CNN on ZF estimate + LS channel, "
    "bit LLRs; untrained (shipped models under their own names)", PARAMS,
    build_untrained, source="kaq_sionna"),)

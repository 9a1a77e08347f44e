"""Registry entry ``"eqnet"``: the shipped EQ-Net model for the link's size, in estimation mode.

EQ-Net has no useful untrained form (unlike the unfolded detectors, whose
initial parameters are the paper's algorithm), so ``"eqnet"`` resolves to a
shipped pretrained model (:mod:`kaq_sionna.pretrained`) named
:func:`~kaq_sionna.softbits.eqnet.canonical_name` ``(variant, num_tx, num_rx,
num_bits_per_symbol, estimation_inputs=...)``, e.g. ``eqnet-l-4x4-16qam-lmmse-inputs``.
A link size without a shipped model is a :class:`~kaq_sionna.core.params.SpecError`
that lists the shipped EQ-Net models and says how to train one.

Default ``estimation_inputs = "lmmse"``: the models whose estimation encoder
learned to detect on this project's CPU-sized training (docs/eqnet.md);
``"raw"`` selects the paper's inputs.

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

from kaq_sionna import pretrained
from kaq_sionna.core.params import Param, SpecError
from kaq_sionna.registry.detectors import DetectorSpec, build_detector
from kaq_sionna.softbits.eqnet import canonical_name

PARAMS = (
    Param("variant", str, "L", "residual blocks of f_E: L = 1, P = 3", choices=("L", "P")),
    Param("estimation_inputs", str, "lmmse", "inputs of f_E the model was trained with: "
          "(LMMSE estimate, H^H H, sigma_n) or the paper's (y, H, sigma_n)",
          choices=("lmmse", "raw")),
)


def shipped_name(ctx, variant, estimation_inputs):
    """The shipped model ``"eqnet"`` stands for on a link, or a :class:`SpecError`."""
    name = canonical_name(variant, ctx.num_tx, ctx.num_rx, ctx.num_bits_per_symbol,
                          estimation_inputs=estimation_inputs)
    shipped = pretrained.available()
    if name not in shipped:
        have = sorted(n for n, c in shipped.items() if c.get("model") == "eqnet")
        raise SpecError("[[detector]] (eqnet)",
                        f"a shipped EQ-Net model {name!r} for this link (shipped: "
                        f"{', '.join(have)}; train one with `kaq-sionna train` and --ship)",
                        f"none for {ctx.num_tx}x{ctx.num_rx}, "
                        f"{2 ** ctx.num_bits_per_symbol}-QAM")
    cfg = shipped[name]
    if cfg.get("training_mode") == "two-stage" and not cfg.get("epochs_stage2"):
        raise SpecError("[[detector]] (eqnet)", f"a model whose estimation encoder was trained "
                        f"({name!r} is a quantization-only model: stage 2 was skipped; use it "
                        f"as a quantizer, e.g. quantized-llr)", "no trained f_E")
    return name


def _check(ctx, params):
    shipped_name(ctx, params["variant"], params["estimation_inputs"])


def _build(ctx, variant="L", estimation_inputs="lmmse"):
    return build_detector(shipped_name(ctx, variant, estimation_inputs), ctx)


SPECS = (DetectorSpec(
    "eqnet", "EQ-Net estimation mode (EQ-Net paper): the shipped model for the link's size "
    "(variant, f_E inputs)", PARAMS, _build, _check, source="kaq_sionna"),)

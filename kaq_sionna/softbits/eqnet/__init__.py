r"""EQ-Net: joint soft-bit estimation and quantization (EQ-Net paper, Sect. 2.6, Figs. 1-3).

One job per module:

* :mod:`.model`: :class:`EQNet` (the three networks, estimation and quantization modes, its
  compressor interface), :func:`canonical_name` of shipped models;
* :mod:`.unquantized`: :class:`UnquantizedLatent`, the autoencoder with a float32 latent
  as a compressor (EQ-Net paper, Fig. 5);
* :mod:`.layers`: :class:`BranchedDense` and :class:`ResidualBlock`;
* :mod:`.losses`: :func:`softbit_distortion` (eq. (15)) and :func:`feature_loss` (eq. (19));
* :mod:`.codes`: the row-aligned byte layout of codes (:func:`pack_codes`, whole bytes per
  channel use; the exact memory image is the compressors' ``pack``);
* :mod:`.blockwise`: :class:`BlockwiseEQNet`, a model for ``N_t`` streams on ``M`` streams;
* :mod:`.model_io`: :func:`save_eqnet`, :func:`load_eqnet`, :func:`load_weights_into`,
  :func:`pretrained_loader`, :class:`EQNetMismatch`.

Every name is re-exported here, so ``from kaq_sionna.softbits.eqnet import EQNet`` keeps
working.

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

from kaq_sionna.softbits.eqnet.blockwise import BlockwiseEQNet
from kaq_sionna.softbits.eqnet.codes import pack_codes, unpack_codes
from kaq_sionna.softbits.eqnet.layers import BranchedDense, ResidualBlock
from kaq_sionna.softbits.eqnet.losses import DISTORTION_EPSILON, feature_loss, softbit_distortion
from kaq_sionna.softbits.eqnet.model import (
    ESTIMATION_INPUTS,
    LAYER_DEFAULTS,
    VARIANTS,
    EQNet,
    canonical_name,
)
from kaq_sionna.softbits.eqnet.model_io import (
    CODEBOOK_KEY,
    CONFIG_FILE,
    WEIGHTS_FILE,
    EQNetMismatch,
    load_eqnet,
    load_weights_into,
    pretrained_loader,
    save_eqnet,
)
from kaq_sionna.softbits.eqnet.unquantized import UnquantizedLatent

__all__ = [
    "CODEBOOK_KEY",
    "CONFIG_FILE",
    "DISTORTION_EPSILON",
    "ESTIMATION_INPUTS",
    "LAYER_DEFAULTS",
    "VARIANTS",
    "WEIGHTS_FILE",
    "BlockwiseEQNet",
    "BranchedDense",
    "EQNet",
    "EQNetMismatch",
    "ResidualBlock",
    "UnquantizedLatent",
    "canonical_name",
    "feature_loss",
    "load_eqnet",
    "load_weights_into",
    "pack_codes",
    "pretrained_loader",
    "save_eqnet",
    "softbit_distortion",
    "unpack_codes",
]

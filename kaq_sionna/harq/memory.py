r"""Soft-buffer memory of a cell: how many bits the HARQ soft buffers of an NR configuration hold.

The model dimensions the memory a receiver must provision, as a UE soft buffer
is dimensioned (every HARQ process may hold a full buffer), for one
configuration:

1. Transport block (TS 38.214 5.1.3.2 / 6.1.4.2, through Sionna's
   :func:`~sionna.phy.nr.utils.calculate_tb_size`): ``num_prbs`` PRBs,
   ``num_ofdm_symbols`` symbols with ``num_dmrs_per_prb`` DMRS resource
   elements per PRB, ``num_layers`` layers, ``Q_m`` bits per symbol and target
   code rate ``R`` give the TB size ``A``, the number of code blocks ``C``, the
   code-block size ``K'`` (with CRC) and ``G``, the coded bits of one
   transmission.
2. LDPC code block (TS 38.212 5.2.2, 6.2.2): base graph from ``A`` and ``R``;
   lifting size ``Z_c`` the smallest of the 51 sizes with ``K_b Z_c >= K'``;
   ``K = 22 Z_c`` (BG1) or ``10 Z_c`` (BG2); mother-code length
   ``N = 66 Z_c`` or ``50 Z_c``; filler bits ``F = K - K'``.
3. Circular buffer (TS 38.212 5.4.2.1): ``N_cb = N``, or with limited buffer
   rate matching (LBRM) ``N_cb = min(N, N_ref)``,
   ``N_ref = floor(TBS_LBRM / (C R_LBRM))``, ``R_LBRM = 2/3``, with
   ``TBS_LBRM`` the TB size of ``n_PRB,LBRM`` PRBs (TS 38.212 Table
   5.4.2.1-1) at 156 resource elements per PRB, the same layers and
   modulation, rate 2/3.
4. Soft bits per HARQ process at the two storage points of
   :mod:`kaq_sionna.harq.soft_buffer`:

   * ``"buffer"`` (combined circular buffer): ``C (N_cb - F)`` (filler bits
     are known and never stored);
   * ``"rounds"`` (each failed round's soft bits before combining, EQ-Net):
     ``(max_transmissions - 1) G`` (the last round is never stored).

5. Cell memory = ``num_ues x num_harq_processes x`` soft bits per process
   ``x bits_per_soft_bit`` of the storage scheme.
"""

import math
from dataclasses import asdict, dataclass

__all__ = ["NRSoftBufferConfig", "LIFTING_SIZES", "lbrm_prbs", "code_block_params",
           "soft_buffer_memory"]

#: The 51 lifting sizes Z_c of TS 38.212 Table 5.3.2-1 (a x 2^j <= 384).
LIFTING_SIZES = sorted({a * 2 ** j for a in (2, 3, 5, 7, 9, 11, 13, 15) for j in range(8)
                        if a * 2 ** j <= 384})

R_LBRM = 2 / 3


@dataclass(frozen=True)
class NRSoftBufferConfig:
    """An NR configuration whose HARQ soft-buffer memory is modelled.

    Parameters
    ----------
    num_prbs : int
        Allocated PRBs (273 for 100 MHz at 30 kHz subcarrier spacing).
    num_layers : int
        MIMO layers (1..4 for one codeword).
    num_bits_per_symbol : int
        ``Q_m`` (8 for 256-QAM).
    coderate : float
        Target code rate ``R`` (e.g. 0.926 for MCS 27 of 256-QAM table 2).
    num_harq_processes : int
        HARQ processes per UE (16 in NR).
    num_ues : int
        UEs whose soft buffers the cell holds at once.
    max_transmissions : int
        Transmissions per TB (for the ``"rounds"`` storage point).
    lbrm : bool
        Limited buffer rate matching.
    num_ofdm_symbols, num_dmrs_per_prb : int
        Slot allocation (14 symbols, 12 DMRS resource elements per PRB: one
        DMRS symbol of configuration type 1).
    """

    num_prbs: int = 273
    num_layers: int = 4
    num_bits_per_symbol: int = 8
    coderate: float = 0.926
    num_harq_processes: int = 16
    num_ues: int = 1
    max_transmissions: int = 4
    lbrm: bool = False
    num_ofdm_symbols: int = 14
    num_dmrs_per_prb: int = 12

    def __post_init__(self):
        checks = (("num_prbs", 1, 275), ("num_layers", 1, 4), ("num_harq_processes", 1, 32),
                  ("num_ues", 1, 10**6), ("max_transmissions", 1, 16),
                  ("num_ofdm_symbols", 1, 14), ("num_dmrs_per_prb", 0, 12 * 14 - 1))
        for name, lo, hi in checks:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name} must be an integer in {lo}..{hi}, found {v!r}")
        if self.num_bits_per_symbol not in (1, 2, 4, 6, 8, 10):
            raise ValueError("num_bits_per_symbol must be one of 1, 2, 4, 6, 8, 10, found "
                             f"{self.num_bits_per_symbol!r}")
        if not 0 < self.coderate < 1:
            raise ValueError(f"coderate must be in (0, 1), found {self.coderate!r}")
        if not isinstance(self.lbrm, bool):
            raise ValueError(f"lbrm must be True or False, found {self.lbrm!r}")


def lbrm_prbs(num_prbs):
    """``n_PRB,LBRM`` of TS 38.212 Table 5.4.2.1-1 for a bandwidth part of ``num_prbs`` PRBs."""
    for limit, value in ((32, 32), (66, 66), (107, 107), (135, 135), (162, 162), (217, 217)):
        if num_prbs <= limit:
            return value
    return 273


def _tb(num_prbs, num_ofdm_symbols, num_dmrs_per_prb, num_layers, qm, coderate):
    """TB size, CB size K' (with CRC), number of CBs C and coded bits G (Sionna, TS 38.214)."""
    from sionna.phy.nr.utils import calculate_tb_size

    tbs, cbs, ncb, _, _, cw = calculate_tb_size(
        modulation_order=qm, target_coderate=coderate, num_prbs=num_prbs,
        num_ofdm_symbols=num_ofdm_symbols, num_dmrs_per_prb=num_dmrs_per_prb,
        num_layers=num_layers, return_cw_length=True)
    return int(tbs), int(cbs), int(ncb), int(sum(int(v) for v in cw.numpy().ravel()))


def code_block_params(tb_size, cb_size, coderate):
    """LDPC parameters of a code block (TS 38.212 5.2.2 and 6.2.2).

    Input
    -----
    tb_size : int
        Transport block size ``A``.
    cb_size : int
        Code-block size ``K'`` including CRC bits.
    coderate : float
        Target code rate ``R``.

    Output
    ------
    : dict
        ``bg`` ("bg1" | "bg2"), ``z`` (lifting size), ``k`` (``K``, with
        filler bits), ``n`` (mother code ``N``), ``filler`` (``F = K - K'``).
    """
    a, r = tb_size, coderate
    bg2 = a <= 292 or (a <= 3824 and r <= 0.67) or r <= 0.25
    if bg2:
        b = a + (16 if a > 3824 else 24)  # TB + TB CRC (B of 5.2.2)
        kb = 10 if b > 640 else 9 if b > 560 else 8 if b > 192 else 6
        kcols, ncols = 10, 50
    else:
        kb, kcols, ncols = 22, 22, 66
    z = next(zc for zc in LIFTING_SIZES if kb * zc >= cb_size)
    k = kcols * z
    return {"bg": "bg2" if bg2 else "bg1", "z": z, "k": k, "n": ncols * z,
            "filler": k - cb_size}


def soft_buffer_memory(config, schemes):
    r"""Soft-buffer memory of a cell for each storage scheme.

    Parameters
    ----------
    config : NRSoftBufferConfig
    schemes : dict
        Storage scheme name -> bits per soft bit (e.g. ``{"float32": 32,
        "uniform4": 4, "eqnet3": 3}``).

    Output
    ------
    : dict
        ``config`` (as a dict), ``transport_block`` (``tb_size``, ``cb_size``,
        ``num_cb``, ``coded_bits_per_tx``, ``bg``, ``z``, ``k``, ``n``,
        ``filler``, ``n_cb``, ``n_ref`` or `None`), ``soft_bits_per_process``
        (``{"buffer": ..., "rounds": ...}``) and ``schemes``: per scheme and
        storage point, ``bits`` and ``mebibytes`` of the cell (``num_ues x
        num_harq_processes`` processes) and ``saved_vs_float32`` (fraction).
    """
    c = config
    tbs, cbs, ncb, g = _tb(c.num_prbs, c.num_ofdm_symbols, c.num_dmrs_per_prb, c.num_layers,
                           c.num_bits_per_symbol, c.coderate)
    cb = code_block_params(tbs, cbs, c.coderate)
    n_cb, n_ref = cb["n"], None
    if c.lbrm:
        # TS 38.212 5.4.2.1: TBS_LBRM at n_PRB,LBRM, 156 RE per PRB (14 symbols, 12 DMRS)
        tbs_lbrm, _, _, _ = _tb(lbrm_prbs(c.num_prbs), 14, 12, c.num_layers,
                                c.num_bits_per_symbol, R_LBRM)
        n_ref = math.floor(tbs_lbrm / (ncb * R_LBRM))
        n_cb = min(cb["n"], n_ref)
    per_process = {"buffer": ncb * (n_cb - cb["filler"]),
                   "rounds": (c.max_transmissions - 1) * g}
    processes = c.num_ues * c.num_harq_processes
    out = {}
    for name, bits in schemes.items():
        out[name] = {}
        for point, soft_bits in per_process.items():
            total = processes * soft_bits * float(bits)
            out[name][point] = {"bits": total, "mebibytes": total / 8 / 2**20,
                                "saved_vs_float32": 1.0 - float(bits) / 32.0}
    return {"config": asdict(c),
            "transport_block": {"tb_size": tbs, "cb_size": cbs, "num_cb": ncb,
                                "coded_bits_per_tx": g, **cb, "n_cb": n_cb, "n_ref": n_ref},
            "soft_bits_per_process": per_process, "schemes": out}

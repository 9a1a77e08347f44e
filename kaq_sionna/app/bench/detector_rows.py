"""What ``kaq-sionna bench detectors`` measures: the rows (a detector in one runtime and
precision) and their selection."""

import math
from dataclasses import dataclass, field

__all__ = ["BenchRow", "default_rows", "extra_rows", "parse_system", "select_rows"]


@dataclass(frozen=True)
class BenchRow:
    """One benchmarked detector.

    Attributes
    ----------
    name : str
        Row name (``--models`` selects by it).
    runtime : "tf" | "litert"
    precision : "fp32" | "fp16" | "int8" | "fake-quant" (TF twin of a quantized model)
    source : str
        Registry detector name (``lmmse``, ``kbest``, ``ml``, ``mmse-sic``) or pretrained name.
    part : str or None
        Export part (``detector``, ``network``, ``estimation``, ``quantization`` =
        encoder then decoder).
    fp32_ref : str or None
        Row name of the fp32 reference of the ratio column.
    params : dict
        Registry parameters.
    """

    name: str
    runtime: str
    precision: str
    source: str
    part: str = None
    fp32_ref: str = None
    params: dict = field(default_factory=dict)


def extra_rows(system="4x4-16qam"):
    """Rows that run only when named in ``models``: EQ-Net's quantization encoder
    (f_Q + codebooks) and decoder (codebooks + g_Q) timed separately in LiteRT."""
    eq = f"eqnet-l-{system}"
    rows = []
    for part in ("encoder", "decoder"):
        rows += [BenchRow(f"eqnet-l/{part}/litert-fp32", "litert", "fp32", eq, part),
                 BenchRow(f"eqnet-l/{part}/litert-int8", "litert", "int8", eq, part,
                          f"eqnet-l/{part}/litert-fp32")]
    return rows


def default_rows(system="4x4-16qam"):
    """The rows of the default benchmark for ``system`` (shipped models of that system)."""
    rows = [BenchRow("lmmse", "tf", "fp32", "lmmse"),
            BenchRow("kbest16", "tf", "fp32", "kbest", params={"list_size": 16}),
            BenchRow("ml", "tf", "fp32", "ml"),
            BenchRow("mmse-sic", "tf", "fp32", "mmse-sic")]
    for fam in ("pgdnet", "admmnet"):
        fp32, kaq4, qat4 = (f"{fam}-{m}-{system}" for m in ("fp32", "kaq4", "qatmse4"))
        rows += [
            BenchRow(f"{fam}-fp32/tf", "tf", "fp32", fp32, "detector"),
            BenchRow(f"{fam}-kaq4/tf", "tf", "fake-quant", kaq4, "detector", f"{fam}-fp32/tf"),
            BenchRow(f"{fam}-fp32/litert-fp32", "litert", "fp32", fp32, "detector",
                     f"{fam}-fp32/tf"),
            BenchRow(f"{fam}-fp32/litert-fp16", "litert", "fp16", fp32, "detector",
                     f"{fam}-fp32/litert-fp32"),
            BenchRow(f"{fam}-kaq4/litert-int8", "litert", "int8", kaq4, "detector",
                     f"{fam}-fp32/litert-fp32"),
            BenchRow(f"{fam}-qatmse4/litert-int8", "litert", "int8", qat4, "detector",
                     f"{fam}-fp32/litert-fp32"),
            BenchRow(f"{fam}-fp32/litert-fp32/network", "litert", "fp32", fp32, "network",
                     f"{fam}-fp32/tf"),
            BenchRow(f"{fam}-kaq4/litert-int8/network", "litert", "int8", kaq4, "network",
                     f"{fam}-fp32/litert-fp32/network"),
        ]
    for variant in ("l", "p"):  # EQ-Net-L always; EQ-Net-P when it is shipped
        eq, tag = f"eqnet-{variant}-{system}", f"eqnet-{variant}"
        if variant == "p":
            from kaq_sionna import pretrained

            if eq not in pretrained.available():
                continue
        for part in ("estimation", "quantization"):
            rows += [
                BenchRow(f"{tag}/{part}/tf", "tf", "fp32", eq, part),
                BenchRow(f"{tag}/{part}/litert-fp32", "litert", "fp32", eq, part,
                         f"{tag}/{part}/tf"),
                BenchRow(f"{tag}/{part}/litert-int8", "litert", "int8", eq, part,
                         f"{tag}/{part}/litert-fp32"),
            ]
    return rows


def parse_system(system):
    """``(num_tx, num_rx, num_bits_per_symbol)`` of ``<ntx>x<nrx>-<M>qam`` (e.g. ``4x4-16qam``).

    Raises :class:`ValueError` naming the expected form."""
    try:
        ant, mod = system.split("-")
        nt, nr = (int(v) for v in ant.split("x"))
        order = int(mod.removesuffix("qam"))
        k = int(round(math.log2(order)))
        if 2 ** k != order or nt < 1 or nr < 1:
            raise ValueError
    except ValueError:
        raise ValueError(f"system: expected <ntx>x<nrx>-<M>qam (e.g. 4x4-16qam), found "
                         f"{system!r}") from None
    return nt, nr, k


def select_rows(system, models=None):
    """The rows to run for ``system``.

    Parameters
    ----------
    system : str
        ``<ntx>x<nrx>-<M>qam`` of the shipped models.
    models : None or list of str
        Row names (default: :func:`default_rows`; :func:`extra_rows` only when named);
        ``lmmse`` is always added (the ratio reference), as is each selected row's
        ``fp32_ref`` (and its reference, ...).

    Output
    ------
    : list of :class:`BenchRow`
        In the order of :func:`default_rows` then :func:`extra_rows`. Raises
        :class:`ValueError` naming unknown rows.
    """
    rows = default_rows(system)
    by_name = {r.name: r for r in rows + extra_rows(system)}
    if models:
        unknown = [m for m in models if m not in by_name]
        if unknown:
            raise ValueError(f"--models: unknown row(s) {', '.join(unknown)}; rows: "
                             f"{', '.join(by_name)}")
        wanted = {"lmmse", *models}
        for m in list(wanted):
            ref = by_name[m].fp32_ref
            while ref:
                wanted.add(ref)
                ref = by_name[ref].fp32_ref
        rows = [r for r in by_name.values() if r.name in wanted]
    return rows

"""Written interfaces between the links: what :class:`links.HARQLink` needs from a base link."""

from typing import Protocol, runtime_checkable

__all__ = ["HARQBaseLink", "HARQ_BASE_LINK_MEMBERS"]


@runtime_checkable
class HARQBaseLink(Protocol):
    """A coded link that :class:`links.HARQLink` can wrap: one codeword per stream, sent once per
    round through :meth:`detect_codewords`.

    Implemented by :class:`links.CodedMIMOLink`, :class:`links.OFDMLink` and
    :class:`links.PUSCHCodeBlocks` (a :class:`links.PUSCHLink` hands HARQ its code blocks through
    ``harq_view()``).

    Attributes
    ----------
    k, n : int
        Information and coded bits of a codeword (``n`` = ``E``, the bits of one round).
    num_tx : int
        Codewords per batch entry (streams).
    num_bits_per_symbol : int
    precision : "single" | "double"
    harq_unit : "codeword" | "transport_block", optional
        What succeeds or fails together (default ``"codeword"``).

    Methods
    -------
    source_bits(batch_size) -> b [batch_size, num_tx, k], tf.float
        Fresh information bits, from the link's own binary source.
    snr_to_no(snr_db) -> no
        The noise variance of an SNR point, as the link defines the SNR.
    detect_codewords(c, no, h=None) -> llr [batch_size, num_tx, n], tf.float
        Maps, transmits and detects the coded bits ``c [batch_size, num_tx, n]``.
    draw_channel(batch_size) -> h, optional
        A channel realisation to keep across rounds (``new_channel_per_round=False``).
    """

    k: int
    n: int
    num_tx: int
    num_bits_per_symbol: int

    def source_bits(self, batch_size): ...

    def snr_to_no(self, snr_db): ...

    def detect_codewords(self, c, no, h=None): ...


HARQ_BASE_LINK_MEMBERS = ("source_bits", "snr_to_no", "detect_codewords", "k", "n", "num_tx",
                          "num_bits_per_symbol", "precision")

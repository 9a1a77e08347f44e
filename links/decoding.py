r"""The LDPC decoder choice shared by every coded link (``[link] decoder``, ``num_bp_iter``).

Sionna's :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder` runs belief propagation with a
choice of check-node update (``cn_update``). Receivers in products use (offset)
min-sum; simulations often the exact rule. The links expose the choice under the
scenario key ``decoder``:

* ``"boxplus-phi"`` (default): exact sum-product via the numerically stable
  :math:`\phi` function (Sionna's default);
* ``"boxplus"``: exact sum-product via :math:`\tanh` / :math:`\operatorname{atanh}`;
* ``"minsum"``: min-sum approximation;
* ``"offset-minsum"``: min-sum with Sionna's fixed offset 0.5.

The measured speed and BLER cost of each against ``"boxplus-phi"`` is in
``docs/performance.md`` ("LDPC check-node update").
"""

from sionna.phy.fec.ldpc import LDPC5GDecoder

__all__ = ["DECODERS", "DEFAULT_DECODER", "check_decoder", "ldpc_decoder"]

#: Check-node updates of :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder` a link accepts
#: (Sionna 1.2 ``cn_update`` names; ``"identity"`` and callables are left out on purpose).
DECODERS = ("boxplus-phi", "boxplus", "minsum", "offset-minsum")

DEFAULT_DECODER = "boxplus-phi"


def check_decoder(decoder, num_bp_iter):
    """Raises `ValueError` naming the argument if ``decoder`` or ``num_bp_iter`` is invalid."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, found {decoder!r}")
    if isinstance(num_bp_iter, bool) or not isinstance(num_bp_iter, int) or num_bp_iter < 1:
        raise ValueError(f"num_bp_iter must be an integer >= 1, found {num_bp_iter!r}")


def ldpc_decoder(encoder, decoder=DEFAULT_DECODER, num_bp_iter=20, hard_out=True,
                 precision=None):
    """A :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder` bound to ``encoder`` with the check-node
    update ``decoder`` (one of :data:`DECODERS`) and ``num_bp_iter`` iterations."""
    check_decoder(decoder, num_bp_iter)
    return LDPC5GDecoder(encoder, cn_update=decoder, hard_out=hard_out, num_iter=num_bp_iter,
                         precision=precision)

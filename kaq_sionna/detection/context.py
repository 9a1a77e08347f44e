"""What a detector needs to know about the link it is plugged into."""

from dataclasses import dataclass


@dataclass(frozen=True)
class LinkContext:
    """What a detector needs to know about the link it is plugged into."""

    num_tx: int
    num_rx: int
    num_bits_per_symbol: int
    precision: str = None

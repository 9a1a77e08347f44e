"""The one place where names are registered: detectors and soft-bit compressors.

Scenarios, the CLI and ``kaq-sionna list`` resolve names here. Each entry module defines its
entries (``SPECS``) without side effects; this ``__init__`` registers them all, explicitly and
in this order, when :mod:`kaq_sionna.registry` is first imported:

=========================  ===============================================================
module                     entries
=========================  ===============================================================
:mod:`.sionna`             ``lmmse``, ``zf``, ``kbest``, ``ep``, ``mmse-pic``, ``ml``
:mod:`.sic`                ``mmse-sic``, ``zf-sic``
:mod:`.unfolded`           ``pgdnet``, ``admmnet`` (untrained, optional quantization)
:mod:`.eqnet`              ``eqnet`` (the shipped EQ-Net for the link's size)
:mod:`.quantized_llr`      ``quantized-llr`` (a source detector + a compressor)
:mod:`.sdnet`              ``sdnet`` (untrained SDNet; shipped SDNet models by name)
:mod:`.pretrained`         every shipped model under its own name (a resolver)
:mod:`.compressors`        ``float32``, ``float16``, ``uniform<b>``, ``maxmi<b>``, EQ-Net models
=========================  ===============================================================

Example
-------
>>> from kaq_sionna.registry import LinkContext, build_detector
>>> det = build_detector("lmmse", LinkContext(num_tx=4, num_rx=4, num_bits_per_symbol=4))
"""

from kaq_sionna import pretrained as _catalogue
from kaq_sionna.registry import (
    eqnet,
    pretrained,
    quantized_llr,
    sdnet,
    sic,
    sionna,
    unfolded,
)
from kaq_sionna.registry.compressors import (
    COMPRESSORS,
    eqnet_compressor_names,
    make_compressor,
    resolve_compressor,
)
from kaq_sionna.registry.detectors import (
    DETECTORS,
    DetectorSpec,
    LinkContext,
    build_detector,
    get_detector_spec,
    register_detector,
    register_resolver,
    validate_detector,
)
from kaq_sionna.registry.pretrained import load_pretrained

for _module in (sionna, sic, unfolded, eqnet, quantized_llr, sdnet):
    for _spec in _module.SPECS:
        register_detector(_spec)
register_resolver(pretrained.detector_spec, lambda: _catalogue.available())

__all__ = ["COMPRESSORS", "DETECTORS", "DetectorSpec", "LinkContext", "build_detector",
           "eqnet_compressor_names", "get_detector_spec", "load_pretrained", "make_compressor",
           "register_detector", "register_resolver", "resolve_compressor", "validate_detector"]

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
:mod:`.pretrained`         every shipped model under its own name (a resolver), and
                           ``model``: a trained model by folder (``path = "..."``)
:mod:`.plugins`            user detectors: ``module:factory`` names and installed entry
                           points of the group ``kaq_sionna.detectors`` (a resolver)
:mod:`.compressors`        ``float32``, ``float16``, ``uniform<b>``, ``maxmi<b>``, EQ-Net models
=========================  ===============================================================

Names are unique: :func:`register_detector` refuses a name already taken (a built-in, a shipped
model) unless given ``replace=True``; an unknown name is a
:class:`~kaq_sionna.core.params.SpecError` naming the three closest known names.

Your own detector
-----------------
Everything a new entry needs is exported here: :class:`DetectorSpec` (how to build it),
:class:`Param` (its parameters, validated in scenarios), :class:`LinkContext` (what it learns
about the link: ``num_tx``, ``num_rx``, ``num_bits_per_symbol``, ``precision``) and
:class:`SpecError` (what a ``check`` raises). A scenario can also name user code without any
registration, ``name = "mymodule:factory"`` (:mod:`kaq_sionna.registry.plugins`), or a trained
model by folder, ``path = "results/train/x/model"``.

Example
-------
>>> from kaq_sionna.registry import LinkContext, build_detector
>>> det = build_detector("lmmse", LinkContext(num_tx=4, num_rx=4, num_bits_per_symbol=4))

>>> import tensorflow as tf
>>> from kaq_sionna.registry import DetectorSpec, Param, register_detector
>>> def matched_filter(ctx, scale=1.0):
...     def det(y, h, s):  # LLR-like output [..., num_tx, num_bits_per_symbol]
...         z = tf.math.real(tf.linalg.matvec(h, y, adjoint_a=True))[..., None] * scale
...         return tf.repeat(z, ctx.num_bits_per_symbol, axis=-1)
...     return det
>>> _ = register_detector(DetectorSpec(
...     "my-mf", "matched filter", params=(Param("scale", float, 1.0, "LLR scale"),),
...     factory=matched_filter, source="user"))
>>> det = build_detector("my-mf", LinkContext(4, 4, 4), scale=2.0)
"""

from kaq_sionna import pretrained as _catalogue
from kaq_sionna.core.params import Param, SpecError
from kaq_sionna.registry import (
    eqnet,
    plugins,
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
    closest_names,
    get_detector_spec,
    known_names,
    register_detector,
    register_resolver,
    validate_detector,
)
from kaq_sionna.registry.pretrained import load_pretrained

for _module in (sionna, sic, unfolded, eqnet, quantized_llr, sdnet, pretrained):
    for _spec in _module.SPECS:
        register_detector(_spec)
register_resolver(pretrained.detector_spec, lambda: _catalogue.available())
register_resolver(plugins.plugin_spec, lambda: plugins.entry_points())

__all__ = ["COMPRESSORS", "DETECTORS", "DetectorSpec", "LinkContext", "Param", "SpecError",
           "build_detector", "closest_names", "eqnet_compressor_names", "get_detector_spec",
           "known_names", "load_pretrained", "make_compressor", "register_detector",
           "register_resolver", "resolve_compressor", "validate_detector"]

"""kaq-sionna: quantized receiver blocks and HARQ soft-bit storage in Sionna 5G links.

Importing the package imports TensorFlow and Sionna quietly (see
:mod:`kaq_sionna.core.quiet_tf`) and keeps the module names of before the layered layout
working, with a deprecation warning (:mod:`kaq_sionna.core.aliases`).

Layers, each importing only the ones before it: :mod:`kaq_sionna.core` <- the library
(:mod:`~kaq_sionna.quantization`, :mod:`~kaq_sionna.channels`, :mod:`~kaq_sionna.pretrained`,
:mod:`~kaq_sionna.softbits`, :mod:`~kaq_sionna.detection`, :mod:`~kaq_sionna.harq`,
:mod:`~kaq_sionna.registry`, :mod:`~kaq_sionna.training`, :mod:`~kaq_sionna.deploy`) <- the
links (package ``links``) <- :mod:`kaq_sionna.app`.
"""

from kaq_sionna.core import aliases
from kaq_sionna.core.quiet_tf import import_quietly

import_quietly()
aliases.install()

__version__ = "0.1.0"

"""kaq-sionna: quantized receiver blocks and HARQ soft-bit storage in Sionna 5G links.

Importing the package imports TensorFlow and Sionna quietly (see
:mod:`kaq_sionna._quiet_tf`).
"""

from kaq_sionna._quiet_tf import import_quietly

import_quietly()

__version__ = "0.1.0"

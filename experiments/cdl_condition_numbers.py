"""How ill-conditioned are the CDL channels of the OFDM link, compared with i.i.d. Rayleigh?

Investigates why detectors lose more on CDL than on Rayleigh (docs/links.md): prints the median
condition number of the 4x4 per-resource-element channel of :class:`links.OFDMLink`'s default
CDL set-up (dual-polarised arrays, 300 ns, 3 m/s, 3.5 GHz), per CDL profile A-E, against i.i.d.
Rayleigh (fixed seed, 64 slots per profile). Quoted in docs/links.md.

Run (with the package installed, ~1 min)::

    python experiments/cdl_condition_numbers.py
"""

import numpy as np


def main(num_slots=64, seed=1):
    import kaq_sionna  # noqa: F401, I001  (imports TensorFlow quietly, first)
    from sionna.phy import config

    from kaq_sionna.channels.cdl import CDLOFDMChannel, ofdm_resource_grid

    config.seed = seed
    rg = ofdm_resource_grid(4)
    rng = np.random.default_rng(seed)
    g = (rng.normal(size=(20000, 4, 4)) + 1j * rng.normal(size=(20000, 4, 4))) / np.sqrt(8)
    print(f"i.i.d. Rayleigh: median condition number {np.median(np.linalg.cond(g)):.1f}")
    for model in "ABCDE":
        channel = CDLOFDMChannel(rg, model, 300e-9, 3.5e9, 3.0, 4, 4, "dual", "freq")
        _, h = channel.draw(num_slots)  # [slots, 1, rx, 1, tx, sym, fft]
        h = np.transpose(h.numpy()[:, 0, :, 0], [0, 3, 4, 1, 2])[:, :, 6:-6]  # data carriers
        cond = np.linalg.cond(h.reshape(-1, 4, 4))
        print(f"CDL-{model}: median condition number {np.median(cond):.1f} "
              f"({num_slots} slots, {cond.size} resource elements)")


if __name__ == "__main__":
    main()

r"""Learngene: extracting a named set of SDNet layers and inheriting it into a new model.

After Wang, Geng et al., *Learngene: From Open-World to Your Learning Task* (AAAI 2022): a
*learngene* is a few whole layers of a *collective* model; a descendant (*individual*) model
is new randomly initialised layers + the inherited layers + a new head, all then fine-tuned
(nothing is frozen). Where the learngene sits is the parameter ``placement``:

* ``"bottom"``: the first ``num_layers`` convolutional layers of the collective model's front,
  placed first (at the input) in the individual model, new layers after them (what the SDNet
  paper's summary reports as best);
* ``"top"``: the last ``num_layers`` layers of the front, placed last (just below the new
  head), new layers before them (the original Learngene's choice, its last three blocks).

A learngene is a dict ``{"layers": [conv_spec, ...], "weights": {"<layer>/kernel": ndarray,
"<layer>/bias": ndarray}, "placement": str}``, independent of any antenna configuration
(the front's parameters do not depend on ``num_tx``, ``num_rx``).
"""

import numpy as np

from kaq_sionna.detection.sdnet import INDIVIDUAL_SIZES, SDNet, conv_spec, count_params

__all__ = ["PLACEMENTS", "build_individual", "build_sized", "extract_learngene",
           "inherited_ratio", "learngene_names", "new_layers"]

PLACEMENTS = ("bottom", "top")


def learngene_names(conv, num_layers, placement):
    """Names of the learngene layers of a front ``conv`` (list of conv specs)."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, found {placement!r}")
    if not 0 < num_layers <= len(conv):
        raise ValueError(f"num_layers must be in 1..{len(conv)}, found {num_layers}")
    names = [c["name"] for c in conv]
    return names[:num_layers] if placement == "bottom" else names[-num_layers:]


def extract_learngene(model, num_layers, placement):
    """The learngene of ``model`` (an :class:`~kaq_sionna.detection.sdnet.SDNet` or an
    :class:`~kaq_sionna.detection.sdnet.SDNetCollective`): copies of its layers' weights.

    Output
    ------
    : dict ``{"layers", "weights", "placement"}`` (see the module docstring)
    """
    names = learngene_names(model.conv, num_layers, placement)
    specs = [dict(c) for c in model.conv if c["name"] in names]
    layers = dict(zip([c["name"] for c in model.conv], model.conv_layers, strict=True))
    weights = {}
    for n in names:
        weights[f"{n}/kernel"] = np.array(layers[n].kernel.numpy(), copy=True)
        weights[f"{n}/bias"] = np.array(layers[n].bias.numpy(), copy=True)
    return {"layers": specs, "weights": weights, "placement": placement}


def build_individual(num_tx, num_rx, num_bits_per_symbol, learngene, new_conv,
                     head_units=(64,), head_reduce=4, precision=None, seed=None, name=None):
    """An individual model: new conv layers + the inherited learngene + a new head.

    Parameters
    ----------
    learngene : dict
        From :func:`extract_learngene` (or :func:`~kaq_sionna.detection.sdnet_io.load_learngene`).
        ``None`` builds the same architecture without inheritance (the *scratch* baseline,
        learngene layers randomly initialised); pass the learngene's ``layers`` then via
        ``new_conv`` yourself, or use ``learngene={"layers": ..., "weights": None, ...}``.
    new_conv : list of dict
        The new convolutional layers (conv specs); with ``placement="top"`` the last one's
        ``filters`` must equal the learngene's input channels.
    seed : int or None
        Keras seed of the new layers' initialisation.

    Output
    ------
    : :class:`~kaq_sionna.detection.sdnet.SDNet`
        Untrained except the learngene layers, whose weights equal the learngene's exactly.
    """
    import keras

    placement = learngene["placement"]
    lg_specs = [dict(c) for c in learngene["layers"]]
    clash = {c["name"] for c in lg_specs} & {c["name"] for c in new_conv}
    if clash:
        raise ValueError(f"new layer names clash with the learngene's: {sorted(clash)}")
    conv = lg_specs + list(new_conv) if placement == "bottom" else list(new_conv) + lg_specs
    weights = learngene.get("weights")
    if weights is not None:
        k0 = weights[f"{lg_specs[0]['name']}/kernel"]
        cin = 1 if placement == "bottom" else (new_conv[-1]["filters"] if new_conv else 1)
        if k0.shape[2] != cin:
            raise ValueError(f"learngene input channels {k0.shape[2]} != {cin} (placement "
                             f"{placement!r}: the layer below it has {cin} output channels)")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    det = SDNet(num_tx, num_rx, num_bits_per_symbol, conv, head_units, head_reduce,
                precision=precision, name=name)
    if weights is not None:
        for spec in lg_specs:
            layer = det.layer_by_name(spec["name"])
            layer.kernel.assign(weights[f"{spec['name']}/kernel"])
            layer.bias.assign(weights[f"{spec['name']}/bias"])
    return det


def inherited_ratio(det, learngene):
    """Transferred parameters / all parameters of ``det`` (counted from the model)."""
    names = [c["name"] for c in learngene["layers"]]
    return det.num_params(names) / count_params([layer for _, layer in det.named_layers()])


def new_layers(size, learngene):
    """The new conv layers of an individual model of ``size`` (:data:`INDIVIDUAL_SIZES`):
    ``depth`` layers ``new0..`` of ``width`` channels; with ``placement="top"`` the last one
    has the learngene's input channels (so that the learngene can sit on it)."""
    cfg = INDIVIDUAL_SIZES[size]
    layers = [conv_spec(f"new{i}", cfg["width"]) for i in range(cfg["depth"])]
    if learngene["placement"] == "top":
        cin = int(learngene["weights"][f"{learngene['layers'][0]['name']}/kernel"].shape[2])
        layers[-1] = conv_spec(layers[-1]["name"], cin)
    return layers


def build_sized(size, num_tx, num_rx, num_bits_per_symbol, learngene, inherit=True,
                precision=None, seed=None, name=None):
    """An individual model of ``size`` with the learngene (``inherit=False``: the same
    architecture with the learngene layers randomly initialised, the scratch baseline)."""
    cfg = INDIVIDUAL_SIZES[size]
    lg = learngene if inherit else dict(learngene, weights=None)
    return build_individual(num_tx, num_rx, num_bits_per_symbol, lg, new_layers(size, learngene),
                            cfg["head_units"], cfg["head_reduce"], precision=precision,
                            seed=seed, name=name)

r"""The training steps of EQ-Net (EQ-Net paper, Sects. 2.6.1-2.6.2): the stages of a run and one
gradient step per stage.

* Stage 1: :math:`f_Q` and :math:`g_Q` on eq. (18) with the latent noise
  :math:`\mathbf u \sim \mathcal N(0, \sigma_u^2)` of eqs. (16)-(17);
* stage 2: :math:`f_E` on the feature loss eq. (19);
* single stage (the baseline of Fig. 6): :math:`f_E` and :math:`g_Q` on eq. (18) applied to
  :math:`g_Q(f_E(\cdot))`, eq. (20).

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import tensorflow as tf

from kaq_sionna.softbits.eqnet import feature_loss, softbit_distortion
from kaq_sionna.training.data import derive_seed

__all__ = ["make_steps", "stage_plan"]


def stage_plan(training):
    """``[(stage, epochs)]``: stages 1 and 2, or the single-stage baseline."""
    if training["mode"] == "single-stage":
        return [("single", training["stage1_epochs"] + training["stage2_epochs"])]
    return [(1, training["stage1_epochs"]), (2, training["stage2_epochs"])]


def make_steps(model, opts, training, seed):
    """One ``tf.function`` gradient step per stage.

    Parameters
    ----------
    model : :class:`~kaq_sionna.softbits.eqnet.EQNet`
    opts : dict
        Optimizer of each stage (keys of :func:`stage_plan`).
    training : dict
        ``epsilon``, ``noise_sigma`` and ``feature_loss`` of the scenario.
    seed : int
        Scenario seed (the latent noise of stage 1 is drawn with a seed derived from it
        and the optimizer's step counter, so a resumed run draws the same noise).

    Output
    ------
    : dict
        ``{1: step1(sb), 2: step2(y, h, s, z), "single": step_single(y, h, s, sb)}``; each
        applies one gradient update and returns the batch loss.
    """
    eps, sigma_u = training["epsilon"], training["noise_sigma"]
    noise_seed = derive_seed(seed, "eqnet-latent-noise")
    v1 = model.quantization_variables + model.decoder_variables
    v2 = model.estimation_variables
    vs = model.estimation_variables + model.decoder_variables

    @tf.function(reduce_retracing=True)
    def step1(sb):
        # Stateless noise seeded by the step counter: a resumed run draws the same u.
        u = tf.random.stateless_normal([tf.shape(sb)[0], model.latent_dim],
                                       seed=tf.stack([tf.constant(noise_seed, tf.int64),
                                                      tf.cast(opts[1].iterations, tf.int64)]),
                                       stddev=sigma_u)
        with tf.GradientTape() as tape:
            rec = model.decode(model.encode(sb) + u)                        # eqs. (16)-(17)
            loss = tf.reduce_mean(softbit_distortion(sb, rec, eps))         # eq. (18)
        opts[1].apply_gradients(zip(tape.gradient(loss, v1), v1, strict=True))
        return loss

    @tf.function(reduce_retracing=True)
    def step2(y, h, s, z):
        with tf.GradientTape() as tape:
            z_hat = model.estimate_features(y, h, s)
            loss = tf.reduce_mean(feature_loss(z, z_hat, training["feature_loss"]))  # eq. (19)
        opts[2].apply_gradients(zip(tape.gradient(loss, v2), v2, strict=True))
        return loss

    @tf.function(reduce_retracing=True)
    def step_single(y, h, s, sb):
        with tf.GradientTape() as tape:
            rec = model.decode(model.estimate_features(y, h, s))             # eq. (20)
            loss = tf.reduce_mean(softbit_distortion(sb, rec, eps))          # eq. (18)
        opts["single"].apply_gradients(zip(tape.gradient(loss, vs), vs, strict=True))
        return loss

    return {1: step1, 2: step2, "single": step_single}

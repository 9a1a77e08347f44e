r"""EQ-Net's building blocks (EQ-Net paper, Fig. 2): dense layers with seeded initialisers,
the branched dense layer of the quantization decoder and the residual block of the
estimation encoder.

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import math

import keras
import tensorflow as tf

__all__ = ["BranchedDense", "ResidualBlock"]


def _glorot(seed):
    return keras.initializers.GlorotUniform(seed=int(seed))


def _dense(units, activation, seed, name, input_dim):
    layer = keras.layers.Dense(units, activation=activation, kernel_initializer=_glorot(seed),
                               name=name, dtype="float32")
    layer.build((None, input_dim))
    return layer


class BranchedDense(keras.layers.Layer):
    r"""``num_branches`` independent dense layers applied in parallel (Fig. 2b).

    Branch ``b`` computes ``activation(x_b @ W_b + c_b)``. It is mathematically
    ``num_branches`` separate :class:`keras.layers.Dense` layers; one batched
    matrix product over a branch-major layout is much faster on a CPU than many
    small products (or an ``einsum`` with broadcasting). Kernels are
    initialised with Glorot-uniform of each branch's own fan-in and fan-out.

    Parameters
    ----------
    num_branches : int
    input_dim, units : int
        Per-branch input and output sizes.
    activation : None | str
    shared_input : bool
        If `True`, the input ``[batch, input_dim]`` is fed to every branch (the
        first layer of :math:`g_Q`); otherwise it is ``[num_branches, batch, input_dim]``.
    seed : int
        Initialisation seed.

    Input
    -----
    x : [batch, input_dim] (``shared_input``) | [num_branches, batch, input_dim], tf.float32

    Output
    ------
    : [num_branches, batch, units], tf.float32
    """

    def __init__(self, num_branches, input_dim, units, activation=None, shared_input=False,
                 seed=0, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.num_branches, self.input_dim, self.units = num_branches, input_dim, units
        self.shared_input = shared_input
        self.activation = keras.activations.get(activation)
        limit = math.sqrt(6.0 / (input_dim + units))
        self.kernel = self.add_weight(
            name="kernel", shape=(num_branches, input_dim, units),
            initializer=keras.initializers.RandomUniform(-limit, limit, seed=int(seed)))
        self.bias = self.add_weight(name="bias", shape=(num_branches, units),
                                    initializer="zeros")
        self.built = True

    def call(self, x):
        if self.shared_input:
            x = x[None]  # broadcast over the branches
        return self.activation(tf.matmul(x, self.kernel) + self.bias[:, None, :])


class ResidualBlock(keras.layers.Layer):
    r"""Residual block of the estimation encoder (Fig. 2c): six hidden layers.

    With :math:`\mathbf a_0` the block input,

    .. math::
        \mathbf a_i = \mathrm{relu}(\mathbf W_i \mathbf a_{i-1}), \quad
        \mathbf r_i = \mathrm{relu}(\mathbf S_i \mathbf a_i), \quad i = 1, 2, 3;
        \qquad
        \mathbf e_0 = \mathbf a_3, \quad
        \mathbf e_j = \mathrm{relu}(\mathbf P_j \mathbf e_{j-1} + \mathbf r_j), \quad j = 1, 2, 3

    (biases omitted): three ReLU layers, each with a residual branch, then
    three linear layers each joined by one branch before the ReLU. All layers
    have ``width`` units.

    Parameters
    ----------
    input_dim, width : int
    seed : int
    name : str

    Input
    -----
    x : [..., input_dim], tf.float32

    Output
    ------
    : [..., width], tf.float32
    """

    def __init__(self, input_dim, width, seed=0, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        n = self.name
        self.pre = [_dense(width, "relu", seed + i, f"{n}_pre{i}", input_dim if i == 0 else width)
                    for i in range(3)]
        self.skip = [_dense(width, "relu", seed + 3 + i, f"{n}_skip{i}", width)
                     for i in range(3)]
        self.post = [_dense(width, None, seed + 6 + i, f"{n}_post{i}", width) for i in range(3)]
        self.built = True

    def call(self, x):
        branches = []
        for pre, skip in zip(self.pre, self.skip, strict=True):
            x = pre(x)
            branches.append(skip(x))
        for post, r in zip(self.post, branches, strict=True):
            # tf.maximum, not tf.nn.relu: grappler would fuse MatMul+BiasAdd+Add+Relu into
            # an op without a CPU kernel (a warning per trace, then the unfused graph)
            x = tf.maximum(post(x) + r, 0.0)
        return x


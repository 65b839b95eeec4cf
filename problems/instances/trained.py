"""Trained nets for the catalog: an MLP and a small conv net on scikit-learn's digits.

Both are trained offline and deterministically (fixed seeds, scikit-learn's bundled
``load_digits``, nothing downloaded) on the training split of the ``digits`` task
(:mod:`mapopt.quality.task`), then converted to rate-coded spiking nets by data-based
weight normalisation (Diehl et al., IJCNN 2015; Rueckauer et al., Frontiers in
Neuroscience 2017; :mod:`mapopt.quality.convert`). Their spike counts are the mean per
image window over the digits test set, and their provenance records the trained ANN's
and the SNN's test accuracy.

- ``digits-mlp``: 64-100-10, ReLU, scikit-learn's ``MLPClassifier`` (Adam).
- ``digits-cnn``: 1x8x8 -> conv 8@3x3 (pad 1) -> ReLU -> 2x2 average pooling -> conv
  16@3x3 (pad 1) -> ReLU -> dense 10: the pooling is a layer of neurons (fan-in 4), the
  dense layer reads 256 inputs. scikit-learn has no convolution, so the conv net is
  trained here with numpy (below, about 1 s): each layer is mapopt's own neuron-level
  expansion (:mod:`mapopt.layers`) as a sparse matrix whose entries share the kernel's
  weights, so the trained net and the spiking net have exactly the same synapses.

A net is trained the first time it is built in a process (``functools.cache``), with one
BLAS thread (threadpoolctl): the matrices are small, so more threads only contend with each
other on a loaded machine, and one thread's sums do not depend on the machine's core count.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from mapopt import layers
from mapopt.network import Network
from mapopt.quality import TASKS, with_test_spikes
from mapopt.quality.convert import AvgPool, Conv, Dense, Layer, convert, expand, forward
from mapopt.registry import NetEntry

TASK = TASKS["digits"]
MLP_HIDDEN = 100
#: Training of the conv net: Adam (Kingma and Ba 2015) on softmax cross-entropy.
CNN_EPOCHS, CNN_BATCH, CNN_LR, CNN_SEED = 20, 32, 0.01, 0


def _spiking(name: str, layer_list: list[Layer], ann_pred: np.ndarray, trainer: str) -> Network:
    """Convert, then simulate the test set for spike counts; provenance: both accuracies and the scales."""
    split = TASK.split()
    conv = convert(layer_list, TASK.image_shape, split.x_train, name=name, task=TASK.name, max_rate=TASK.max_rate,
                   timesteps=TASK.timesteps)
    ann = float(np.mean(ann_pred == split.y_test))
    note = (
        f"ANN ({trainer}) test accuracy {ann:.4f}; converted with data-based weight normalisation "
        f"(Diehl et al. 2015; Rueckauer et al. 2017), {conv.percentile:g}th-percentile scales "
        + ", ".join(f"{s:.3g}" for s in conv.scales)
    )
    net, _ = with_test_spikes(conv.network, TASK, note=note)
    return net


@cache
def train_mlp() -> tuple[list[Layer], np.ndarray]:
    """Train the 64-100-10 MLP with scikit-learn; returns its layers and its own test predictions."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    split = TASK.split()
    clf = MLPClassifier(hidden_layer_sizes=(MLP_HIDDEN,), activation="relu", max_iter=400, random_state=0)
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        # a fixed number of epochs is the deterministic budget; reaching it is not a problem
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(split.x_train, split.y_train)
    layer_list: list[Layer] = [Dense(w.T, b) for w, b in zip(clf.coefs_, clf.intercepts_, strict=True)]
    return layer_list, clf.predict(split.x_test)


@cache
def digits_mlp() -> Network:
    """The 64-100-10 MLP, trained with scikit-learn and converted (see the module docstring)."""
    return _spiking("digits-mlp", *train_mlp(), "scikit-learn MLPClassifier, 64-100-10 ReLU")


class _TiedConv:
    """A convolution as a sparse matrix whose entries are the kernel's weights (weight sharing)."""

    def __init__(self, in_shape: tuple[int, ...], cout: int, k: int, padding: int):
        cin = in_shape[0]
        index = np.arange(cout * cin * k * k, dtype=np.float64).reshape(cout, cin, k, k) + 1.0
        syn = layers.conv(in_shape, index, padding=padding)
        self.post, self.pre, self.kernel = syn.post, syn.pre, syn.weight.astype(np.int64) - 1
        self.shape = (int(np.prod(syn.out_shape)), int(np.prod(syn.in_shape)))
        self.out_shape, self.weights, self.cout = syn.out_shape, cout * cin * k * k, cout

    def matrix(self, w: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix((w.ravel()[self.kernel], (self.post, self.pre)), shape=self.shape)

    def grad(self, dz: np.ndarray, x: np.ndarray) -> np.ndarray:
        """d loss / d kernel from d loss / d output ``dz`` (out, B) and the input ``x`` (in, B)."""
        per_synapse = np.einsum("sb,sb->s", dz[self.post], x[self.pre])
        return np.bincount(self.kernel, weights=per_synapse, minlength=self.weights)


@cache
@threadpool_limits.wrap(limits=1)
def train_cnn() -> tuple[list[Layer], np.ndarray]:
    """Train the conv net with mini-batch Adam; returns its layers and its own test predictions.

    Written by hand because scikit-learn has no convolutional layer and the project does
    not depend on a deep-learning framework; it is a plain softmax-regression backward pass
    through the three weighted layers.
    """
    split = TASK.split()
    rng = np.random.default_rng(CNN_SEED)
    c1 = _TiedConv(TASK.image_shape, 8, 3, 1)
    pool = layers.pool(c1.out_shape, 2, average=True)
    pool_m = pool.matrix()
    c2 = _TiedConv(pool.out_shape, 16, 3, 1)
    n_flat = c2.shape[0]
    params = {
        "w1": rng.normal(0, np.sqrt(2 / 9), (8, 1, 3, 3)), "b1": np.zeros(8),
        "w2": rng.normal(0, np.sqrt(2 / 72), (16, 8, 3, 3)), "b2": np.zeros(16),
        "w3": rng.normal(0, np.sqrt(2 / n_flat), (TASK.classes, n_flat)), "b3": np.zeros(TASK.classes),
    }
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    pos1, pos2 = c1.shape[0] // 8, n_flat // 16
    step = 0
    for _ in range(CNN_EPOCHS):
        order = rng.permutation(len(split.y_train))
        for start in range(0, len(order), CNN_BATCH):
            idx = order[start : start + CNN_BATCH]
            x, y, b = split.x_train[idx].T, split.y_train[idx], len(idx)
            m1, m2 = c1.matrix(params["w1"]), c2.matrix(params["w2"])
            z1 = m1 @ x + np.repeat(params["b1"], pos1)[:, None]
            a1 = np.maximum(z1, 0)
            p = pool_m @ a1
            z2 = m2 @ p + np.repeat(params["b2"], pos2)[:, None]
            a2 = np.maximum(z2, 0)
            z3 = params["w3"] @ a2 + params["b3"][:, None]
            prob = np.exp(z3 - z3.max(axis=0))
            prob /= prob.sum(axis=0)
            prob[y, np.arange(b)] -= 1.0
            dz3 = prob / b
            dz2 = (params["w3"].T @ dz3) * (z2 > 0)
            dz1 = (pool_m.T @ (m2.T @ dz2)) * (z1 > 0)
            grads = {
                "w3": dz3 @ a2.T, "b3": dz3.sum(axis=1),
                "w2": c2.grad(dz2, p).reshape(params["w2"].shape), "b2": dz2.reshape(16, pos2, b).sum(axis=(1, 2)),
                "w1": c1.grad(dz1, x).reshape(params["w1"].shape), "b1": dz1.reshape(8, pos1, b).sum(axis=(1, 2)),
            }
            step += 1
            for k, g in grads.items():
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                params[k] -= CNN_LR * (m[k] / (1 - 0.9**step)) / (np.sqrt(v[k] / (1 - 0.999**step)) + 1e-8)
    layer_list: list[Layer] = [
        Conv(params["w1"], params["b1"], padding=1),
        AvgPool(2),
        Conv(params["w2"], params["b2"], padding=1),
        Dense(params["w3"], params["b3"]),
    ]
    ann_pred = np.argmax(forward(expand(layer_list, TASK.image_shape), split.x_test)[-1], axis=1)
    return layer_list, ann_pred


@cache
def digits_cnn() -> Network:
    """The conv net, trained with numpy and converted (see the module docstring)."""
    layer_list, ann_pred = train_cnn()
    trainer = "numpy, conv 8@3x3 - avgpool 2 - conv 16@3x3 - dense 10, ReLU, Adam"
    return _spiking("digits-cnn", layer_list, ann_pred, trainer)


def _facts(layer_list_shapes: list[tuple[str, int, int]]) -> dict[str, int]:
    """Neurons, synapses and max fan-in from (kind, out channels, kernel) per layer, in closed form."""
    shape: tuple[int, ...] = TASK.image_shape
    neurons, synapses, widest = TASK.n_inputs, 0, 0
    for kind, size, k in layer_list_shapes:
        if kind == "dense":
            count, fanin, shape = size * int(np.prod(shape)), int(np.prod(shape)), (size,)
        else:
            conv_like = kind == "conv"
            count, fanin, shape = layers.conv_counts(
                shape, size if conv_like else shape[0], (k, k), stride=(1, 1) if conv_like else (k, k),
                padding=(k // 2,) * 2 if conv_like else (0, 0), dilation=(1, 1), groups=1 if conv_like else shape[0],
            )
        neurons, synapses, widest = neurons + int(np.prod(shape)), synapses + count, max(widest, fanin)
    return {"neurons": neurons, "synapses": synapses, "max_fanin": widest}


SPIKES = f"simulated, T={TASK.timesteps}, mean over the digits test images (rate coded, p = pixel/step, seed 0)"


def entries() -> list[NetEntry]:
    """The trained nets (a ``mapopt.nets`` entry point); ``task`` marks them for :mod:`mapopt.quality`."""
    return [
        NetEntry(
            name="digits-mlp",
            tier="small",
            description="64-100-10 MLP trained on sklearn digits, converted to IF neurons",
            build=digits_mlp,
            facts={**_facts([("dense", MLP_HIDDEN, 0), ("dense", TASK.classes, 0)]), "spikes": SPIKES,
                   "task": TASK.name},
        ),
        NetEntry(
            name="digits-cnn",
            tier="small",
            description="conv net (8@3x3, avgpool 2, 16@3x3, dense 10) trained on sklearn digits, IF neurons",
            build=digits_cnn,
            facts={**_facts([("conv", 8, 3), ("pool", 0, 2), ("conv", 16, 3), ("dense", TASK.classes, 0)]),
                   "spikes": SPIKES, "task": TASK.name},
        ),
    ]

"""MXNet Module API: the CNN as a symbolic graph trained by `mx.mod.Module` (fp32).

The second MXNet row of the original comparison: the pre-Gluon, symbolic API (a `Symbol` graph,
bound once to fixed shapes, `forward_backward` and `update` per batch). It shares the
environment (`python -m harness setup mxnet`), the compatibility shim, the context and
`sync()` (`mx.nd.waitall()`) with the Gluon row, imported from `py_impls.mxnet_gluon`.
"""

from __future__ import annotations

import numpy as np

from harness.config import CNNConfig
from harness.interface import TrainingData, TrainingImplementation
from py_impls.mxnet_gluon import GLOROT_UNIFORM, MXNetRun, mx  # mx: imported behind the shim


def vggish_symbol(n_classes: int, dropout: bool = True) -> mx.sym.Symbol:
    """docs/benchmarks.md §2's network; parameter names are the canonical ones with "_" for "."."""
    sym = mx.sym

    def drop(x: mx.sym.Symbol, p: float) -> mx.sym.Symbol:
        return sym.Dropout(x, p=p) if dropout else x
    x = sym.Variable("data")
    x = sym.Activation(sym.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=50,
                                       name="conv1"), act_type="relu")
    x = sym.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=50, name="conv2")
    x = sym.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="max")
    x = drop(sym.Activation(x, act_type="relu"), 0.25)
    x = sym.Activation(sym.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=100,
                                       name="conv3"), act_type="relu")
    x = sym.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=100, name="conv4")
    x = sym.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="max")
    x = drop(sym.Activation(x, act_type="relu"), 0.25)
    x = sym.Flatten(x)  # C,H,W order
    x = drop(sym.Activation(sym.FullyConnected(x, num_hidden=512, name="fc1"),
                            act_type="relu"), 0.5)
    return sym.FullyConnected(x, num_hidden=n_classes, name="fc2")  # logits


class CNN(MXNetRun, TrainingImplementation):
    """docs/benchmarks.md §2 with the Module API: SoftmaxOutput (softmax cross-entropy), SGD with momentum."""

    # == data ==
    def prepare(self, data: TrainingData) -> None:
        self.x_train = data.x_train  # NCHW float32, MXNet's layout; batches copied per step
        self.y_train = data.y_train.astype(np.float32)
        self.x_test = mx.nd.array(data.x_test)  # read by Module.predict through an iterator

    # == model ==
    def build(self, config: CNNConfig, seed: int) -> None:
        self.config = config
        mx.random.seed(seed)
        logits = vggish_symbol(config.n_classes)
        shape = [("data", (config.batch_size, config.channels, config.height, config.width))]

        # == loss and optimizer ==
        # SoftmaxOutput's backward is softmax - one_hot summed over the batch; Module rescales
        # gradients by 1/batch_size: the mean cross-entropy. SGD: v <- 0.9 v - lr g; w += v.
        self.module = mx.mod.Module(mx.sym.SoftmaxOutput(logits, name="softmax"),
                                    context=self.ctx)
        self.module.bind(data_shapes=shape, label_shapes=[("softmax_label",
                                                          (config.batch_size,))])
        self.module.init_params(GLOROT_UNIFORM)  # biases: zeros (by name)
        self.init_optimizer()
        self.logits = logits  # prediction binds it for inference (see predict)

    def init_optimizer(self) -> None:
        self.verifier = None  # a verify_step module borrows this optimizer: made again
        self.module.init_optimizer(optimizer="sgd", force_init=True,
                                   optimizer_params={"learning_rate": self.config.lr,
                                                     "momentum": self.config.momentum})

    # == training epoch ==
    def train_epoch(self, order: np.ndarray) -> None:
        for idx in order.reshape(-1, self.config.batch_size):
            batch = mx.io.DataBatch(data=[mx.nd.array(self.x_train[idx], ctx=self.ctx)],
                                    label=[mx.nd.array(self.y_train[idx], ctx=self.ctx)])
            self.module.forward_backward(batch)  # is_train: dropout active
            self.module.update()

    # == prediction ==
    def predict(self) -> np.ndarray:
        # The logits symbol bound for inference (dropout off), sharing the training module's
        # parameter arrays. Bound here, at each prediction, not once in build: MXNet's MKL-DNN
        # subgraph backend copies an inference graph's weights at its first forward, so a
        # predictor bound once would not see later updates (measured).
        c = self.config
        predictor = mx.mod.Module(self.logits, label_names=None, context=self.ctx)
        predictor.bind(data_shapes=[("data", (c.batch_size, c.channels, c.height, c.width))],
                       for_training=False, shared_module=self.module)
        # The iterator pads the last batch to a full one; predict drops the padding's outputs.
        batches = mx.io.NDArrayIter(self.x_test, batch_size=c.batch_size,
                                    last_batch_handle="pad")
        return self.outputs(predictor.predict(batches).asnumpy())

    # == verification ==
    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        arg_params = {name.replace(".", "_"): mx.nd.array(value, dtype="float32")
                      for name, value in params.items()}
        self.module.set_params(arg_params, {}, force_init=True)
        self.init_optimizer()  # fresh momentum

    def get_weights(self) -> dict[str, np.ndarray]:
        arg_params, _ = self.module.get_params()
        return {name.replace("_", "."): value.asnumpy().copy()
                for name, value in arg_params.items()}

    def verify_step(self, x: np.ndarray, y: np.ndarray) -> float:
        n = len(x)
        if self.verifier is None or self.verifier.data_shapes[0].shape[0] != n:
            # Dropout off: the same graph without its Dropout nodes, bound to this batch size,
            # sharing the parameters and the optimizer (momentum) of the training module.
            # grad_scale: the borrowed optimizer divides by batch_size, this batch has n.
            out = mx.sym.SoftmaxOutput(vggish_symbol(self.config.n_classes, dropout=False),
                                       name="softmax", grad_scale=self.config.batch_size / n)
            self.verifier = mx.mod.Module(out, context=self.ctx)
            self.verifier.bind(data_shapes=[("data", x.shape)],
                               label_shapes=[("softmax_label", (n,))], shared_module=self.module)
            self.verifier.borrow_optimizer(self.module)
        batch = mx.io.DataBatch(data=[mx.nd.array(x, ctx=self.ctx)],
                                label=[mx.nd.array(y.astype(np.float32), ctx=self.ctx)])
        self.verifier.forward_backward(batch)
        probabilities = self.verifier.get_outputs()[0].asnumpy()  # SoftmaxOutput's forward
        loss = -np.mean(np.log(probabilities[np.arange(n), y]))
        self.verifier.update()
        # The training module caches its parameters on the host and does not know the shared
        # arrays changed: hand it the updated values (get_weights reads that cache).
        self.module.set_params(*self.verifier.get_params(), force_init=True)
        return float(loss)

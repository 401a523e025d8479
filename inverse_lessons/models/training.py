"""One training loop and one optimiser for the book's classifiers.

Each estimator writes its training step as a pure function,

    step(params, optimiser_state, batch) -> (record, params, optimiser_state),

and :class:`TrainingLoop` runs it: many steps per call of one traced graph
loop (a chunk), with the progress bar, the divergence check and the loss
curve written once, here. The optimiser is :func:`adam_step` (or plain
gradient descent, :func:`sgd_step`), also pure, so that one trace serves every
fit of a configuration, one after another or in threads.
"""

from __future__ import annotations

import math
import threading

from tqdm.auto import tqdm

from inverse_lessons._tf import tf
from inverse_lessons.inversion.solver import DivergenceError

__all__ = [
    "CHUNK",
    "OptimiserState",
    "TrainingLoop",
    "adam_step",
    "optimiser_state",
    "optimiser_update",
    "sgd_step",
    "training_diverged",
    "training_loop",
]

CHUNK = 100
"""Training steps per call of the traced loop: the progress bar's tick."""


def training_diverged(iteration, loss, cause, *, step_size, step_size_bound=None):
    """Make the error for a training loss that is not finite, saying why.

    Parameters
    ----------
    iteration : int
        The iteration (counted from 0) whose loss is not finite.
    loss : float
        That loss (inf or nan).
    cause : str
        The likely cause and the remedy, for the message.
    step_size, step_size_bound : float or None
        Recorded on the error (see :class:`DivergenceError`).

    Returns
    -------
    DivergenceError
        The error, to be raised by the caller.
    """
    return DivergenceError(f"training diverged at iteration {iteration}: the loss is {loss}; "
                           f"{cause}", step_size=step_size, step_size_bound=step_size_bound)


def adam_step(parameters, gradients, moments, velocities, step, learning_rate,
              beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Take one step of Adam (Kingma and Ba 2015) on lists of tensors, in Keras's form.

    The update, with the bias corrections folded into the step size, is
    p -= alpha m / (sqrt(v) + epsilon), alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t),
    after m += (g - m)(1 - beta_1) and v += (g^2 - v)(1 - beta_2): Keras's
    operations in Keras's order, with Keras's defaults. It is pure (new
    tensors in, new tensors out), so it can run inside any traced step, in
    any float dtype.

    Parameters
    ----------
    parameters, gradients, moments, velocities : list of tensors
        The parameters, their gradients and Adam's first and second moments,
        matching shapes.
    step : scalar tensor
        The step's number t = 1, 2, ..., in the parameters' dtype.
    learning_rate : scalar tensor
        In the parameters' dtype.
    beta_1, beta_2, epsilon : float
        Adam's constants.

    Returns
    -------
    parameters, moments, velocities : list of tensors
        After the step.
    """
    alpha = learning_rate * tf.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
    moments = [m + (g - m) * (1 - beta_1) for g, m in zip(gradients, moments, strict=True)]
    velocities = [v + (tf.square(g) - v) * (1 - beta_2)
                  for g, v in zip(gradients, velocities, strict=True)]
    parameters = [p - (m * alpha) / (tf.sqrt(v) + epsilon)
                  for p, m, v in zip(parameters, moments, velocities, strict=True)]
    return parameters, moments, velocities


def sgd_step(parameters, gradients, learning_rate):
    """Take one step of plain gradient descent, p -= lr g, on lists of tensors.

    Parameters
    ----------
    parameters, gradients : list of tensors
    learning_rate : scalar tensor

    Returns
    -------
    list of tensors
        The parameters after the step.
    """
    return [p - g * learning_rate for p, g in zip(parameters, gradients, strict=True)]


OptimiserState = tuple
"""An optimiser's state: (steps taken, learning rate, first moments, second moments)."""


def optimiser_state(parameters, learning_rate):
    """Make a fresh optimiser state for a list of parameter tensors.

    Parameters
    ----------
    parameters : list of tensors
        One float dtype for all.
    learning_rate : float
        Part of the state, so that fits at other rates share one trace.

    Returns
    -------
    tuple
        (steps taken = 0, learning rate, zero moments, zero velocities), tensors.
    """
    dtype = parameters[0].dtype
    zeros = [tf.zeros_like(p) for p in parameters]
    return (tf.constant(0.0, dtype), tf.constant(learning_rate, dtype), zeros, list(zeros))


def optimiser_update(parameters, gradients, state, optimizer="adam"):
    """Apply one optimiser step to parameters, inside a traced step.

    Parameters
    ----------
    parameters, gradients : list of tensors
    state : tuple
        As made by :func:`optimiser_state`.
    optimizer : {"adam", "sgd"}
        Adam (:func:`adam_step`) or plain gradient descent (:func:`sgd_step`,
        which leaves the moments at zero).

    Returns
    -------
    parameters : list of tensors
    state : tuple
        The new parameters and optimiser state.
    """
    t, rate, moments, velocities = state
    t = t + 1
    if optimizer == "adam":
        parameters, moments, velocities = adam_step(parameters, gradients, moments,
                                                    velocities, t, rate)
    else:
        parameters = sgd_step(parameters, gradients, rate)
    return parameters, (t, rate, moments, velocities)


class TrainingLoop:
    """Run a pure training step many times per call of one traced graph loop.

    Parameters
    ----------
    step : callable
        ``step(params, state, batch) -> (record, params, state)``: one
        optimiser step. ``batch`` is the tuple ``data + per_step[i]`` (see
        :meth:`run`); ``record`` is the loss, or a tuple of scalars whose first
        is the loss (the rest, such as a step size, go to the divergence
        message). Pure: tensors in, tensors out.
    dtype : tf.DType
        The dtype of the records.
    n_records : int
        The number of values a step records (1: the loss alone).

    Notes
    -----
    The loop is traced once per kind of call (which data are None, their
    ranks and fixed sizes), whatever the parameters' values, so repeated fits
    and fits in threads share it. It stops after the first step whose loss
    is not finite.
    """

    def __init__(self, step, dtype, n_records=1):
        self._step = step
        self._dtype = dtype
        self._n_records = n_records
        self._lock = threading.Lock()
        self._concrete = {}
        self._loop = tf.function(self._chunk, autograph=False)

    def _chunk(self, params, state, data, per_step, count):
        def body(i, finite, params, state, records):
            batch = tuple(data) + tuple(tf.gather(p, i) for p in per_step)
            record, params, state = self._step(params, state, batch)
            record = record if isinstance(record, tuple) else (record,)
            records = [r.write(i, tf.cast(v, self._dtype))
                       for r, v in zip(records, record, strict=True)]
            return i + 1, tf.math.is_finite(record[0]), params, state, records

        records = [tf.TensorArray(self._dtype, size=count) for _ in range(self._n_records)]
        i, _, params, state, records = tf.while_loop(
            lambda i, finite, *rest: tf.logical_and(finite, i < count), body,
            (tf.constant(0), tf.constant(True), params, state, records))
        return tuple(r.stack()[:i] for r in records), params, state

    def _function(self, params, state, data, per_step, fixed_size):
        """Return the concrete loop for this kind of call, traced on first use."""
        def spec(x, leading=None):
            if x is None:
                return None
            shape = list(x.shape)
            if shape and not fixed_size:
                shape[0] = leading
            return tf.TensorSpec(shape, x.dtype)

        specs = (tf.nest.map_structure(tf.TensorSpec.from_tensor, params),
                 tf.nest.map_structure(tf.TensorSpec.from_tensor, state),
                 tuple(spec(d) for d in data),
                 tuple(tf.TensorSpec([None, *p.shape[1:]], p.dtype) for p in per_step),
                 tf.TensorSpec([], tf.int32))
        key = repr(specs)
        with self._lock:
            if key not in self._concrete:
                self._concrete[key] = self._loop.get_concrete_function(*specs)
            return self._concrete[key]

    def run(self, estimator, params, state, data, *, n_steps, per_step=None,
            diverged, curve="loss_curve_", fixed_size=False, chunk=CHUNK):
        """Train for ``n_steps`` steps, ``chunk`` per call of the traced loop.

        Parameters
        ----------
        estimator : object
            Its ``progress`` (if it has one) switches a tqdm progress bar on;
            its class name labels the bar; its attribute ``curve`` is set.
        params : list of tensors
            The starting parameters.
        state : tuple
            The starting optimiser state (:func:`optimiser_state`).
        data : tuple of tensors or None
            Read by every step (training images, labels, settings).
        n_steps : int
            Steps to take.
        per_step : callable or None
            ``per_step(start, count)`` returns a tuple of arrays whose first
            axis has ``count`` entries, entry i going to step ``start + i``
            (mini-batch rows, pixel drops); drawn chunk by chunk, in order.
        diverged : callable
            ``diverged(i, *record)`` returns the :class:`DivergenceError` to
            raise when the loss of step i (from 0) is not finite.
        curve : str
            The estimator's attribute that receives the loss of every step, a
            list of floats filled as the steps are taken (so that after a
            divergence it holds the finite losses before it).
        fixed_size : bool
            Whether the loop is traced for the exact sizes of ``data`` (faster
            for some steps) instead of any number of images.
        chunk : int
            Steps per call.

        Returns
        -------
        history : list of tuple
            The record of every step (its first entry the loss).
        params : list of tensors
        state : tuple
            The parameters and optimiser state after the last step.

        Raises
        ------
        DivergenceError
            At the first step whose loss is not finite.
        """
        data = tuple(data)
        history = []
        losses = []
        setattr(estimator, curve, losses)
        with tqdm(total=n_steps, disable=not getattr(estimator, "progress", False),
                  desc=type(estimator).__name__, unit="it", leave=False) as bar:
            while len(history) < n_steps:
                count = min(chunk, n_steps - len(history))
                drawn = () if per_step is None else tuple(
                    tf.constant(a) for a in per_step(len(history), count))
                loop = self._function(params, state, data, drawn, fixed_size)
                records, params, state = loop(params, state, data, drawn,
                                              tf.constant(count, tf.int32))
                records = [r.numpy().tolist() for r in records]
                for record in zip(*records, strict=True):
                    if not math.isfinite(record[0]):
                        raise diverged(len(history), *record)
                    history.append(record)
                    losses.append(record[0])
                bar.update(count)
        return history, params, state


_LOOPS = {}
_LOOPS_LOCK = threading.Lock()


def training_loop(key, build):
    """Return the one :class:`TrainingLoop` for ``key`` in this process.

    Parameters
    ----------
    key : hashable
        Everything the step reads from the estimator's settings while it is
        traced, and its class.
    build : callable
        ``build()`` makes the loop on first use.

    Returns
    -------
    TrainingLoop
    """
    with _LOOPS_LOCK:
        if key not in _LOOPS:
            _LOOPS[key] = build()
        return _LOOPS[key]

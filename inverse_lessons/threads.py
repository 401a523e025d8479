"""One thread for the book's small computations: the one way the package limits threads.

The book's matrices are small (64 pixels, a few hundred images), so a second thread
costs more to start and synchronise than it saves, and on two shared cores two
threads per library compete with each other. Two functions, built on one
threadpoolctl controller:

- :func:`one_blas_thread` limits numpy's BLAS and the OpenMP pools (scikit-learn's
  k-NN, for example) to one thread, inside a ``with`` block or, if its result is
  kept, until that result's ``restore_original_limits()`` is called;
- :func:`one_thread`, for a whole page, does that and also puts TensorFlow on one
  thread, which TensorFlow allows only before its first computation.

Neither makes a run repeat bit for bit; the book's numbers do not depend on them.
The test command sets the same limits for every test worker through environment
variables (the Makefile's ``ONE_THREAD``), before any library starts.
"""

from __future__ import annotations

from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread", "one_thread"]

_CONTROLLER = []    # one ThreadpoolController, made at the first use


def one_blas_thread():
    """Limit numpy's BLAS and the OpenMP pools to one thread.

    Use it as ``with one_blas_thread(): ...``; the previous limits come back at the
    end of the block. The controller that finds the loaded libraries is made once,
    at the first call (finding them reads the process's memory map, which costs
    more than many of the computations it limits).

    Returns
    -------
    threadpoolctl limiter
        A context manager; the limits hold from this call until it exits (or
        until its ``restore_original_limits()`` is called).
    """
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1)


def one_thread():
    """Put a whole page on one thread: BLAS and OpenMP, and TensorFlow.

    Call it at the top of a page, before TensorFlow's first computation
    (TensorFlow refuses to change its threads after that).

    Returns
    -------
    threadpoolctl limiter
        The limit holds until its ``restore_original_limits()`` is called.
    """
    from inverse_lessons._tf import tf

    limiter = one_blas_thread()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return limiter

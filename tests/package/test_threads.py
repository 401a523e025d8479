"""The one way the package limits threads: a block on one thread, then the old limits."""

import subprocess
import sys

from threadpoolctl import threadpool_info, threadpool_limits

from inverse_lessons.threads import one_blas_thread


def test_one_blas_thread_limits_the_pools_inside_the_block_and_restores_them():
    # two threads to start from, whatever the environment set (make test runs the tests
    # on one thread each)
    with threadpool_limits(limits=2):
        before = [pool["num_threads"] for pool in threadpool_info()]
        assert before and all(n == 2 for n in before)
        for _ in range(2):                      # the controller is made once, then reused
            with one_blas_thread():
                assert all(pool["num_threads"] == 1 for pool in threadpool_info())
            assert [pool["num_threads"] for pool in threadpool_info()] == before


def test_one_thread_puts_blas_and_tensorflow_on_one_thread():
    # in a fresh process: TensorFlow's threads can be set only once, before it computes
    script = (
        "from threadpoolctl import threadpool_info, threadpool_limits\n"
        "threadpool_limits(limits=2)\n"
        "from inverse_lessons import tf\n"
        "from inverse_lessons.threads import one_thread\n"
        "one_thread()\n"
        "assert all(p['num_threads'] == 1 for p in threadpool_info()), threadpool_info()\n"
        "assert tf.config.threading.get_intra_op_parallelism_threads() == 1\n"
        "assert tf.config.threading.get_inter_op_parallelism_threads() == 1\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]

import matplotlib

matplotlib.use("Agg")  # tests draw figures without a screen


import logging  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def tf_log_messages():
    """The messages TensorFlow's logger emits during the test (a list filled as they come)."""
    from inverse_lessons import tf

    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    tf.get_logger().addHandler(handler)
    yield messages
    tf.get_logger().removeHandler(handler)

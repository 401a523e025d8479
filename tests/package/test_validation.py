"""The declarative parameter checker: each error names the setting, what was expected, and what
was given, as a TypeError for a wrong type and a ValueError for a wrong value."""

import numpy as np
import pytest

from inverse_lessons._validation import (
    Boolean,
    Integer,
    Options,
    Real,
    Satisfies,
    check_params,
)


class Settings:
    def __init__(self, **values):
        self.__dict__.update(values)


TABLE = {
    "steps": [Integer(1)],
    "size": [None, Integer(1, 10)],
    "rate": [Real(0, closed="neither")],
    "share": [Real(0, 1, closed="left")],
    "step": [Options("auto"), Real(0, closed="neither")],
    "flag": [Boolean()],
    "pair": [None, Satisfies(lambda p: p[0] < p[1], "a pair (low, high) with low < high")],
}
GOOD = dict(steps=3, size=None, rate=0.1, share=0.0, step="auto", flag=False, pair=(0, 1))


def test_good_settings_pass_numpy_scalars_included():
    check_params(Settings(**GOOD), TABLE)
    check_params(Settings(**dict(GOOD, steps=np.int64(2), size=10, rate=np.float32(2.0),
                                 share=0.999, step=1e-3, flag=np.bool_(True), pair=None)),
                 TABLE)


@pytest.mark.parametrize("name, value, error, message", [
    ("steps", 0, ValueError, "steps must be an integer >= 1, got 0"),
    ("steps", 2.0, TypeError, "steps must be an integer >= 1, got 2.0"),
    ("steps", True, TypeError, "steps must be an integer >= 1, got True"),
    ("size", 11, ValueError, r"size must be None or an integer in \[1, 10\], got 11"),
    ("size", "big", TypeError, "size must be None or an integer"),
    ("rate", 0.0, ValueError, "rate must be a positive real number, got 0.0"),
    ("rate", np.nan, ValueError, "rate must be a positive real number, got nan"),
    ("rate", np.inf, ValueError, "rate must be a positive real number, got inf"),
    ("rate", "0.1", TypeError, "rate must be a positive real number, got '0.1'"),
    ("share", 1.0, ValueError, r"share must be a real number in \[0, 1\), got 1.0"),
    ("share", -0.1, ValueError, r"share must be a real number in \[0, 1\)"),
    ("step", "fast", ValueError,
     r"step must be one of \('auto',\) or a positive real number, got 'fast'"),
    ("step", -1, ValueError, "step must be one of"),
    ("step", None, TypeError, "step must be one of"),
    ("flag", 1, TypeError, "flag must be True or False, got 1"),
    ("pair", (1, 0), ValueError, r"pair must be None or a pair \(low, high\) with low < high"),
    ("pair", 3, ValueError, "pair must be None or a pair"),
])
def test_each_error_names_the_setting_and_what_was_expected(name, value, error, message):
    with pytest.raises(error, match=message):
        check_params(Settings(**dict(GOOD, **{name: value})), TABLE)


def test_the_first_bad_setting_in_the_table_is_reported():
    with pytest.raises(ValueError, match="^steps must"):
        check_params(Settings(**dict(GOOD, steps=0, rate=0.0)), TABLE)

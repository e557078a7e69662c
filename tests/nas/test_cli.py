import argparse

import pytest

from nas.cli import (
    available_cpus,
    cpu_threads,
    multiple_of_8,
    nonnegative_float,
    positive_float,
    positive_int,
    seed_int,
)


@pytest.mark.parametrize(
    "convert, text, expected",
    [
        (positive_int, "3", 3),
        (multiple_of_8, "64", 64),
        (cpu_threads, "1", 1),
        (seed_int, "0", 0),
        (seed_int, str(2**32 - 1), 2**32 - 1),
        (positive_float, "0.5", 0.5),
        (nonnegative_float, "0", 0.0),
    ],
)
def test_good_values_convert(convert, text, expected):
    assert convert(text) == expected


@pytest.mark.parametrize(
    "convert, text, message",
    [
        (positive_int, "0", "at least 1"),
        (positive_int, "x", "expected a positive integer"),
        (multiple_of_8, "12", "multiple of 8"),
        (cpu_threads, "0", "at least 1"),
        (cpu_threads, str(available_cpus() + 1), "this process may use"),
        (seed_int, "-1", "between 0"),
        (seed_int, str(2**32), "between 0"),
        (positive_float, "0", "positive"),
        (positive_float, "nan", "finite"),
        (nonnegative_float, "-0.5", "0 or more"),
        (nonnegative_float, "inf", "finite"),
    ],
)
def test_bad_values_name_the_problem(convert, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        convert(text)

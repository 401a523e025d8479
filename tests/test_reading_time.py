"""The reading time a chapter's opening states is measured, not guessed.

About 150 words of prose and 8 lines of shown code a minute (issue 22), counted as
``tools/page_metrics.py`` counts them, rounded to 5 minutes. Chapters join ``MEASURED``
once their opening states a measured time.
"""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("page_metrics", ROOT / "tools" / "page_metrics.py")
page_metrics = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(page_metrics)

MEASURED = ["01_toy_inverse_problem", "02_training_through_the_inversion",
            "03_digits_as_an_inverse_problem", "06_missing_pixels_and_noise",
            "06_2_what_each_change_buys", "06_3_the_reconstruction_term",
            "04_training_the_generative_model",
            "04_2_a_richer_model_and_where_it_stands",
            "05_differentiating_through_a_solver", "07_nonlinear_generators",
            "07_2_where_a_nonlinear_generator_stands", "08_analysis_by_synthesis",
            "08_2_against_tuned_baselines", "08_3_fine_tuning_and_an_adversary"]
STATED = re.compile(r"\*\*Reading\*\* about (\d+) minutes")


def reading_minutes(metrics):
    """Prose words / 150 + shown code lines / 8, to the nearest 5 minutes."""
    minutes = metrics["prose words"] / 150 + metrics["visible code lines"] / 8
    return 5 * round(minutes / 5)


def test_reading_minutes_rounds_to_five():
    assert reading_minutes({"prose words": 1500, "visible code lines": 160}) == 30
    assert reading_minutes({"prose words": 600, "visible code lines": 16}) == 5
    assert reading_minutes({"prose words": 1800, "visible code lines": 80}) == 20


@pytest.mark.parametrize("stem", MEASURED)
def test_the_stated_reading_time_is_measured(stem):
    notebook = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())
    opening = "".join(notebook["cells"][0]["source"])
    stated = STATED.search(opening)
    assert stated, "the opening states '**Reading** about N minutes'"
    assert int(stated.group(1)) == reading_minutes(page_metrics.metrics(notebook))

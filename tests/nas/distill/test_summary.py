import numpy as np
import pandas as pd
from scipy import stats

from nas.distill.summary import format_summary, summarize_seeds


def per_seed_table(step4_minus_control):
    """Per-seed ablation rows where step 4 beats control 4 by the given amounts (dB)."""
    rows = []
    for seed, gain in enumerate(step4_minus_control):
        control = 40.0 + seed  # seeds differ a lot; the pairing removes it
        for step, network, psnr in (
            ("step 1", "siamese", control - 0.5),
            ("control 4", "siamese", control),
            ("step 4", "siamese (deliverable)", control + gain),
        ):
            rows.append(
                {
                    "seed": seed,
                    "step": step,
                    "network": network,
                    "psnr": psnr,
                    "psnr_x8": psnr + 0.1,
                }
            )
    return pd.DataFrame(rows)


def headline(summary, metric="psnr"):
    rows = summary[
        (summary["kind"] == "paired difference")
        & (summary["step"] == "step 4 - control 4")
        & (summary["metric"] == metric)
    ]
    assert len(rows) == 1
    return rows.iloc[0]


def test_paired_difference_has_the_t_interval_of_a_paired_test():
    gains = [0.10, 0.14, 0.12]
    table = per_seed_table(gains)
    row = headline(summarize_seeds(table))
    step4 = table[table["step"] == "step 4"]["psnr"].to_numpy()
    control = table[table["step"] == "control 4"]["psnr"].to_numpy()
    interval = stats.ttest_rel(step4, control).confidence_interval(0.95)
    assert row["n"] == 3
    assert np.isclose(row["mean"], np.mean(gains)) and np.isclose(row["std"], np.std(gains, ddof=1))
    assert np.isclose(row["ci95_low"], interval.low) and np.isclose(row["ci95_high"], interval.high)
    assert row["distinguishable_from_zero"]


def test_a_gain_within_the_noise_is_not_distinguishable_from_zero():
    summary = summarize_seeds(per_seed_table([0.2, -0.1, 0.05]))
    row = headline(summary, "psnr_x8")
    assert row["ci95_low"] < 0 < row["ci95_high"] and not row["distinguishable_from_zero"]
    printed = format_summary(summary)
    assert "not distinguishable from zero" in printed and "± " in printed


def test_rows_are_mean_and_std_across_seeds():
    summary = summarize_seeds(per_seed_table([0.1, 0.2, 0.3]))
    rows = summary[summary["kind"] == "row"].set_index(["step", "metric"])
    assert np.isclose(rows.loc[("control 4", "psnr"), "mean"], 41.0)
    assert np.isclose(rows.loc[("control 4", "psnr"), "std"], 1.0)
    assert rows["ci95_low"].isna().all()


def test_one_seed_gives_no_interval():
    row = headline(summarize_seeds(per_seed_table([0.1])))
    assert row["n"] == 1 and np.isnan(row["ci95_low"]) and pd.isna(row["distinguishable_from_zero"])
    assert "no interval" in format_summary(summarize_seeds(per_seed_table([0.1])))


def test_the_x8_entries_name_their_ensemble_protocol():
    table = per_seed_table([0.2, 0.3, 0.1])
    assert summarize_seeds(table)["x8_protocol"].isna().all()  # rows that do not record it
    table["x8_protocol"] = "paper"
    summary = summarize_seeds(table)
    x8 = summary["metric"] == "psnr_x8"
    assert (summary.loc[x8, "x8_protocol"] == "paper").all()
    assert summary.loc[~x8, "x8_protocol"].isna().all()
    assert "psnr_x8 (paper)" in format_summary(summary)


def test_the_summary_records_the_unlabeled_setting():
    table = per_seed_table([0.1, 0.2, 0.3])
    table["unlabeled"] = "disjoint"
    table["unlabeled_source"] = "synthetic-unseen"
    summary = summarize_seeds(table)
    assert set(summary["unlabeled"]) == {"disjoint (synthetic-unseen)"}
    assert format_summary(summary).splitlines()[0] == (
        "unlabeled inputs: disjoint (synthetic-unseen)"
    )

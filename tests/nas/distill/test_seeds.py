import pandas as pd
import pytest

from nas.distill import __main__ as distill
from nas.data import training_sampler
from nas.data.samplers import CropSampler
from nas.distill import pipeline
from nas.distill.pipeline import MixedSampler

from .test_distill import TRAINED, tiny_argv


class Interrupted(Exception):
    pass


class Served:
    """Serves batches of ``sampler`` and counts them; raises after ``dies_after`` (a run killed
    inside a stage)."""

    def __init__(self, sampler, dies_after=None):
        self.sampler, self.dies_after, self.batches = sampler, dies_after, 0

    def sample(self, *args):
        if self.batches == self.dies_after:
            raise Interrupted()
        self.batches += 1
        return self.sampler.sample(*args)


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """Seeds 5 and 6, killed inside seed 6's step 3 (Siamese), then resumed. Returns the folder,
    the stages trained by the resumed run with the batches each drew, and the final.pt files
    that existed before the resume with their modification times."""
    tmp_path = tmp_path_factory.mktemp("seeds")
    out = tmp_path / "distill"
    argv = tiny_argv(tmp_path, out, "--seeds", "2", "--seed", "5")
    real_train, trained, kill_in = pipeline.train_network, {}, ["seed_6/step3_siamese"]

    def train_network(spec, sampler, val, folder, config, **kwargs):
        stage = f"{folder.parent.name}/{folder.name}"
        trained[stage] = Served(sampler, dies_after=2 if stage in kill_in else None)
        if stage in kill_in:  # killed in step 3 of 3, after the step-2 checkpoint
            kill_in.remove(stage)
        return real_train(spec, trained[stage], val, folder, config, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "train_network", train_network)
        with pytest.raises(Interrupted):
            distill.main(argv)
        assert (
            len(trained) == 8 + 4 and not (out / "seed_6" / "step3_siamese" / "final.pt").exists()
        )
        finished = {path: path.stat().st_mtime_ns for path in out.glob("seed_*/*/final.pt")}
        trained.clear()
        distill.main([*argv, "--resume"])
    return tmp_path, out, trained, finished


def test_each_seed_resumes_on_its_own(killed_and_resumed):
    tmp_path, out, trained, finished = killed_and_resumed
    assert len(finished) == 8 + 3  # seed 5 whole; seed 6's step 1 and step 3 of the original
    # Only seed 6's unfinished stages train, and the interrupted one continues from its checkpoint.
    assert {stage: served.batches for stage, served in trained.items()} == {
        "seed_6/step3_siamese": 1,
        "seed_6/step4_siamese": 3,
        "seed_6/control3_original": 3,
        "seed_6/control3_siamese": 3,
        "seed_6/control4_siamese": 3,
    }
    assert all(path.stat().st_mtime_ns == stamp for path, stamp in finished.items())
    # The controls train on the labelled pairs only; steps 3 and 4 on pseudo-labels.
    data = {stage: type(served.sampler) for stage, served in trained.items()}
    assert (
        data["seed_6/step3_siamese"] is MixedSampler and data["seed_6/step4_siamese"] is CropSampler
    )
    assert {
        data[f"seed_6/{c}"] for c in ("control3_original", "control3_siamese", "control4_siamese")
    } == {type(training_sampler("synthetic"))}
    # The resumed seed gives what a single-seed run with that seed gives.
    distill.main(tiny_argv(tmp_path, tmp_path / "single", "--seed", "6"))
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "seed_6" / "ablation.csv"),
        pd.read_csv(tmp_path / "single" / "ablation.csv"),
    )


def test_seeds_write_one_pipeline_folder_each_and_a_summary(killed_and_resumed):
    _, out, _, _ = killed_and_resumed
    for seed in (5, 6):
        for stage in TRAINED:
            assert (out / f"seed_{seed}" / stage / "final.pt").is_file(), (seed, stage)
    table = pd.read_csv(out / "ablation.csv")
    assert sorted(set(table["seed"])) == [5, 6] and len(table) == 18
    for seed in (5, 6):
        pd.testing.assert_frame_equal(
            pd.read_csv(out / f"seed_{seed}" / "ablation.csv"),
            table[table["seed"] == seed].reset_index(drop=True),
        )
    assert not table[table["seed"] == 5]["psnr"].equals(
        table[table["seed"] == 6]["psnr"].reset_index(drop=True)
    )
    summary = pd.read_csv(out / "ablation_summary.csv")
    headline = summary[
        (summary["kind"] == "paired difference") & (summary["step"] == "step 4 - control 4")
    ]
    assert list(headline["metric"]) == ["psnr", "psnr_x8"] and (headline["n"] == 2).all()
    assert (
        headline["ci95_low"].lt(headline["mean"]).all()
        and headline["ci95_high"].gt(headline["mean"]).all()
    )


def test_seeds_must_be_positive(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        distill.main(tiny_argv(tmp_path, tmp_path / "distill", "--seeds", "0"))
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "error: --seeds must be at least 1, got 0"

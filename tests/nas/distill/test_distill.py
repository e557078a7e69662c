import numpy as np
import pandas as pd

from nas.distill import __main__ as distill

from ..train.test_train import COMMON, tiny_spec_file


def test_tiny_distillation_runs_all_four_stages(tmp_path, capsys):
    original = tiny_spec_file(tmp_path / "original.json", "residual")
    siamese = tiny_spec_file(tmp_path / "siamese.json", "rcab")
    out = tmp_path / "distill"
    argv = ["--original", str(original), "--siamese", str(siamese), "--steps", "2", "--finetune-steps", "2",
            "--val-every", "2", "--unlabeled-blocks", "4", "--unlabeled-size", "32", "--out", str(out), *COMMON]
    distill.main(argv)
    for stage in ("step1_original", "step1_siamese", "step3_original", "step3_siamese", "step4_siamese"):
        assert (out / stage / "final.pt").is_file(), stage
    table = pd.read_csv(out / "ablation.csv")
    assert list(table["step"]) == ["step 1", "step 1", "step 2", "step 3", "step 3", "step 4"]
    assert table["psnr"].notna().all() and table["psnr_x8"].notna().all()
    assert not table["validation_pseudo_labelled"].any()
    printed = capsys.readouterr().out
    assert "step 4" in printed and "ablation.csv" in printed
    # Every stage is done: a resumed run retrains nothing and gives the same table.
    stamp = (out / "step4_siamese" / "final.pt").stat().st_mtime_ns
    distill.main([*argv, "--resume"])
    assert (out / "step4_siamese" / "final.pt").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(pd.read_csv(out / "ablation.csv"), table)


def test_pseudo_labels_follow_their_inputs(tmp_path):
    original = tiny_spec_file(tmp_path / "original.json", "residual")
    siamese = tiny_spec_file(tmp_path / "siamese.json", "rcab")
    out = tmp_path / "distill"
    argv = ["--original", str(original), "--siamese", str(siamese), "--steps", "2", "--finetune-steps", "2",
            "--val-every", "2", "--unlabeled-size", "32", "--out", str(out), *COMMON]
    distill.main([*argv, "--unlabeled-blocks", "4"])
    distill.main([*argv, "--unlabeled-blocks", "2", "--resume"])     # other inputs: labels made anew
    for name in ("step2_pseudo_labels.npz", "step4_targets.npz"):
        with np.load(out / name, allow_pickle=False) as labels:
            assert len(labels["noisy"]) == 2, name

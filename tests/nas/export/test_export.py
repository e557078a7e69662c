import json
from pathlib import Path

import pytest
import torch

from models import build_model, mwrcanet_paper_spec, read_state_dict
from nas.export import __main__ as export
from nas.export.exporter import export_model
from nas.search.best import ResultError, read_result

from ..helpers import tiny_space

REPO = Path(__file__).resolve().parents[3]
REFERENCE = REPO / "tests" / "data" / "mwrcanet_official_state_dict.tsv"


def write_best(path, space, genome, pareto=None):
    from nas.search.genome import GenomeCodec

    codec = GenomeCodec(space)
    data = {
        "key": codec.key(genome),
        "genome": genome,
        "spec": codec.decode(genome).to_dict(),
        "metrics": {"psnr": 40.0, "ssim": 0.9, "params": 1, "gflops": 1.0, "status": "ok"},
        "space": space.to_dict(),
        "seed": 0,
        "run": "runs/test",
    }
    if pareto is not None:
        data["pareto"] = pareto
    path.write_text(json.dumps(data))
    return path


def tiny_genome():
    return [2, 1, 0, 1, 1, 1, 0, 0, 2, 2, 0, 0, 0]  # widths 64/64/64 at full width


def test_export_round_trips_every_format(tmp_path):
    import onnxruntime  # noqa: F401  (in the test extra: a broken install must fail, not skip)

    space = tiny_space(widths={"level1": [16], "level2": [16], "level3": [32]})
    best = write_best(tmp_path / "best.json", space, tiny_genome())
    info = export_model(read_result(best), tmp_path / "out", formats=("pt", "torchscript", "onnx"))
    assert set(info["files"]) == {"pt", "torchscript", "onnx"}
    assert all(diff <= 1e-4 for diff in info["max_abs_diff"].values())
    saved = torch.load(tmp_path / "out" / "model.pt", weights_only=True)
    assert saved["spec"]["widths"] == [16, 16, 32]
    scripted = torch.jit.load(str(tmp_path / "out" / "model.torchscript.pt"))
    model = build_model(read_result(best)["spec"])
    model.load_state_dict(read_state_dict(tmp_path / "out" / "model.pt"))
    x = torch.rand(2, 1, 32, 48)  # another size than the trace's
    torch.testing.assert_close(scripted(x), model.eval()(x), rtol=0, atol=1e-5)
    session = onnxruntime.InferenceSession(
        str(tmp_path / "out" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    onnx_out = torch.from_numpy(session.run(None, {"noisy": x.numpy()})[0])
    torch.testing.assert_close(onnx_out, model(x), rtol=0, atol=1e-4)
    meta = json.loads((tmp_path / "out" / "model.json").read_text())
    assert meta["params"] > 0 and meta["gflops_256"] > 0 and meta["genome"] == tiny_genome()


def test_a_failing_format_replaces_none_of_an_earlier_export(tmp_path, monkeypatch):
    import onnxruntime  # noqa: F401  (in the test extra: a broken install must fail, not skip)

    space = tiny_space(widths={"level1": [16], "level2": [16], "level3": [32]})
    export_model(
        read_result(write_best(tmp_path / "a.json", space, tiny_genome())), tmp_path / "out"
    )
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch.onnx, "export", disk_full)
    other = tiny_genome()[:-3] + [0, 0, 0]
    other[0] = 0  # another architecture
    with pytest.raises(OSError):
        export_model(
            read_result(write_best(tmp_path / "b.json", space, other)),
            tmp_path / "out",
            formats=("pt", "torchscript", "onnx"),
        )
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before


def test_paper_genome_exports_the_released_network(tmp_path, capsys):
    export.main(
        [
            str(REPO / "search_spaces" / "mwrcanet_paper.json"),
            "--out",
            str(tmp_path),
            "--format",
            "pt",
        ]
    )
    state = read_state_dict(tmp_path / "model.pt")
    expected = build_model(mwrcanet_paper_spec(), device="meta").state_dict()
    assert list(state) == list(expected)
    assert all(state[k].shape == v.shape for k, v in expected.items())
    rows = [
        line.split("\t")
        for line in REFERENCE.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert [k for k, _, _ in rows] == list(state)
    assert {k: "x".join(map(str, state[k].shape)) for k, _, _ in rows} == {k: s for k, s, _ in rows}
    out = capsys.readouterr().out
    assert "mwrcanet_paper" in out and "27215965" in out.replace(",", "")


def test_pareto_pick_and_gflops_rule(tmp_path):
    space = tiny_space(objectives=["psnr", "gflops"], evolution={"selection": "nsga2"})
    members = [
        {
            "key": "a",
            "genome": [2, 1] * 5 + [0, 0, 0],
            "metrics": {"psnr": 40.0, "gflops": 10.0, "status": "ok", "ssim": 0.9, "params": 1},
        },
        {
            "key": "b",
            "genome": [2, 2] * 5 + [1, 1, 1],
            "metrics": {"psnr": 41.0, "gflops": 50.0, "status": "ok", "ssim": 0.9, "params": 1},
        },
    ]
    best = write_best(tmp_path / "best.json", space, members[1]["genome"], pareto=members)
    assert read_result(best, pick=0)["genome"] == members[0]["genome"]
    assert read_result(best, max_gflops=20)["genome"] == members[0]["genome"]
    assert read_result(best, max_gflops=100)["genome"] == members[1]["genome"]
    with pytest.raises(ResultError, match="no Pareto member fits"):
        read_result(best, max_gflops=1)
    with pytest.raises(ResultError, match="has 2 members"):
        read_result(best, pick=5)


@pytest.mark.parametrize(
    "pareto",
    [7, [1, 2], [{"genome": [0] * 13}], [{"genome": [0] * 13, "metrics": {"status": "ok"}}]],
)
@pytest.mark.parametrize("choice", [{"pick": 0}, {"max_gflops": 5.0}])
def test_a_malformed_pareto_set_is_a_result_error(tmp_path, pareto, choice):
    space = tiny_space(objectives=["psnr", "gflops"], evolution={"selection": "nsga2"})
    best = write_best(tmp_path / "best.json", space, tiny_genome(), pareto=pareto)
    with pytest.raises(ResultError, match="'pareto' is malformed"):
        read_result(best, **choice)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "invalid JSON"),
        ('{"foo": 1}', "expected a run's best.json or a genome file"),
        ('{"genome": [0, 1]}', "no 'space'"),
        ('{"genome": [0, 1], "space": "rcab_dense.yaml"}', "expected a list of 13"),
        (
            '{"genome": [2,20,2,20,2,20,2,20,2,20,1,2,1], "space": "rcab_dense.yaml", '
            '"spec": {"widths": [8,8,8], "groups": []}}',
            "groups",
        ),
    ],
)
def test_bad_genome_files_one_line_errors(tmp_path, content, message, capsys):
    bad = tmp_path / "genome.json"
    bad.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        export.main([str(bad), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and message in err[0]
    assert not (tmp_path / "out" / "model.pt").exists()


def test_genome_and_spec_must_agree(tmp_path):
    space = tiny_space()
    best = write_best(tmp_path / "best.json", space, tiny_genome())
    data = json.loads(best.read_text())
    data["spec"]["widths"] = [128, 128, 256]
    best.write_text(json.dumps(data))
    with pytest.raises(ResultError, match="genome decodes to"):
        read_result(best)


def test_exported_model_json_is_an_arch_argument(tmp_path):
    from nas.arch import resolve_arch

    space = tiny_space(widths={"level1": [16], "level2": [16], "level3": [32]})
    result = read_result(write_best(tmp_path / "best.json", space, tiny_genome()))
    export_model(result, tmp_path / "out", formats=("pt",))
    spec, state = resolve_arch(str(tmp_path / "out" / "model.json"))
    assert state is None and spec.to_dict() == result["spec"].to_dict()
    again = read_result(tmp_path / "out" / "model.json")  # the space travels: the genome is checked
    assert again["genome"] == tiny_genome() and again["key"] == result["key"]


def test_a_genome_without_a_space_is_not_vouched_for(tmp_path):
    # An older model.json: genome and spec, no space. The spec is the network; the unchecked
    # genome is dropped.
    space = tiny_space(widths={"level1": [16], "level2": [16], "level3": [32]})
    data = json.loads(write_best(tmp_path / "best.json", space, tiny_genome()).read_text())
    del data["space"]
    data["genome"] = "garbage"
    (tmp_path / "old.json").write_text(json.dumps(data))
    result = read_result(tmp_path / "old.json")
    assert result["genome"] is None and result["spec"].to_dict()["widths"] == [16, 16, 32]

import pytest
import yaml

from nas.search.space import SpaceError, bundled_space, load_space, parse_space


def base():
    """The bundled space as a file would state it: its length as generations only."""
    data = load_space("rcab_dense.yaml").to_dict()
    data["evolution"]["trainings"] = None
    return data


def test_bundled_space_loads_by_name_and_contains_the_paper_point():
    space = load_space("rcab_dense.yaml")
    assert "rcab" in space.blocks and space.blocks_per_group.max >= 20
    assert 96 in space.widths.level1 and 128 in space.widths.level2 and 128 in space.widths.level3


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(colour="blue"), "colour: unknown key"),
        (
            lambda d: d["evolution"].update(population="many"),
            "evolution.population: Input should be a valid integer",
        ),
        (
            lambda d: d["widths"].update(level2=[]),
            "widths.level2: List should have at least 1 item",
        ),
        (lambda d: d.update(blocks=[]), "blocks: List should have at least 1 item"),
        (
            lambda d: d.update(blocks_per_group={"min": 5, "max": 2}),
            "blocks_per_group: range reversed",
        ),
        (lambda d: d.update(blocks=["rcab", "transformer"]), "blocks.1"),
        (lambda d: d["budget"].update(patch_size=30), "budget.patch_size"),
        (lambda d: d["evolution"].update(selection="nsga2"), "nsga2 needs two objectives"),
        (
            lambda d: (
                d.update(objectives=["psnr", "gflops"])
                or d["evolution"].update(selection="tournament")
            ),
            "evolution.selection: tournament optimises one objective",
        ),
        (
            lambda d: (
                d.update(objectives=["psnr", "params"]),
                d["evolution"].update(selection="aging"),
            ),
            "evolution.selection: aging optimises one objective",
        ),
        (
            lambda d: d["evolution"].update(elitism=8),
            "evolution: elitism: must be below the population",
        ),
        (lambda d: d["evolution"].update(offspring=9), "offspring: at most the population"),
        (
            lambda d: d["budget"].update(rungs=[0.5, 1.0]),
            "rungs: fractions strictly between 0 and 1",
        ),
        (
            lambda d: d["budget"].update(steps=300, warmup_steps=300),
            "budget: warmup_steps: must be below steps (300)",
        ),
        (lambda d: d["budget"].update(warmup_steps=-1), "budget.warmup_steps"),
        (
            lambda d: d["constraints"].update(max_gflops=0.001),
            "constraints.max_gflops: no genome can meet",
        ),
        (
            lambda d: d["constraints"].update(max_params=100),
            "constraints.max_params: no genome can meet",
        ),
    ],
)
def test_bad_spaces_name_field_and_problem(mutate, message):
    data = base()
    mutate(data)
    with pytest.raises(SpaceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_space(data)


def test_malformed_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nblocks: [rcab\n")
    with pytest.raises(SpaceError, match="malformed YAML at line"):
        load_space(bad)
    with pytest.raises(SpaceError, match="search space not found"):
        load_space(tmp_path / "absent.yaml")
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42")
    with pytest.raises(SpaceError, match="expected a mapping"):
        load_space(scalar)


def test_binary_file_is_a_space_error(tmp_path):
    binary = tmp_path / "weights.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(SpaceError, match="not a text file"):
        load_space(binary)


def test_bundled_spaces_come_from_the_package_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_space("rcab_dense.yaml").name == "rcab_dense"
    with pytest.raises(SpaceError, match="bundled spaces: rcab_dense.yaml"):
        load_space("rcab_dens.yaml")


def test_each_scheme_proposes_its_number_of_children():
    space = load_space("rcab_dense.yaml")
    assert space.evolution.selection == "guided" and space.evolution.children() == 2
    tournament = space.with_overrides(evolution={"selection": "tournament"})
    assert tournament.evolution.children() == space.evolution.population
    aging = space.with_overrides(evolution={"selection": "aging", "population": 8})
    assert aging.evolution.children() == 2
    assert space.with_overrides(evolution={"offspring": 3}).evolution.children() == 3


def test_overrides_are_validated():
    space = load_space("rcab_dense.yaml")
    assert space.with_overrides(evolution={"population": 3}).evolution.population == 3
    with pytest.raises(SpaceError, match="evolution.population"):
        space.with_overrides(evolution={"population": 0})


def test_feasible_constraint_is_accepted(tmp_path):
    data = base()
    data["constraints"]["max_gflops"] = 50
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_space(path).constraints.max_gflops == 50


def test_srgb_space_defaults_to_synthetic_srgb_and_refuses_raw_data():
    bundled = load_space("rcab_dense_srgb.yaml")
    assert bundled.in_channels == 3 and bundled.budget.data == "synthetic-srgb"
    data = load_space("rcab_dense.yaml").to_dict()
    data["in_channels"] = 3
    del data["budget"]["data"]
    assert parse_space(data).budget.data == "synthetic-srgb"
    data["budget"]["val_data"] = "synthetic"
    with pytest.raises(
        SpaceError,
        match=r"^space: budget.val_data: synthetic holds raw mosaics \(1 channel\) but "
        r"in_channels is 3",
    ):
        parse_space(data)


def test_srgb_genome_decodes_to_a_3_channel_spec():
    import random
    from nas.search.genome import GenomeCodec

    codec = GenomeCodec(load_space("rcab_dense_srgb.yaml"))
    assert codec.decode(codec.random_genome(random.Random(0))).in_channels == 3


def test_a_space_without_budget_or_evolution_gets_rcab_dense_values(tmp_path):
    bundled = yaml.safe_load(bundled_space("rcab_dense.yaml").read_text())
    data = {k: v for k, v in bundled.items() if k not in ("budget", "evolution")}
    path = tmp_path / "bare.yaml"
    path.write_text(yaml.safe_dump(data))
    space = load_space(path)
    for section in ("budget", "evolution"):  # every value the bundled file states
        assert {k: space.to_dict()[section][k] for k in bundled[section]} == bundled[section]
    assert space.budget == load_space("rcab_dense.yaml").budget
    assert space.evolution == load_space("rcab_dense.yaml").evolution


def test_a_budget_without_warm_up_warms_up_a_tenth_of_its_steps():
    data = base()
    del data["budget"]["warmup_steps"]
    assert parse_space(data).budget.warmup_steps == 15
    data["budget"]["steps"] = 6
    assert parse_space(data).budget.warmup_steps == 0
    data["budget"]["warmup_steps"] = 2
    assert parse_space(data).budget.warmup_steps == 2


def test_a_stored_space_parses_back_to_itself():
    """checkpoint.json stores space.to_dict(): every field, explicitly."""
    for name in ("rcab_dense.yaml", "rcab_dense_srgb.yaml"):
        space = load_space(name)
        assert parse_space(space.to_dict()) == space
        assert set(space.to_dict()["budget"]) == set(
            yaml.safe_load(bundled_space(name).read_text())["budget"]
        ) | {"amp", "channels_last", "cuda_graphs", "device_batches", "sync_every"}


def test_the_smallest_architecture_is_the_genome_codecs():
    from nas.search.genome import GenomeCodec

    for blocks in (["residual", "dense", "rcab"], ["rcab", "dense"], ["dense"]):
        data = base()
        data.update(blocks=blocks, blocks_per_group={"min": 1, "max": 3})
        space = parse_space(data)
        assert space.smallest_cost() == GenomeCodec(space).smallest_cost()


def test_a_constrained_space_loads_without_the_genome_codec():
    import subprocess
    import sys

    code = (
        "import sys; from nas.search.space import load_space; from nas.search import space; "
        "s = load_space('rcab_dense.yaml'); "
        "space.parse_space({**s.to_dict(), 'constraints': {'max_gflops': 50}}); "
        "print('nas.search.genome' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_count_of_trainings_sets_each_schemes_generations():
    space = load_space("rcab_dense.yaml")
    assert (space.evolution.trainings, space.evolution.generations) == (24, 9)  # steps of 2
    lengths = {
        scheme: space.with_overrides(evolution={"selection": scheme}).evolution
        for scheme in ("tournament", "aging", "random")
    }
    assert {s: (e.generations, e.trainings) for s, e in lengths.items()} == {
        "tournament": (3, 24),
        "aging": (18, 24),
        "random": (3, 24),
    }
    smaller = space.with_overrides(evolution={"population": 3})
    assert (smaller.evolution.generations, smaller.evolution.trainings) == (10, 23)  # whole steps


def test_given_generations_set_the_count_of_trainings_and_both_must_agree():
    space = load_space("rcab_dense.yaml")
    longer = space.with_overrides(evolution={"generations": 40})
    assert longer.evolution.trainings == 6 + 40 * 2
    data = base()
    data["evolution"].update(selection="tournament", generations=4)
    stated = parse_space(data)
    assert stated.evolution.trainings == 30
    # a space stating generations keeps them when its scheme or population changes
    assert stated.with_overrides(evolution={"population": 4}).evolution.generations == 4
    data["evolution"]["trainings"] = 24
    with pytest.raises(SpaceError, match="trainings: 24 disagree with population 6 .* give one"):
        parse_space(data)


def test_too_few_trainings_for_a_generation_are_refused():
    space = load_space("rcab_dense.yaml")
    with pytest.raises(SpaceError, match="trainings: 7 leave no generation .* at least 8"):
        space.with_overrides(evolution={"trainings": 7})
    with pytest.raises(SpaceError, match="leave no generation after the initial population of 20"):
        space.with_overrides(evolution={"population": 20, "selection": "tournament"})
    assert space.with_overrides(evolution={"trainings": 6}).evolution.generations == 0

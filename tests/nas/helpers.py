"""Small real search spaces for tests (tiny proxy budgets, not mocks)."""

import pytest
import yaml

from nas.search.space import load_space, parse_space

TINY_BUDGET = {
    "width_multiplier": 0.05,
    "patch_size": 16,
    "batch_size": 2,
    "steps": 2,
    "lr": 0.002,
    "val_blocks": 2,
    "val_block_size": 16,
    "data": "synthetic",
    "val_data": None,
}


def tiny_space(**changes):
    data = load_space("rcab_dense.yaml").to_dict()
    data["blocks_per_group"] = {"min": 0, "max": 2}
    data["budget"] = dict(TINY_BUDGET)
    data["evolution"].update(population=4, generations=1, trainings=None)
    for section, values in changes.items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section].update(values)
        else:
            data[section] = values
    return parse_space(data)


def write_space(path, space):
    path.write_text(yaml.safe_dump(space.to_dict()))
    return path


def run_cli(main, argv, capsys):
    """(exit code, stderr lines) of a command that must exit."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err.strip().splitlines()

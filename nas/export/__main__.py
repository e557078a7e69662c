"""Export a search result as a full-width network: state dict + spec, TorchScript, ONNX.

python -m nas.export runs/NAME/best.json
python -m nas.export runs/NAME/best.json --pick 2              # member 2 of the Pareto set
python -m nas.export runs/NAME/best.json --max-gflops 100      # best PSNR under 100 GFLOPs
python -m nas.export search_spaces/mwrcanet_paper.json         # exactly the released network
"""

from __future__ import annotations

import argparse

from ..cli import CommandParser, cli_main, defaults_of, user_error
from ..search.best import ResultError
from .exporter import FORMATS
from .run import export

user_error(ResultError)  # ExportError is a UserError
DEFAULTS = defaults_of(export)


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser("python -m nas.export", __doc__)
    p.add_argument(
        "genome",
        help="a run's best.json, or a genome file such as search_spaces/mwrcanet_paper.json",
    )
    p.add_argument("--out", help="output folder (default: export-<key> beside the genome file)")
    p.add_argument(
        "--format",
        nargs="+",
        choices=FORMATS,
        default=list(DEFAULTS["formats"]),
        help=f"formats to write (default: {' '.join(DEFAULTS['formats'])})",
    )
    p.add_argument("--pick", type=int, help="export member N (0-based) of the Pareto set")
    p.add_argument(
        "--max-gflops", type=float, help="export the best-PSNR Pareto member under this many GFLOPs"
    )
    p.add_argument("--weights", help="trained weights to export (default: freshly initialised)")
    return p


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    result = export(
        args.genome,
        args.out,
        pick=args.pick,
        max_gflops=args.max_gflops,
        formats=args.format,
        weights=args.weights,
    )
    print(result.comparison.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    for fmt, path in result.files.items():
        print(f"{fmt:12s} {path}   max abs diff vs eager {result.max_abs_diff[fmt]:.2e}")
    print(f"model.json   {result.model_json}")


if __name__ == "__main__":
    main()

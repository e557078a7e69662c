import pytest

from nas.errors import DataError, UserError, first_line


def test_first_line_is_the_first_non_blank_line_or_the_type_name():
    assert first_line(ValueError("\n  bad value  \nmore detail")) == "bad value"
    assert first_line(ValueError("   ")) == "ValueError"
    assert first_line(RuntimeError(b"LibRaw: unsupported file\nx")) == "LibRaw: unsupported file"


def test_every_user_facing_error_derives_from_one_base():
    from models import SpecError, WeightsError
    from nas.arch import ArchError
    from nas.cli import UsageError
    from nas.data import DataError as ExportedDataError
    from nas.data.bayer import PatternError
    from nas.device import DeviceError
    from nas.export.exporter import ExportError
    from nas.inference import TilingError

    assert ExportedDataError is DataError
    for error in (
        SpecError,
        WeightsError,
        ArchError,
        UsageError,
        DataError,
        PatternError,
        DeviceError,
        ExportError,
        TilingError,
    ):
        assert issubclass(error, UserError) and issubclass(error, ValueError), error


def test_the_command_lines_report_any_user_error_in_one_line(capsys):
    from nas.cli import cli_main

    class NewKindOfBadInput(UserError):
        pass

    @cli_main
    def main(argv=None):
        raise NewKindOfBadInput("the input is wrong\nTraceback-like detail")

    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: the input is wrong\n"

"""The command line imports only the chosen command's module; the table of commands and the
modules that register them agree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiseki.cli import COMMANDS, build_parser, main
from kiseki.core.store import StoreConfig
from kiseki.stack.workdir import DEFAULT_WORKDIR, embedded_store_url

REPO = Path(__file__).resolve().parents[3]
HEAVY = ("kiseki.stack.stack", "matplotlib", "nltk", "scipy", "torch", "kiseki.cli.up_cmd")


def _modules_after(argv: list[str]) -> set[str]:
    """The modules a fresh interpreter holds after running the CLI with `argv`."""
    script = (
        "import json, sys\n"
        "from kiseki.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": f"{REPO / 'services'}:{REPO / 'tools'}"},
        timeout=120,
        check=True,
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.parametrize("argv", [["--help"], ["runs", "--store", "chdb:/nonexistent"]])
def test_a_command_does_not_import_the_others(argv: list[str]) -> None:
    loaded = _modules_after(argv)
    assert not [name for name in HEAVY if name in loaded]
    other_commands = {module for module, _ in COMMANDS.values()} - {"kiseki.cli.runs_cmd"}
    assert not other_commands & loaded


def test_every_listed_command_is_registered_by_its_module() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert set(subparsers.choices) == set(COMMANDS)  # type: ignore[arg-type]
    for name, (module, _) in COMMANDS.items():
        chosen = build_parser([name])
        sub = next(a for a in chosen._actions if a.dest == "command")
        defaults = sub.choices[name]._defaults  # type: ignore[index]
        assert "func" in defaults or sub.choices[name]._subparsers, (name, module)  # type: ignore[index]


def test_comet_model_option_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps({"metric": "comet_wmt22", "pairs": [["a", "b", "c"]]}))
    code = main(["metrics", "score", str(pairs), "--comet-model", str(tmp_path / "model")])
    assert code == 2
    assert "unbabel-comet" in capsys.readouterr().err


def test_an_unknown_command_is_refused_with_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2
    assert "'sql'" in capsys.readouterr().err  # the choices named, from the table


def test_a_service_alone_and_the_commands_default_to_the_same_store() -> None:
    assert StoreConfig().url == embedded_store_url(DEFAULT_WORKDIR)

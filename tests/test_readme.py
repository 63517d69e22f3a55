"""The README's settings table and command lines against the settings table the CLIs are made of."""

from __future__ import annotations

import os
import re
import shlex

import pytest

import kubeflow_v2_runner
import local_runner
from pipeline import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")


def _readme() -> str:
    with open(README, encoding="utf-8") as f:
        return f.read()


def test_the_readme_table_is_the_settings_table():
    text = _readme()
    start, end = text.index(cli.TABLE_START), text.index(cli.TABLE_END)
    table = text[start + len(cli.TABLE_START) : end].strip()
    assert table == cli.markdown_table(), "regenerate it with: python -m pipeline.cli"


def _commands() -> list[tuple[str, list[str]]]:
    """(runner, arguments) of every command line in the README's shell blocks."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", _readme(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            for runner in ("./scripts/run.sh", "local_runner.py", "kubeflow_v2_runner.py"):
                if runner in words:
                    found.append((runner, words[words.index(runner) + 1 :]))
    return found


def test_the_readme_shows_both_runners():
    runners = {runner for runner, _ in _commands()}
    assert runners == {"./scripts/run.sh", "kubeflow_v2_runner.py"}, runners


@pytest.mark.parametrize(
    "runner,words", _commands(), ids=[" ".join(words)[:60] or "-" for _, words in _commands()]
)
def test_every_command_line_in_the_readme_parses_into_a_valid_config(runner, words):
    module = kubeflow_v2_runner if runner == "kubeflow_v2_runner.py" else local_runner
    args = module.parse_args(words)  # argparse exits on an unknown flag or a bad value
    args.data_root = None  # the folders the README names do not exist here
    config = cli.config_from(args, "demo")
    if "--beam-args" in words:
        given = shlex.split(words[words.index("--beam-args") + 1])
        assert list(config.run.beam_args[-len(given) :]) == given


def test_a_one_word_beam_flag_is_a_value_not_a_flag():
    args = local_runner.parse_args(["--beam-args", "--direct_num_workers=2", "--train-steps", "5"])
    config = cli.config_from(args, "test")
    assert config.run.beam_args[-1] == "--direct_num_workers=2"
    assert config.training.train_steps == 5


def _flags(parser) -> dict[str, tuple[str, ...]]:
    return {a.dest: tuple(a.option_strings) for a in parser._actions if a.option_strings}


def test_both_runners_accept_every_setting_with_the_same_flags():
    local, kubeflow = _flags(local_runner.build_parser()), _flags(kubeflow_v2_runner.build_parser())
    settings = {name for name in cli.configs.SECTION_OF if name != "pipeline_name"}
    assert settings <= set(local) and settings <= set(kubeflow)
    assert all(local[name] == kubeflow[name] for name in settings)
    table = cli.markdown_table()
    for name in settings:
        assert f"`{local[name][0]}`" in table, name


def test_the_readme_and_the_help_give_the_same_exit_codes():
    from pipeline import endings

    text = _readme()
    table = text[text.index("<!-- exit codes") : text.index("<!-- end of exit codes")]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", table, re.M)
    assert [(int(code), what) for code, what in rows] == list(endings.EXIT_CODES)
    help_text = " ".join(local_runner.build_parser().format_help().split())
    for code, what in endings.EXIT_CODES:
        assert f"{code} {what}" in help_text

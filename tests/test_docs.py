"""The README and docs/ against what they describe: the generated tables against their sources,
every command line against the runners' and the benchmarks' flags, every relative link and every
repository path they name against the files."""

from __future__ import annotations

import glob
import os
import re
import shlex

import pytest

import kubeflow_v2_runner
import local_runner
from pipeline import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
PAGES = [README, *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _readme() -> str:
    return _read(README)


def _page(name: str) -> str:
    return _read(os.path.join(ROOT, "docs", name))


def test_the_settings_table_is_generated_from_the_settings():
    text = _page("configuration.md")
    start, end = text.index(cli.TABLE_START), text.index(cli.TABLE_END)
    table = text[start + len(cli.TABLE_START) : end].strip()
    assert table == cli.markdown_table(), "regenerate it with: python -m pipeline.cli"


def _commands(pages: list[str] = PAGES) -> list[tuple[str, list[str]]]:
    """(runner, arguments) of every runner's command line in the pages' shell blocks."""
    found = []
    blocks = [b for page in pages for b in re.findall(r"```bash\n(.*?)```", _read(page), re.S)]
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            for runner in ("./scripts/run.sh", "local_runner.py", "kubeflow_v2_runner.py"):
                if runner in words:
                    found.append((runner, words[words.index(runner) + 1 :]))
    return found


def test_the_readme_shows_both_runners():
    runners = {runner for runner, _ in _commands([README])}
    assert runners == {"./scripts/run.sh", "kubeflow_v2_runner.py"}, runners


@pytest.mark.parametrize(
    "runner,words", _commands(), ids=[" ".join(words)[:60] or "-" for _, words in _commands()]
)
def test_every_command_line_in_the_docs_parses_into_a_valid_config(runner, words):
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


def test_the_docs_and_the_help_give_the_same_exit_codes():
    from pipeline import endings

    text = _page("running.md")
    table = text[text.index("<!-- exit codes") : text.index("<!-- end of exit codes")]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", table, re.M)
    assert [(int(code), what) for code, what in rows] == list(endings.EXIT_CODES)
    help_text = " ".join(local_runner.build_parser().format_help().split())
    for code, what in endings.EXIT_CODES:
        assert f"{code} {what}" in help_text


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# A repository path in backquotes: a top-level folder or file of the project, then more of it.
TOP = ("core", "models", "components", "pipeline", "startup", "bench", "tests", "scripts", "docs",
       ".ci")  # fmt: skip
PATH = re.compile(r"`((?:" + "|".join(re.escape(t) for t in TOP) + r")/[\w./-]*\w)`")


@pytest.mark.parametrize("page", PAGES, ids=[os.path.relpath(p, ROOT) for p in PAGES])
def test_every_relative_link_and_named_path_exists(page):
    text = _read(page)
    missing = []
    for target in LINK.findall(text):
        if "://" in target or target.startswith("mailto:"):
            continue
        if not os.path.exists(os.path.normpath(os.path.join(os.path.dirname(page), target))):
            missing.append(target)
    for path in PATH.findall(text):
        module = path.split(".")[0] + ".py"  # `models/training/inputs.make_dataset`
        if not any(glob.glob(os.path.join(ROOT, p.replace("NAME", "*"))) for p in (path, module)):
            missing.append(path)
    assert not missing, missing
    assert "../shared" not in text and "shared/DESIGN" not in text


def _bench_commands() -> list[list[str]]:
    found = []
    for page in PAGES:
        for block in re.findall(r"```bash\n(.*?)```", _read(page), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                if "-m" in words and words[words.index("-m") + 1 :][:1] == ["bench"]:
                    found.append(words[words.index("-m") + 2 :])
    return found


@pytest.mark.parametrize("words", _bench_commands(), ids=lambda w: " ".join(w)[:50] or "-")
def test_every_benchmark_command_in_the_docs_names_a_benchmark_and_its_flags(words):
    from bench.__main__ import benchmarks

    if not words:
        return  # the listing
    assert words[0] in benchmarks(), words[0]
    import importlib

    module = importlib.import_module(f"bench.bench_{words[0]}")
    flags = [w.split("=")[0] for w in words[1:] if w.startswith("--") and w != "--"]
    source = _read(module.__file__)
    for flag in flags:
        assert f'"{flag}"' in source, (words[0], flag)


def _tool_commands() -> list[list[str]]:
    """`python -m MODULE ...` lines of the serving and annotation tools, module first."""
    found = []
    for page in PAGES:
        for block in re.findall(r"```bash\n(.*?)```", _read(page), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                module = words[words.index("-m") + 1] if "-m" in words else ""
                if module.startswith(("models.", "pipeline.")):
                    found.append(words[words.index("-m") + 1 :])
    return found


@pytest.mark.parametrize("words", _tool_commands(), ids=lambda w: " ".join(w)[:60])
def test_every_tool_command_in_the_docs_names_a_module_and_its_flags(words):
    import importlib

    module = importlib.import_module(words[0])
    source = _read(module.__file__)
    assert "def main(" in source, words[0]
    pairs = zip(words[:-1], words[1:], strict=True)
    # a --beam-args value holds Beam's flags, not the tool's
    flags = [w.split("=")[0] for b, w in pairs if w.startswith("--") and b != "--beam-args"]
    for flag in flags:
        assert f'"{flag}"' in source, (words[0], flag)


def test_the_performance_tables_regenerate_byte_for_byte_from_the_baselines():
    from bench import tables

    page = _page("PERFORMANCE.md")
    assert tables.render(page) == page, "regenerate them with: python -m bench.tables"


def test_one_committed_baseline_per_benchmark():
    from bench import tables
    from bench.__main__ import benchmarks

    assert tables.names() == sorted(benchmarks())

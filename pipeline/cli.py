"""The command-line settings both runners share, made from the config's table of settings.

`local_runner.py` and `kubeflow_v2_runner.py` build their parsers with `add_settings`, so every
setting has the same flag, range and help in both, and `markdown_table` renders the README's table
from the same declarations (a test keeps the two equal).
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Sequence
from typing import Any

from core import config as configs
from core.settings import Kind, Setting, allowed, flag_of, glue_flag_values, settings_of

PRESET_FLAG = "--preset"
TABLE_START = "<!-- settings table: python -m pipeline.cli -->"
TABLE_END = "<!-- end of settings table -->"


def _argument_type(spec: Setting):
    return {Kind.INT: int, Kind.FLOAT: float}.get(spec.kind, str)


def _flags(field, spec: Setting) -> list[str]:
    return [flag_of(field), *spec.aliases]


def add_settings(parser: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    """One argument group per section, one flag per setting (defaults: None, i.e. the preset's)."""
    parser.add_argument(
        PRESET_FLAG, default=None, help=f"settings to start from: one of {sorted(configs.PRESETS)}"
    )
    for section, cls in configs.SECTIONS.items():
        group = parser.add_argument_group(f"{section} settings")
        for field, spec in settings_of(cls):
            if spec.flag == "" or field.name in skip:
                continue
            help_text = f"{spec.help} ({allowed(spec)})".replace("%", "%%")
            if spec.kind is Kind.BOOL:
                group.add_argument(
                    *_flags(field, spec),
                    dest=field.name,
                    action=argparse.BooleanOptionalAction,
                    default=None,
                    help=help_text,
                )
            elif spec.kind is Kind.ARGS:
                group.add_argument(
                    *_flags(field, spec), dest=field.name, action="append", help=help_text
                )
            else:
                group.add_argument(
                    *_flags(field, spec),
                    dest=field.name,
                    type=_argument_type(spec),
                    choices=spec.choices or None,
                    default=None,
                    help=help_text,
                )


def args_flags() -> list[str]:
    return [
        flag
        for cls in configs.SECTIONS.values()
        for field, spec in settings_of(cls)
        if spec.kind is Kind.ARGS
        for flag in _flags(field, spec)
    ]


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    import sys

    return parser.parse_args(glue_flag_values(sys.argv[1:] if argv is None else argv, args_flags()))


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line (None: not given), Beam flags split and added to
    the defaults, local paths made absolute."""
    values: dict[str, Any] = {}
    for cls in configs.SECTIONS.values():
        for field, spec in settings_of(cls):
            value = getattr(args, field.name, None)
            if value is None:
                continue
            if spec.kind is Kind.ARGS:
                value = (*field.default, *(w for text in value for w in shlex.split(text)))
            elif spec.kind == "path" and "://" not in value:
                value = os.path.abspath(value)
            values[field.name] = value
    return values


def config_from(args: argparse.Namespace, default_preset: str, **fixed: Any):
    """The preset (--preset or `default_preset`) with the command line's overrides applied."""
    return configs.get_config(args.preset or default_preset, **{**overrides(args), **fixed})


def markdown_table() -> str:
    """The README's table of settings: flag, section, allowed values, the paper's default."""
    rows = ["| flag | section | values | default | what it sets |", "|---|---|---|---|---|"]
    for section, cls in configs.SECTIONS.items():
        for field, spec in settings_of(cls):
            if spec.flag == "":
                continue
            flags = " ".join(f"`{f}`" for f in _flags(field, spec))
            if spec.kind is Kind.BOOL:
                flags = f"`{flag_of(field)}` / `--no-{flag_of(field)[2:]}`"
            default = field.default
            if spec.kind is Kind.ARGS:
                default = " ".join(default)
            elif spec.kind is Kind.BOOL:
                default = "on" if default else "off"
            shown = "-" if default is None else f"`{default}`"
            rows.append(f"| {flags} | {section} | {allowed(spec)} | {shown} | {spec.help} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())

"""The declarative table of settings: each config field says its flag, its help, its range or
choices, once, and everything else is derived from it.

A setting is a dataclass field of one of the config's sections (core/config.py) whose metadata
holds a `Setting`. From those fields come the validation of every value (`check`), both
command-line interfaces' flags (`pipeline/cli.py`) and the README's table of flags
(`markdown_table`), so a knob cannot drift between them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

SETTING = "setting"  # the metadata key of a field that is a setting


class SettingError(ValueError):
    """A value no run can use; names the flag (or field) and the allowed values."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag} {message}")
        self.flag = flag


class Kind(str, Enum):
    """What a setting's value is: the command line's type and the check it gets."""

    INT = "int"
    FLOAT = "float"
    STR = "str"
    BOOL = "bool"
    PATH = "path"  # a str or None
    ARGS = "args"  # a tuple of strings, from one shell-quoted string on the command line


@dataclass(frozen=True)
class Setting:
    """How one config field is set and checked.

    kind: what the value is (Kind).
    low, high, low_open: the closed range [low, high], or (low, high] with low_open.
    choices: the allowed strings of a str setting.
    flag: the command-line flag; None: --field-name; "" for a field with no flag.
    aliases: further flags for the same setting.
    """

    kind: Kind
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()
    flag: str | None = None
    aliases: tuple[str, ...] = ()


def setting(default: Any, kind: Kind, help: str, **options: Any) -> Any:
    """A dataclass field that is a setting (see `Setting`)."""
    if not isinstance(kind, Kind):
        raise TypeError(f"a setting's kind is a Kind, got {kind!r}")
    meta = {SETTING: Setting(kind, help, **options)}
    if isinstance(default, list | dict):
        raise TypeError("settings take immutable defaults")
    return dataclasses.field(default=default, metadata=meta)


def flag_of(field: dataclasses.Field) -> str:
    spec: Setting = field.metadata[SETTING]
    if spec.flag is not None:
        return spec.flag
    return "--" + field.name.replace("_", "-")


def settings_of(section: Any) -> Iterator[tuple[dataclasses.Field, Setting]]:
    """(field, Setting) of every setting of a section (class or instance)."""
    for field in dataclasses.fields(section):
        if SETTING in field.metadata:
            yield field, field.metadata[SETTING]


def _name(field: dataclasses.Field) -> str:
    return flag_of(field) if field.metadata[SETTING].flag != "" else field.name


def _check_number(field: dataclasses.Field, spec: Setting, value: Any) -> None:
    name = _name(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingError(name, f"must be a number, got {value!r}")
    if spec.kind is Kind.INT and not float(value).is_integer():
        raise SettingError(name, f"must be a whole number, got {value}")
    if spec.low is None or spec.high is None:
        return
    below = value <= spec.low if spec.low_open else value < spec.low
    if math.isnan(value) or below or value > spec.high:
        bracket = "(" if spec.low_open else "["
        raise SettingError(name, f"must be in {bracket}{spec.low}, {spec.high}], got {value}")


def check(section: Any) -> None:
    """Raises SettingError for the first value of `section` that its Setting does not allow."""
    for field, spec in settings_of(section):
        value = getattr(section, field.name)
        name = _name(field)
        if spec.kind in (Kind.INT, Kind.FLOAT):
            _check_number(field, spec, value)
        elif spec.kind is Kind.STR:
            if spec.choices and value not in spec.choices:
                raise SettingError(name, f"must be one of {spec.choices}, got {value!r}")
        elif spec.kind is Kind.BOOL:
            if not isinstance(value, bool):
                raise SettingError(name, f"must be true or false, got {value!r}")
        elif spec.kind is Kind.PATH:
            if value is not None and (not isinstance(value, str) or not value):
                raise SettingError(name, f"must be a path, got {value!r}")
        elif spec.kind is Kind.ARGS:
            if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
                raise SettingError(name, f"must be a list of strings, got {value!r}")


def glue_flag_values(argv: Sequence[str], flags: Sequence[str] = ("--beam-args",)) -> list[str]:
    """`--beam-args --runner=X` as `--beam-args=--runner=X`: argparse reads a lone value that
    starts with `--` as a flag, so a one-word Beam flag could not be given otherwise."""
    glued: list[str] = []
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        if tokens[i] in flags and i + 1 < len(tokens):
            glued.append(f"{tokens[i]}={tokens[i + 1]}")
            i += 2
            continue
        glued.append(tokens[i])
        i += 1
    return glued


def allowed(spec: Setting) -> str:
    """The allowed values in words, for help texts and the README's table."""
    if spec.choices:
        return " \\| ".join(spec.choices)
    if spec.low is not None and spec.high is not None:
        low, high = (f"{v:,}" if float(v).is_integer() else f"{v:g}" for v in (spec.low, spec.high))
        low, high = (v.removesuffix(".0") for v in (low, high))
        return f"{'(' if spec.low_open else '['}{low}, {high}]"
    words = {Kind.BOOL: "on/off", Kind.PATH: "a folder", Kind.ARGS: "flags"}
    return words.get(spec.kind, spec.kind.value)

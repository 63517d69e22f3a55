"""The benchmark suite's command: `python -m bench` lists the benchmarks, one line each;
`python -m bench NAME [ARGS]` runs one after the process start-up every entry point makes."""

from __future__ import annotations

import ast
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "bench_"


def benchmarks() -> dict[str, str]:
    """name -> the first line of its module's docstring (read without importing it)."""
    found = {}
    for file in sorted(os.listdir(HERE)):
        if file.startswith(PREFIX) and file.endswith(".py"):
            with open(os.path.join(HERE, file), encoding="utf-8") as f:
                doc = ast.get_docstring(ast.parse(f.read())) or ""
            found[file[len(PREFIX) : -3]] = doc.strip().splitlines()[0] if doc else ""
    return found


def main(argv: list[str]) -> int:
    known = benchmarks()
    if not argv or argv[0] in ("-h", "--help"):
        width = max(map(len, known))
        print("python -m bench NAME [ARGS]   (python -m bench NAME --help for its flags)\n")
        for name, line in known.items():
            print(f"  {name:<{width}}  {line}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in known:
        print(f"bench: no benchmark {name!r}; one of {', '.join(known)}", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import startup

    startup.start(filter_stderr=True, console_logging=True)
    module = importlib.import_module(f"bench.{PREFIX}{name}")
    sys.argv = [f"bench {name}", *rest]
    return module.main(rest) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

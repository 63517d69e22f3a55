"""The container image the compiled spec's tasks run in, made on this machine the way `docker
build` makes it from the Dockerfile: the build context copied as `COPY . .` copies it (less what
.dockerignore names), the ENV and the WORKDIR; the locked environment's Python stands in for the
image's /opt/venv."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import sys


def dockerfile_environment(dockerfile: str) -> tuple[str, dict[str, str]]:
    """(WORKDIR, ENV) of a Dockerfile's final stage, ENV values as written ($VAR unexpanded)."""
    text = re.sub(r"\\\n", " ", open(dockerfile).read())
    workdir, env = "/", {}
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if len(words) < 2:
            continue
        if words[0] == "WORKDIR":
            workdir = words[1].strip()
        elif words[0] == "ENV":
            for pair in words[1].split():
                key, _, value = pair.partition("=")
                env[key] = value
    return workdir, env


def build_image_dir(context: str, target: str) -> str:
    """`COPY . .` of the build context into `target`, leaving out what .dockerignore names."""
    ignore_file = os.path.join(context, ".dockerignore")
    patterns = [p.strip().rstrip("/") for p in open(ignore_file).read().splitlines() if p.strip()]

    def ignored(directory: str, names: list[str]) -> set[str]:
        relative = os.path.relpath(directory, context)
        out = set()
        for name in names:
            path = os.path.normpath(os.path.join(relative, name))
            for pattern in patterns:
                bare = pattern.removeprefix("**/")
                if fnmatch.fnmatch(path, pattern) or (
                    pattern.startswith("**/") and fnmatch.fnmatch(name, bare)
                ):
                    out.add(name)
        return out

    shutil.copytree(context, target, ignore=ignored)
    return target


def image_environment(dockerfile: str, image_dir: str) -> dict[str, str]:
    """The environment a container of the image starts with: its ENV, the WORKDIR mapped to
    `image_dir` and the image's virtual environment to the running Python's."""
    workdir, declared = dockerfile_environment(dockerfile)
    venv_bin = os.path.dirname(sys.executable)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    for key, value in declared.items():
        value = value.replace(workdir, image_dir)
        if key == "PATH":
            value = value.replace("$PATH", env["PATH"])
            value = re.sub(r"/opt/venv/bin", venv_bin, value)
        env[key] = value
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    return env

"""The benchmarks cannot rot unnoticed: each imports, parses ``--help``, and none leans on the tests.

Why: no test ran the benchmarks, so one (``bench/console_bulk.py``) stayed broken for a
whole session. Contract checked here:

* no module under ``bench/`` imports ``tests`` (nor names a ``tests.…`` module to run as
  a child): what benchmarks and tests share lives in ``bench/harness/``, which the tests
  import, never the other way round;
* every bench module imports as ``python -m bench.NAME`` does (from the repository
  root, nothing else on the path), and every one with a command line answers
  ``--help`` (exit 0, a usage line), all in one child process;
* the cheap ones run at their smallest size (a few hundred alerts, a handful of
  cells) and exit 0, so a changed signature in what they call breaks here.

Nothing here is timed: the sizes are fixed, and what is checked is the exit status
and the output's shape, never a duration.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
# Cheap benchmarks at their smallest sizes: each runs in seconds on the embedded store.
SMALL_RUNS: dict[str, tuple[str, ...]] = {
    "console_bulk": ("--alerts", "200", "--site-alerts", "20"),
    "list_sheet": ("--cells", "5", "--repeat", "1"),
}
# The import names of pyproject's "bench" extra (installed by bench/fetch-media, not by
# scripts/setup): a bench module that needs one of them is skipped where it is missing.
_IMPORT_NAMES = {"faiss-cpu": "faiss", "scikit-image": "skimage"}
# Imports every bench module, then runs each one's __main__ with --help; prints one line
# per module ("ok NAME" or "FAIL NAME: why") and exits 1 if any failed.
_SMOKE = """
import contextlib, importlib.util, io, os, runpy, sys, traceback
OPTIONAL = set(os.environ["BENCH_OPTIONAL"].split(","))
failed = False
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        source = open(importlib.util.find_spec(name).origin).read()
        if "ArgumentParser(" in source and "__main__" in source:
            out = io.StringIO()
            saved, sys.argv = sys.argv, [name, "--help"]
            try:
                with contextlib.redirect_stdout(out):
                    runpy.run_module(name, run_name="__main__")
                raise RuntimeError("--help did not exit")
            except SystemExit as exc:
                if exc.code not in (0, None) or not out.getvalue().startswith("usage:"):
                    raise RuntimeError(f"--help exited {exc.code}: {out.getvalue()[:200]!r}")
            finally:
                sys.argv = saved
        print("ok", name, flush=True)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in OPTIONAL:
            failed = True
            print("FAIL", name + ":", traceback.format_exc().replace("\\n", " | "), flush=True)
        else:
            print("skip", name, "needs", exc.name, flush=True)
    except BaseException:
        failed = True
        print("FAIL", name + ":", traceback.format_exc().replace("\\n", " | "), flush=True)
sys.exit(1 if failed else 0)
"""


def bench_files() -> dict[str, Path]:
    """Every module under bench/ by dotted name (``bench.speed``, ``bench.harness.chaos``)."""
    found = {}
    for path in sorted(BENCH.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def bench_modules() -> list[str]:
    return list(bench_files())


def test_imports(source: str) -> list[str]:
    """What in ``source`` reaches into the tests: imports of ``tests`` and ``tests.…`` module names.

    Counts imports anywhere (module level or in a function), ``importlib.import_module``
    with a literal name, and string literals naming a ``tests.…`` module (a child run
    with ``python -m``).
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if _is_tests(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _is_tests(node.module):
                found.append(node.module)
        elif isinstance(node, ast.Constant) and _names_a_tests_module(node.value):
            found.append(node.value)
    return found


def _is_tests(module: str) -> bool:
    return module == "tests" or module.startswith("tests.")


def _names_a_tests_module(value: object) -> bool:
    """A string like ``tests.reliability.crashloop`` (a module name, not prose)."""
    return (
        isinstance(value, str)
        and value.startswith("tests.")
        and value.replace(".", "").replace("_", "").isalnum()
    )


test_imports.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def test_the_check_finds_every_way_of_reaching_the_tests() -> None:
    source = (
        "import os\n"
        "import tests.support.alerts\n"
        "from tests.distributed import bigsite\n"
        "from . import tests\n"
        "def f():\n"
        "    from tests import conftest\n"
        "    importlib.import_module('tests.reliability.chaos')\n"
        "    run(['python', '-m', 'tests.reliability.crashloop'])\n"
        "    print('tests. are fine in prose')\n"
    )
    assert sorted(test_imports(source)) == [
        "tests",
        "tests.distributed",
        "tests.reliability.chaos",
        "tests.reliability.crashloop",
        "tests.support.alerts",
    ]


def test_no_bench_module_imports_the_tests() -> None:
    offenders = {
        name: found
        for name, path in bench_files().items()
        if (found := test_imports(path.read_text()))
    }
    assert not offenders, (
        f"bench modules reach into tests/: {offenders}; move what they share "
        "into bench/harness/ and import it from there in the tests"
    )


def _env() -> dict[str, str]:
    # Nothing on the path but what `python -m` from the root gives.
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {
        "TANBA_STORE": "embedded",
        "TANBA_BUS": "embedded",
        "TANBA_BLOBS": "embedded",
    }


def bench_extras() -> list[str]:
    """The import names of the packages in pyproject's ``bench`` extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = []
    for requirement in project["optional-dependencies"]["bench"]:
        dist = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
        names.append(_IMPORT_NAMES.get(dist, dist.replace("-", "_")))
    return names


def test_every_bench_module_imports_and_answers_help() -> None:
    names = bench_modules()
    done = subprocess.run(
        [sys.executable, "-c", _SMOKE, *names],
        cwd=ROOT,
        env=_env() | {"BENCH_OPTIONAL": ",".join(bench_extras())},
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = done.stdout.splitlines()
    failures = [line for line in lines if line.startswith("FAIL")]
    assert not failures, "\n".join(failures)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = [line.split()[1] for line in lines if line.startswith(("ok ", "skip "))]
    assert sorted(seen) == sorted(names)
    assert len([line for line in lines if line.startswith("ok ")]) > len(names) // 2


def _home_of(name: str, tmp_path: Path) -> list[str]:
    """Where a bench that keeps its home afterwards puts it: under the test's tmp_path."""
    return ["--home", str(tmp_path / "home")] if name == "console_bulk" else []


@pytest.mark.parametrize("name", sorted(SMALL_RUNS))
def test_the_cheap_benches_run_at_their_smallest_size(name: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *SMALL_RUNS[name], *_home_of(name, tmp_path)],
        cwd=ROOT,
        env=_env() | {"TANBA_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{done.stdout[-1500:]}\n{done.stderr[-1500:]}"

"""The reliability figures: every fault and hostile input tried, how often, and what came of it.

Run (as root, on a machine with scripts/setup done)::

    .venv/bin/python -m bench.reliability [--kills-per-stage 20] [--soak-json FILE]
        [--soak] [--write docs/reliability.md]

It runs, at full size, what the test suite runs small: the three-process
pipeline killed with SIGKILL ``--kills-per-stage`` times per stage (in rounds
of 5 kills per stage, each on a fresh home), the storage writer killed 20
times, every hostile media file through the real fingerprint worker, the
hostile-site, disk-full and sandbox tests, and the fuzz tests with the
``report`` hypothesis profile (3000 examples each); it measures the cost of
the decoder sandbox; and it takes the soak figures from ``bench/soak.py``
(``--soak`` runs it, ``--soak-json`` reads a run's ``--json`` output). It
prints a Markdown report and, with ``--write``, puts it in the file between
the ``<!-- figures:start -->`` and ``<!-- figures:end -->`` markers (the rest
of the file is left as written). Exit status 1 when any check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START, END = "<!-- figures:start -->", "<!-- figures:end -->"
ROUND_KILLS = 5
STORAGE_KILLS = 20
SEED = 20


@dataclass
class Case:
    """One pytest test as the report shows it."""

    file: str
    name: str
    passed: bool
    seconds: float
    examples: int | None = None  # hypothesis: examples run, when it is a property test

    @property
    def words(self) -> str:
        text = self.name.removeprefix("test_").split("[")[0].replace("_", " ")
        param = self.name.split("[", 1)[1].rstrip("]") if "[" in self.name else ""
        return f"{text} ({param})" if param else text


def _mark(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def run_pytest(files: list[str], work: Path, env: dict[str, str]) -> list[Case]:
    """Run pytest on ``files``; one Case per test, with hypothesis example counts."""
    junit = work / f"junit-{len(list(work.glob('junit-*')))}.xml"
    done = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            f"--junitxml={junit}", "--hypothesis-show-statistics", *files,
        ],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    examples = _hypothesis_counts(done.stdout)
    cases = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        name = case.get("name", "")
        cases.append(
            Case(
                file=case.get("classname", "").rsplit(".", 1)[-1],
                name=name,
                passed=not failed and not skipped,
                seconds=float(case.get("time", 0)),
                examples=examples.get(name),
            )
        )
    return cases


def _hypothesis_counts(output: str) -> dict[str, int]:
    """Examples run per test, summed over hypothesis' phases, from --hypothesis-show-statistics."""
    counts: dict[str, int] = {}
    current = None
    for line in output.splitlines():
        header = re.match(r"^\S*::(\S+?):\s*$", line)
        if header:
            current = header.group(1)
            continue
        found = re.search(r"(\d+) passing(?: examples?)?, (\d+) failing", line)
        if found and current:
            counts[current] = counts.get(current, 0) + int(found.group(1)) + int(found.group(2))
    return counts


def chaos_section(work: Path, kills: int, log: object) -> tuple[str, bool]:
    from bench.harness import chaos

    rounds = max(1, -(-kills // ROUND_KILLS))
    started = time.monotonic()
    result = chaos.run(
        work / "chaos",
        seed=SEED,
        rounds=rounds,
        kills_per_stage=ROUND_KILLS,
        log=log,  # type: ignore[arg-type]
    )
    minutes = (time.monotonic() - started) / 60
    lost = sum(len(r.missing) for r in result.rounds)
    extra = sum(len(r.unexpected) for r in result.rounds)
    duplicated = sum(r.duplicated for r in result.rounds)
    dead = sum(r.dead_letters for r in result.rounds)
    problems = [p for r in result.rounds for p in r.integrity + r.quarantine_wrong]
    lines = [
        "### Every stage killed with SIGKILL (embedded mode, three processes on one home)",
        "",
        f"`tanba crawl`, `tanba worker fingerprint` and `tanba worker matcher` on one `--home`,"
        f" over the demo web; {rounds} rounds of {ROUND_KILLS} kills per stage, each round on a"
        f" fresh copy of a home with the demo's works registered, seed {SEED};"
        f" {minutes:.1f} minutes. A kill lands on a process at work: the crawl after a random"
        " number of requests, a worker a random moment after messages wait for it.",
        "",
        "| stage | kills | with work in flight | alerts expected | lost | duplicated | unexpected |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    expected = sum(r.expected for r in result.rounds)
    for stage in chaos.STAGES:
        ks = result.kills(stage)
        lines.append(
            f"| {stage} | {len(ks)} | {sum(k.busy for k in ks)} | {expected} | {lost} |"
            f" {duplicated} | {extra} |"
        )
    lines += [
        "",
        f"After every round: dead letters {dead}; quarantined media exactly the demo's 4 broken"
        f" files: {_mark(not any(r.quarantine_wrong for r in result.rounds))}; SQLite"
        f" `integrity_check`, blobs named by their SHA-256, every WARC file read through and every"
        f" published event's blob and WARC records present: {_mark(not problems)}"
        f" ({sum(r.events for r in result.rounds)} events,"
        f" {sum(r.warc_records for r in result.rounds)} WARC records checked).",
        "(The lost/duplicated/unexpected counts are totals over all rounds: every kill of every"
        " stage shares them.)",
    ]
    if problems:
        lines += ["", "Problems:", *[f"- {p}" for p in problems[:20]]]
    return "\n".join(lines), result.ok and len(result.kills("crawl")) >= kills


def storage_section(work: Path) -> tuple[str, bool]:
    from bench.harness import crashloop

    result = crashloop.run(work / "storage", seed=SEED, kills=STORAGE_KILLS)
    lines = [
        "### The storage writer killed with SIGKILL",
        "",
        f"A process looping over batches (publish {crashloop.BATCH} records, upsert"
        f" {crashloop.BATCH} alerts, store a blob, append a WARC exchange, commit) killed at a"
        f" random moment {result.kills} times (seed {SEED}), checked after each kill.",
        "",
        "| check | outcome |",
        "|---|---|",
        f"| kills | {result.kills} |",
        f"| batches acknowledged before their kill, all found whole | {result.acked}:"
        f" {_mark(result.ok)} |",
        "| batches found partly written (bus or store) | "
        + str(sum("of" in p for p in result.problems))
        + " |",
        f"| SQLite integrity_check failures | {sum('integrity' in p for p in result.problems)} |",
        f"| WARC tails cut by a kill, dropped on reopening | {result.warc_tails_dropped} |",
        f"| blob temporary files left by a kill, swept | {result.tmp_files_swept} |",
        f"| problems | {len(result.problems)} |",
    ]
    if result.problems:
        lines += ["", *[f"- {p}" for p in result.problems[:20]]]
    return "\n".join(lines), result.ok


def media_section(work: Path) -> tuple[str, bool]:
    from bench.harness.hostile_media import (
        DECODE_TIMEOUT_S,
        PIXEL_CAP,
        build,
        run_through_worker,
    )

    files = build(work / "media-src")
    run = run_through_worker(files, work / "media-home")
    lines = [
        "### Hostile media through the real fingerprint worker",
        "",
        f"Each file published on the embedded bus with real photos between them, through the real"
        f" `FingerprintStage` in the real `Worker` (pixel cap {PIXEL_CAP:,}, decode timeout"
        f" {DECODE_TIMEOUT_S:.0f} s). Messages {run.stats.messages}, dead-lettered"
        f" {run.dead_letters}, photos after them fingerprinted"
        f" {sum(p in run.prints for p in run.photos)}/{len(run.photos)}.",
        "",
        "| input | expected | what happened | as expected |",
        "|---|---|---|---|",
    ]
    ok = run.dead_letters == 0 and all(p in run.prints for p in run.photos)
    for h in files:
        good, what = run.outcome(h)
        ok = ok and good
        cell = what.replace("|", "\\|")
        lines.append(f"| {h.what} | {h.outcome} | {cell[:220]} | {_mark(good)} |")
    return "\n".join(lines), ok


def cases_table(title: str, intro: str, cases: list[Case], examples: bool = False) -> str:
    head = "| case | examples | passed | seconds |" if examples else "| case | passed | seconds |"
    rule = "|---|---:|---|---:|" if examples else "|---|---|---:|"
    lines = [f"### {title}", "", intro, "", head, rule]
    for c in cases:
        if examples:
            n = "" if c.examples is None else f"{c.examples:,}"
            lines.append(f"| {c.words} | {n} | {_mark(c.passed)} | {c.seconds:.1f} |")
        else:
            lines.append(f"| {c.words} | {_mark(c.passed)} | {c.seconds:.1f} |")
    return "\n".join(lines)


def sandbox_cost() -> str:
    from tanba.app.demo import media
    from tanba.core.settings import Settings
    from tanba.fingerprint.compute import fingerprint_file
    from tanba.fingerprint.image import image_print
    from tanba.fingerprint.sandbox import Sandbox

    settings = Settings.from_env({})
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, photo in enumerate(media.photos()[:10]):
            f = Path(tmp) / f"{i}.jpg"
            f.write_bytes(media.web_jpeg(photo, width=1024))
            files.append(f)
        sandbox = Sandbox(512 << 20)
        try:
            fingerprint_file(files[0], "0" * 64, settings, sandbox=sandbox)  # start it warm
            rounds = 5
            best_in = best_box = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                for f in files * rounds:
                    image_print(f.read_bytes(), max_pixels=settings.image_max_pixels)
                best_in = min(best_in, (time.perf_counter() - t) / (len(files) * rounds))
                t = time.perf_counter()
                for f in files * rounds:
                    fingerprint_file(f, "0" * 64, settings, sandbox=sandbox)
                best_box = min(best_box, (time.perf_counter() - t) / (len(files) * rounds))
        finally:
            sandbox.close()
    return "\n".join(
        [
            "### Cost of decoding in the sandbox",
            "",
            "Image fingerprint of 10 real photos as 1024-px JPEGs, 50 files per pass, best of 3"
            " passes, one warm decoder child:",
            "",
            "| decoding | ms per image |",
            "|---|---:|",
            f"| in the worker's process (`image_print`) | {best_in * 1000:.1f} |",
            f"| in the sandbox child (`fingerprint_file`) | {best_box * 1000:.1f} |",
            "",
            "Starting the child once per worker costs about a second (its imports).",
        ]
    )


def soak_section(path: Path | None, run: bool, work: Path) -> str:
    from bench.soak import Sample, SoakResult, soak, table

    if run:
        result = soak(work / "soak-home", 50_000, 5_000, 1)
    elif path is not None and path.exists():
        raw = json.loads(path.read_text(encoding="utf-8"))
        samples = [Sample(**s) for s in raw.pop("samples")]
        result = SoakResult(**raw, samples=samples)
    else:
        return "### Soak\n\nNot run: pass `--soak` or `--soak-json FILE` (from `python -m bench.soak --json FILE`)."
    return "\n".join(
        [
            "### Soak: 50,000 media items through the embedded pipeline",
            "",
            "`python -m bench.soak`: real-image variants published as `MediaDiscovered` events"
            " (no crawler), fingerprint and matcher workers as separate processes; resident"
            " memory (VmRSS) of each:",
            "",
            table(result),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability")
    parser.add_argument("--kills-per-stage", type=int, default=20)
    parser.add_argument("--soak", action="store_true", help="run bench/soak.py (long)")
    parser.add_argument("--soak-json", type=Path, default=None)
    parser.add_argument("--write", type=Path, default=None, help="e.g. docs/reliability.md")
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.monotonic()
    sections: list[str] = []
    ok = True
    env = {**os.environ, "TANBA_FUZZ_PROFILE": "report"}
    with tempfile.TemporaryDirectory(prefix="tanba-reliability-") as tmp:
        work = Path(tmp)
        log("fault injection: pipeline ...")
        text, good = chaos_section(work, args.kills_per_stage, log)
        sections.append(text)
        ok &= good
        log("fault injection: storage ...")
        text, good = storage_section(work)
        sections.append(text)
        ok &= good
        log("hostile media ...")
        text, good = media_section(work)
        sections.append(text)
        ok &= good
        suites = [
            (
                "Hostile media: the sandbox's own limits",
                "`tests/reliability/test_hostile_media.py`: memory limit, a hang, a crash, the"
                " parent's death.",
                ["tests/reliability/test_hostile_media.py"],
                False,
            ),
            (
                "Hostile sites against the real crawler",
                "`tests/reliability/test_hostile_sites.py`: one real crawl (Scrapy in a subprocess)"
                " over loopback servers, one target per misbehaviour.",
                ["tests/reliability/test_hostile_sites.py"],
                False,
            ),
            (
                "A full disk",
                "`tests/reliability/test_disk_full.py`: the home on a tmpfs the test mounts and"
                " fills; each store alone, then each stage of the pipeline as its own process.",
                ["tests/reliability/test_disk_full.py"],
                False,
            ),
            (
                "Fuzzing (hypothesis, profile `report`)",
                "`tests/reliability/test_fuzz.py` and the HTML extraction fuzz test of"
                " `tests/crawlers/test_extract.py`; examples are those hypothesis ran"
                " (it stops early when a strategy has no more distinct inputs). Any crash found"
                " is kept as an `@example`.",
                [
                    "tests/reliability/test_fuzz.py",
                    "tests/crawlers/test_extract.py::test_fuzz_never_raises_and_only_yields_absolute_http_urls",
                ],
                True,
            ),
        ]
        for title, intro, files, examples in suites:
            log(f"{title} ...")
            cases = run_pytest(files, work, env)
            if title.startswith("Hostile media"):
                cases = [c for c in cases if "each_hostile_file" not in c.name]
            ok &= bool(cases) and all(c.passed for c in cases)
            sections.append(cases_table(title, intro, cases, examples))
        log("sandbox cost ...")
        sections.append(sandbox_cost())
        log("soak ...")
        sections.append(soak_section(args.soak_json, args.soak, work))
    minutes = (time.monotonic() - started) / 60
    header = (
        f"Produced by `python -m bench.reliability --kills-per-stage {args.kills_per_stage}`"
        f" on {datetime.now(UTC):%Y-%m-%d} ({os.cpu_count()} CPUs, Python"
        f" {platform.python_version()}), {minutes:.0f} minutes. All checks as expected:"
        f" {_mark(ok)}. Kafka-mode faults are tested by the Kafka suite (`tests/distributed/`)."
    )
    report = "\n\n".join([header, *sections])
    print(report)
    if args.write is not None:
        _write(args.write, report)
    return 0 if ok else 1


def _write(path: Path, report: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else f"{START}\n{END}\n"
    if START not in text or END not in text:
        text += f"\n{START}\n{END}\n"
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    path.write_text(f"{before}{START}\n{report}\n{END}{after}", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())

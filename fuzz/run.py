"""Coverage-guided fuzzing of v2gkit's parsers for a given time: ``./run fuzz [--minutes N] [--target T]``.

Each target runs in its own process under atheris (Google's libFuzzer for Python), which instruments the
v2gkit modules the target imports and mutates inputs towards new coverage. The harness (fuzz/targets.py)
catches what its oracles report and every exception the code under test lets out, keeps the shortest input
per distinct finding in fuzz/out/findings/<target>/ with a report and a one-line reproduction command, and
fuzzing goes on. Corpora grow in fuzz/out/corpus/<target>/ and are reused by the next run. The exit status
is 1 when the run hit a finding (new, or kept from an earlier run and still there), else 0.

Examples::

    ./run fuzz --minutes 10                      # every target, 10 minutes in all
    ./run fuzz --minutes 5 --target exi-iso2     # one decoder
    ./run fuzz --target v2gtp sdp --jobs 2       # two targets side by side
    ./run fuzz --reproduce fuzz/out/findings/exi-iso2/finding-0123abcd4567
    ./run fuzz --minutes 1 --target sdp -- -use_value_profile=0   # extra libFuzzer options after --
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import tomllib
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "fuzz" / "out"
#: libFuzzer hang limit per input (seconds): an input beyond it ends the worker with a timeout artifact
HANG_TIMEOUT = 10
#: libFuzzer memory limit per worker (MB): beyond it the worker ends with an oom artifact
RSS_LIMIT_MB = 2048
#: slow inputs kept per target and run (all are counted)
MAX_SLOW_FILES = 20
#: a worker that ends early (hang, out of memory) is started again while this much time is left
MIN_RESTART_SECONDS = 10


def reproduce_command(path: Path) -> str:
    try:
        shown = path.resolve().relative_to(ROOT)
    except ValueError:
        shown = path
    return f"./run fuzz --reproduce {shown}"


# ------------------------------------------------------------------------------------------- the engine


def ensure_engine() -> None:
    """Install the ``fuzz`` extra of pyproject.toml (atheris) into this interpreter if it is missing."""
    if importlib.util.find_spec("atheris") is not None:
        return
    with (ROOT / "pyproject.toml").open("rb") as f:
        reqs = tomllib.load(f)["project"]["optional-dependencies"]["fuzz"]
    print(f"installing the fuzzing engine ({', '.join(reqs)}) ...", file=sys.stderr, flush=True)
    try:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *reqs], check=True)
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"could not install {', '.join(reqs)} (pip exit {e.returncode}); "
                         f"install it by hand: {sys.executable} -m pip install {' '.join(reqs)}") from None
    importlib.invalidate_caches()


# ------------------------------------------------------------------------------------------- worker side


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame in v2gkit (else the innermost frame): groups crashes by place."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/v2gkit/" in f.filename.replace(os.sep, "/")] or frames
    if not ours:
        return "?"
    f = ours[-1]
    return f"{Path(f.filename).name}:{f.lineno} {f.name}"


def finding_kind(exc: BaseException) -> str:
    from fuzz.targets import Finding

    if isinstance(exc, Finding):
        return exc.kind
    return f"{type(exc).__name__} at {_where(exc)}"


class Recorder:
    """Writes findings (shortest input per kind) and slow inputs of one target, announces them on stderr."""

    def __init__(self, target: Any, folder: Path) -> None:
        self.target = target
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.slow_files = 0
        self.seen: set[str] = set()  # finding files announced by this process

    def finding(self, data: bytes, exc: BaseException) -> None:
        kind = finding_kind(exc)
        sig = hashlib.sha1(f"{self.target.name}|{kind}".encode()).hexdigest()[:12]
        path = self.folder / f"finding-{sig}"
        known = path.exists()
        if path.name not in self.seen:
            self.seen.add(path.name)
            print(f"FINDING {path.name} {'known' if known else 'new'} {kind}", file=sys.stderr, flush=True)
        if known and path.stat().st_size <= len(data):
            return
        path.write_bytes(data)
        tb = "".join(traceback.format_exception(exc))
        shown = data.hex() if len(data) <= 2048 else data[:2048].hex() + " ..."
        path.with_suffix(".txt").write_text(
            f"target: {self.target.name}\nkind: {kind}\nexception: {type(exc).__name__}: {exc}\n"
            f"input ({len(data)} octets): {shown}\nreproduce: {reproduce_command(path)}\n\n{tb}")

    def slow(self, data: bytes, seconds: float) -> None:
        self.slow_files += 1
        name = f"slow-{hashlib.sha1(data).hexdigest()[:12]}"
        if self.slow_files <= MAX_SLOW_FILES:
            path = self.folder / name
            path.write_bytes(data)
            path.with_suffix(".txt").write_text(
                f"target: {self.target.name}\nslow input: {seconds * 1000:.0f} ms (instrumented) for "
                f"{len(data)} octets; threshold {self.target.slow * 1000:.0f} ms\n"
                f"reproduce: {reproduce_command(path)}\n")
        print(f"SLOW {name} {seconds * 1000:.0f}ms {len(data)}", file=sys.stderr, flush=True)


def worker(name: str, seconds: int, out: Path, extra: list[str]) -> None:
    """Run one target under atheris until libFuzzer's -max_total_time; never returns."""
    import atheris

    with atheris.instrument_imports(include=["v2gkit"]):
        from fuzz.targets import TARGETS

        target = TARGETS[name]
        for module in target.modules:
            importlib.import_module(module)
    rec = Recorder(target, out / "findings" / name)
    run, slow = target.run, target.slow
    clock = time.perf_counter

    def one_input(data: bytes) -> None:
        t0 = clock()
        try:
            run(data)
        except Exception as e:  # noqa: BLE001 - every escape is a finding, and fuzzing goes on
            rec.finding(data, e)
        dt = clock() - t0
        if dt > slow:
            t0 = clock()  # once more: a pause of the machine is not a slow input
            try:
                run(data)
            except Exception:  # noqa: BLE001, S110
                pass
            dt = min(dt, clock() - t0)
            if dt > slow:
                rec.slow(data, dt)

    corpus, seeds = out / "corpus" / name, out / "seeds" / name
    corpus.mkdir(parents=True, exist_ok=True)
    argv = [f"fuzz-{name}", str(corpus), str(seeds), f"-max_total_time={seconds}",
            f"-max_len={target.max_len}",
            f"-timeout={HANG_TIMEOUT}", f"-rss_limit_mb={RSS_LIMIT_MB}", f"-artifact_prefix={rec.folder}/",
            "-print_final_stats=1", *target.libfuzzer_args, *extra]
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


# ------------------------------------------------------------------------------------------- driver side

_STATUS = re.compile(r"^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)/\S+.*?exec/s: (\d+) rss: (\d+)Mb")
_STAT = re.compile(r"^stat::(\w+):\s+(\d+)")
_ARTIFACT = re.compile(r"Test unit written to (\S+)")


@dataclass
class Stats:
    """What one target's workers reported (summed over restarts)."""

    target: str
    seconds: float = 0.0  # fuzzing time: from INITED to the end of each worker
    execs: int = 0
    cov_seeds: int = 0  # edges covered by the starting corpus (seeds + corpus of earlier runs: INITED)
    cov: int = 0
    ft: int = 0
    corpus: int = 0
    rss_mb: int = 0
    execs_per_s_now: int = 0  # libFuzzer's latest figure
    findings_new: list[str] = field(default_factory=list)
    findings_known: list[str] = field(default_factory=list)  # kept from earlier runs, hit again
    findings_total: int = 0
    slow: int = 0
    artifacts: list[str] = field(default_factory=list)
    restarts: int = 0
    exit_codes: list[int] = field(default_factory=list)

    @property
    def execs_per_s(self) -> float:
        return self.execs / self.seconds if self.seconds else 0.0


class Worker:
    """One worker process of one target; a thread reads its stderr, keeps the log, and updates the stats."""

    def __init__(self, target: Any, seconds: int, out: Path, extra: list[str], stats: Stats,
                 log: IO[str]) -> None:
        self.target, self.stats, self.log = target, stats, log
        self.inited: float | None = None
        self._execs_base = stats.execs
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", target.name,
               "--seconds", str(seconds), "--out", str(out), "--", *extra]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace", cwd=ROOT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        s = self.stats
        for line in self.proc.stdout:
            self.log.write(line)
            if line.startswith("INFO: Instrumenting"):
                continue
            m = _STATUS.match(line)
            if m:
                execs, event, cov, ft, corp, eps, rss = m.groups()
                s.execs_per_s_now = int(eps)
                if event == "INITED":
                    self.inited = time.monotonic()
                    if not s.cov_seeds:
                        s.cov_seeds = int(cov)
                s.execs = self._execs_base + int(execs)
                s.cov, s.ft, s.corpus, s.rss_mb = max(s.cov, int(cov)), max(s.ft, int(ft)), int(corp), max(
                    s.rss_mb, int(rss))
                continue
            if line.startswith("FINDING "):
                _, file, status, kind = line.rstrip("\n").split(" ", 3)
                (s.findings_new if status == "new" else s.findings_known).append(kind)
                print(f"[{s.target}] {status} finding: {kind} ({file})", flush=True)
            elif line.startswith("SLOW "):
                s.slow += 1
            elif (m := _STAT.match(line)) and m.group(1) == "number_of_executed_units":
                s.execs = self._execs_base + int(m.group(2))
            elif m := _ARTIFACT.search(line):
                s.artifacts.append(m.group(1))
                print(f"[{s.target}] libFuzzer artifact: {m.group(1)}", flush=True)

    def finish(self) -> int:
        rc = self.proc.wait()
        self.reader.join()
        end = time.monotonic()
        self.stats.seconds += end - (self.inited or end)
        self.stats.exit_codes.append(rc)
        return rc


def _write_seeds(target: Any, out: Path) -> int:
    folder = out / "seeds" / target.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    n = 0
    for data in target.seeds():
        (folder / f"seed-{hashlib.sha1(data).hexdigest()[:16]}").write_bytes(data[: target.max_len])
        n += 1
    return n


def _fmt_time(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def _progress_line(stats: Stats, elapsed: float, budget: float) -> str:
    return (f"[{stats.target}] {_fmt_time(elapsed)}/{_fmt_time(budget)}  "
            f"execs {stats.execs:,} ({stats.execs_per_s_now:,}/s)  cov {stats.cov}  ft {stats.ft}  "
            f"corpus {stats.corpus}  findings new/known "
            f"{len(stats.findings_new)}/{len(stats.findings_known)}  "
            f"slow {stats.slow}  rss {stats.rss_mb} MB")


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def drive(targets: list[Any], minutes: float, jobs: int, out: Path, progress: float, extra: list[str]) -> int:
    """Run the targets (``jobs`` at a time) for ``minutes`` in all; print progress and the summary."""
    ensure_engine()
    total = minutes * 60
    rounds = math.ceil(len(targets) / jobs)
    share = max(5, int(total / rounds))
    print(f"fuzzing {len(targets)} target(s), {share} s each, {jobs} at a time; load average {_load()}; "
          f"output in {out}", flush=True)
    stats = {t.name: Stats(t.name) for t in targets}
    for t in targets:
        n = _write_seeds(t, out)
        print(f"[{t.name}] {n} seeds; {t.doc}", flush=True)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    queue = list(targets)
    # target name -> (worker, when the target started, its deadline, its log)
    running: dict[str, tuple[Worker, float, float, IO[str]]] = {}
    last_progress = time.monotonic()
    try:
        while queue or running:
            while queue and len(running) < jobs:
                t = queue.pop(0)
                log = (out / "logs" / f"{t.name}.log").open("w")
                now = time.monotonic()
                running[t.name] = (Worker(t, share, out, extra, stats[t.name], log), now, now + share, log)
            time.sleep(0.5)
            now = time.monotonic()
            for name, (w, t_start, deadline, log) in list(running.items()):
                if w.proc.poll() is None:
                    continue
                rc = w.finish()
                left = deadline - time.monotonic()
                if rc != 0 and left >= MIN_RESTART_SECONDS and stats[name].restarts < 5:
                    stats[name].restarts += 1
                    print(f"[{name}] worker ended with exit code {rc}; starting again for {int(left)} s "
                          f"(log: {log.name})", flush=True)
                    again = Worker(w.target, int(left), out, extra, stats[name], log)
                    running[name] = (again, t_start, deadline, log)
                    continue
                log.close()
                del running[name]
                print(_progress_line(stats[name], now - t_start, share) + "  done", flush=True)
            if progress and now - last_progress >= progress:
                last_progress = now
                for name, (_w, t_start, _d, _l) in running.items():
                    print(_progress_line(stats[name], now - t_start, share), flush=True)
    except KeyboardInterrupt:
        print("interrupted: stopping the workers", flush=True)
        for w, *_ in running.values():
            w.proc.terminate()
            w.finish()
    elapsed = time.monotonic() - started
    for t in targets:
        folder = out / "findings" / t.name
        stats[t.name].findings_total = len([p for p in folder.glob("finding-*") if p.suffix != ".txt"]) \
            if folder.exists() else 0
    print_summary(list(stats.values()), elapsed, out)
    record = {"finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "seconds": round(elapsed, 1), "jobs": jobs,
              "load_average_at_end": _load(), "targets": [asdict(s) | {"execs_per_s": round(s.execs_per_s, 1)}
                                                          for s in stats.values()]}
    (out / "summary.json").write_text(json.dumps(record, indent=1) + "\n")
    bad = sum(len(s.findings_new) + len(s.findings_known) + len(s.artifacts) for s in stats.values())
    return 1 if bad else 0


def print_summary(stats: list[Stats], elapsed: float, out: Path) -> None:
    head = ("target", "time s", "execs", "execs/s", "cov start->end", "ft", "corpus", "findings new/known",
            "slow")
    rows = [(s.target, f"{s.seconds:.0f}", f"{s.execs:,}", f"{s.execs_per_s:,.0f}", f"{s.cov_seeds}->{s.cov}",
             str(s.ft), str(s.corpus), f"{len(s.findings_new) + len(s.artifacts)}/{len(s.findings_known)}",
             str(s.slow)) for s in stats]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print(f"\nsummary after {_fmt_time(elapsed)} (load average {_load()}):")
    for r in [head, *rows]:
        cells = (c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        print("  " + "  ".join(cells))
    for s in stats:
        for kind in s.findings_new:
            print(f"  {s.target}: new: {kind}")
        for kind in s.findings_known:
            print(f"  {s.target}: known, still there: {kind}")
        for a in s.artifacts:
            print(f"  {s.target}: libFuzzer artifact {a}  (reproduce: {reproduce_command(Path(a))})")
    folder = out / "findings"
    print(f"findings and slow inputs: {folder}/<target>/ (each .txt has the reproduction command; "
          f"{sum(s.findings_total for s in stats)} finding(s) kept there); summary.json and logs/ in {out}")


# ------------------------------------------------------------------------------------------- reproduce


def reproduce(paths: list[Path], names: list[str]) -> int:
    """Run the harness on saved inputs, without the engine; print the traceback of what still fails."""
    from fuzz.targets import TARGETS, resolve

    failed = 0
    for p in paths:
        if names:
            target = resolve(names)[0]
        elif p.resolve().parent.name in TARGETS:
            target = TARGETS[p.resolve().parent.name]
        else:
            raise SystemExit(f"{p}: cannot tell the target from the folder name; pass --target")
        data = p.read_bytes()
        t0 = time.perf_counter()
        try:
            target.run(data)
        except Exception as e:  # noqa: BLE001
            failed += 1
            traceback.print_exception(e)
            print(f"{p}: {target.name}: {finding_kind(e)}  ({len(data)} octets: {data[:64].hex()}"
                  f"{'...' if len(data) > 64 else ''})")
            continue
        dt = time.perf_counter() - t0
        print(f"{p}: {target.name}: no finding; {dt * 1000:.1f} ms for {len(data)} octets "
              f"(slow threshold {target.slow * 1000:.0f} ms, instrumented)")
    return 1 if failed else 0


# ------------------------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    if argv[:1] == ["--worker"]:  # before anything imports v2gkit: the worker instruments it on import
        w = argparse.ArgumentParser()
        w.add_argument("--worker")
        w.add_argument("--seconds", type=int)
        w.add_argument("--out", type=Path)
        a = w.parse_args(argv)
        worker(a.worker, a.seconds, a.out, extra)
        return 0
    from fuzz.targets import GROUPS, TARGETS, resolve

    p = argparse.ArgumentParser(
        prog="./run fuzz", description="Coverage-guided fuzzing (atheris/libFuzzer) of the EXI decoders, the "
        "V2GTP reader, the SDP parsers and the app handshake. Extra libFuzzer options go after --.",
        epilog=f"targets: {', '.join(TARGETS)}; groups: all, {', '.join(GROUPS)}")
    p.add_argument("--minutes", type=float, default=10.0,
                   help="total fuzzing time, shared evenly by the targets (default: 10)")
    p.add_argument("--target", nargs="+", default=["all"], metavar="T",
                   help="targets or groups to fuzz (default: all); see --list")
    p.add_argument("--jobs", type=int, default=1,
                   help="targets fuzzed at the same time, one process each (default: 1)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="folder for corpora, findings, logs and summary.json "
                        f"(default: {DEFAULT_OUT.relative_to(ROOT)})")
    p.add_argument("--progress", type=float, default=30.0,
                   help="seconds between progress lines, 0 for none (default: 30)")
    p.add_argument("--list", action="store_true", help="list the targets and exit")
    p.add_argument("--reproduce", nargs="+", type=Path, metavar="FILE",
                   help="run saved inputs (findings, slow inputs, libFuzzer artifacts) through "
                        "their target's harness without the engine and show what fails")
    a = p.parse_args(argv)
    if a.list:
        for t in TARGETS.values():
            print(f"{t.name:16} {t.group:10} max_len {t.max_len:5}  {t.doc}")
        return 0
    try:
        targets = resolve(a.target)
    except ValueError as e:
        p.error(str(e))
    if a.reproduce:
        return reproduce(a.reproduce, a.target if a.target != ["all"] else [])
    if a.minutes <= 0:
        p.error("--minutes must be > 0")
    if a.jobs < 1:
        p.error("--jobs must be >= 1")
    if a.progress < 0:
        p.error("--progress must be >= 0")
    return drive(targets, a.minutes, a.jobs, a.out.resolve(), a.progress, extra)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Load+save benchmark: `mof run roundtrip.xml` against Python's onnx.load/save.

    loadsave.py [--mof PATH] [--runs N] [--json FILE] MODEL.onnx [MODEL.onnx...]

For each model, two commands are timed as separate subprocesses:

  mof:   MOF run PIPELINE MODEL -o OUT.onnx   (PIPELINE has no passes, so
         this is a plain load + save through mof's ONNX reader and writer)
  onnx:  python -c 'm = onnx.load(MODEL); onnx.save(m, OUT)'

Each gets one untimed warm-up, then N timed runs, interleaved (mof, onnx,
onnx, mof, ...) so that drift in machine load hits both sides alike.  Wall
time is measured around each subprocess; peak RSS is the child's ru_maxrss
from os.wait4() (children are started by a small helper process, see
SPAWNER).  The onnx side includes interpreter start-up and
`import onnx`; a separate "python -c 'import onnx'" baseline is measured too
(--baseline-runs) and reported below the table, so the two can be told apart.

Afterwards (untimed) both outputs are loaded with onnx.load and their graphs
compared.  Exit status: 0 ok, 1 a run failed or the outputs differ, 2 usage
(e.g. the mof binary cannot be found).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_PIPELINE = os.path.join(REPO, "examples", "pipelines", "roundtrip.xml")
MIB = 2**20

ONNX_LOADSAVE = "import sys, onnx; m = onnx.load(sys.argv[1]); onnx.save(m, sys.argv[2])"
ONNX_IMPORT = "import onnx"


def find_mof(explicit):
    """The mof binary: --mof / $MOF, else ./mof, else `mof` on PATH."""
    if explicit:
        path = explicit if os.sep in explicit else (shutil.which(explicit) or explicit)
        ok = os.path.isfile(path) and os.access(path, os.X_OK)
        return os.path.abspath(path) if ok else None
    if os.path.isfile("./mof") and os.access("./mof", os.X_OK):
        return os.path.abspath("./mof")
    return shutil.which("mof")


# Why a separate spawner process: on Linux, exec() folds the *parent's* peak
# RSS into the child's ru_maxrss (the child starts life sharing or copying the
# parent's address space).  This script grows to hundreds of MiB once it has
# loaded a model to compare outputs, which would then show up as every child's
# "peak RSS".  So all timed commands are started by a small helper Python that
# never loads anything; its own RSS (the "floor", ~8 MiB, reported) is the
# smallest peak RSS a child can show.
SPAWNER = r"""
import json, os, sys, time
for line in sys.stdin:
    req = json.loads(line)
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, req["stderr"], os.O_WRONLY | os.O_TRUNC, 0)]
    t0 = time.perf_counter()
    try:
        pid = os.posix_spawnp(req["argv"][0], req["argv"], os.environ, file_actions=actions)
        _, status, ru = os.wait4(pid, 0)
        res = {"wall": time.perf_counter() - t0, "maxrss_kib": ru.ru_maxrss,
               "rc": os.waitstatus_to_exitcode(status)}
    except OSError as e:
        res = {"wall": 0.0, "maxrss_kib": 0, "rc": 127, "error": str(e)}
    sys.stdout.write(json.dumps(res) + "\n")
    sys.stdout.flush()
"""


class Spawner:
    """Runs commands from a small helper process; see SPAWNER above."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-S", "-c", SPAWNER],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        fd, self.errpath = tempfile.mkstemp(prefix="mof-loadsave-", suffix=".err")
        os.close(fd)
        self.floor = self.run(["true"])[1]  # peak RSS of a trivial child

    def run(self, argv):
        """Run argv; return (wall seconds, peak RSS bytes, exit code, stderr text)."""
        self.proc.stdin.write(json.dumps({"argv": argv, "stderr": self.errpath}) + "\n")
        res = json.loads(self.proc.stdout.readline())
        with open(self.errpath, encoding="utf-8", errors="replace") as f:
            err = res.get("error") or f.read()
        return res["wall"], res["maxrss_kib"] * 1024, res["rc"], err  # ru_maxrss is KiB

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()
        os.unlink(self.errpath)


class Side:
    """One command under test, with its samples."""

    def __init__(self, spawner, name, argv, out):
        self.spawner, self.name, self.argv, self.out = spawner, name, argv, out
        self.wall, self.rss = [], []

    def run(self, record=True):
        if os.path.exists(self.out):
            os.unlink(self.out)  # each run writes a fresh file
        wall, rss, rc, err = self.spawner.run(self.argv)
        if rc != 0:
            raise RuntimeError("%s failed (exit %d): %s\n%s"
                               % (self.name, rc, " ".join(self.argv), err.strip()))
        if record:
            self.wall.append(wall)
            self.rss.append(rss)

    def summary(self):
        return {
            "argv": self.argv,
            "wall_s": self.wall,
            "peak_rss_bytes": self.rss,
            "median_ms": statistics.median(self.wall) * 1e3,
            "min_ms": min(self.wall) * 1e3,
            "max_ms": max(self.wall) * 1e3,
            "peak_rss_mib": max(self.rss) / MIB,
        }


def compare_outputs(a_path, b_path):
    """Untimed check that both outputs parse and hold the same graph.

    Returns (verdict, detail): "identical" (byte-equal files), "same-graph"
    (GraphProto equal), "equivalent" (same nodes and initializer values,
    encoded differently), or "DIFFERENT".
    """
    import onnx
    from onnx import numpy_helper

    with open(a_path, "rb") as fa, open(b_path, "rb") as fb:
        if fa.read() == fb.read():
            return "identical", "byte-identical files"
    a, b = onnx.load(a_path), onnx.load(b_path)  # raises if either is invalid
    ga, gb = a.graph, b.graph
    notes = []
    for field in ("ir_version", "opset_import", "producer_name", "producer_version"):
        if getattr(a, field) != getattr(b, field):
            notes.append("model %s differs" % field)
    if ga == gb:
        return "same-graph", "; ".join(notes) or "graph protos equal"

    # Field-by-field, tolerant of tensor encoding (raw_data vs float_data...).
    diffs = []
    if len(ga.node) != len(gb.node):
        diffs.append("node count %d vs %d" % (len(ga.node), len(gb.node)))
    else:
        for i, (na, nb) in enumerate(zip(ga.node, gb.node)):
            if na != nb:
                diffs.append("node %d (%s %r) differs" % (i, na.op_type, na.name))
                break
    for field in ("input", "output", "value_info"):
        if list(getattr(ga, field)) != list(getattr(gb, field)):
            diffs.append("graph %s differs" % field)
    ia = {t.name: t for t in ga.initializer}
    ib = {t.name: t for t in gb.initializer}
    if ia.keys() != ib.keys():
        diffs.append("initializer names differ (%d vs %d)" % (len(ia), len(ib)))
    else:
        for name in ia:
            ta, tb = numpy_helper.to_array(ia[name]), numpy_helper.to_array(ib[name])
            if ta.dtype != tb.dtype or ta.shape != tb.shape or ta.tobytes() != tb.tobytes():
                diffs.append("initializer %r differs" % name)
                break
    if diffs:
        return "DIFFERENT", "; ".join(diffs + notes)
    return "equivalent", "; ".join(["tensor encodings differ"] + notes)


def bench_model(spawner, model, mof, pipeline, python, runs, workdir):
    base = os.path.splitext(os.path.basename(model))[0]
    mof_side = Side(spawner, "mof", [mof, "run", pipeline, model, "-o",
                            os.path.join(workdir, base + ".mof.onnx")],
                    os.path.join(workdir, base + ".mof.onnx"))
    onnx_side = Side(spawner, "onnx", [python, "-c", ONNX_LOADSAVE, model,
                              os.path.join(workdir, base + ".onnx.onnx")],
                     os.path.join(workdir, base + ".onnx.onnx"))
    sides = [mof_side, onnx_side]

    for s in sides:
        s.run(record=False)  # warm-up: page cache, dynamic loader, .pyc files
    for i in range(runs):
        for s in (sides if i % 2 == 0 else sides[::-1]):  # ABBA interleave
            s.run()

    verdict, detail = compare_outputs(mof_side.out, onnx_side.out)
    size = os.path.getsize(model)
    m, o = mof_side.summary(), onnx_side.summary()
    return {
        "model": base,
        "path": os.path.abspath(model),
        "file_bytes": size,
        "file_mib": size / MIB,
        "runs": runs,
        "mof": m,
        "onnx": o,
        "ratio_mof_onnx": m["median_ms"] / o["median_ms"],
        "mof_rss_per_file_size": max(mof_side.rss) / size,
        "output_check": verdict,
        "output_check_detail": detail,
    }


def baseline_import(spawner, python, runs):
    """Median wall / peak RSS of `python -c 'import onnx'` (startup overhead)."""
    if runs <= 0:
        return None
    spawner.run([python, "-c", ONNX_IMPORT])  # warm-up
    samples = [spawner.run([python, "-c", ONNX_IMPORT]) for _ in range(runs)]
    return {
        "median_ms": statistics.median(s[0] for s in samples) * 1e3,
        "peak_rss_mib": max(s[1] for s in samples) / MIB,
    }


def print_table(results, baseline, floor):
    if not results:
        return
    print("| model | file MiB | mof median ms | onnx median ms | mof/onnx "
          "| mof peak RSS MiB | mof RSS/file | python peak RSS MiB | outputs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        print("| %s | %.1f | %.1f | %.1f | %.2f | %.1f | %.2f | %.1f | %s |" % (
            r["model"], r["file_mib"], r["mof"]["median_ms"], r["onnx"]["median_ms"],
            r["ratio_mof_onnx"], r["mof"]["peak_rss_mib"], r["mof_rss_per_file_size"],
            r["onnx"]["peak_rss_mib"], r["output_check"]))
    print("\n%d timed run(s) per side, interleaved, after one warm-up each."
          % results[0]["runs"])
    if baseline:
        print("python start-up + `import onnx` alone: median %.1f ms, peak RSS %.1f MiB "
              "(included in the onnx column)." % (baseline["median_ms"], baseline["peak_rss_mib"]))
    print("peak RSS floor (a trivial child): %.1f MiB." % (floor / MIB))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", metavar="MODEL.onnx")
    ap.add_argument("--mof", default=os.environ.get("MOF"),
                    help="mof binary (default: $MOF, else ./mof, else mof on PATH)")
    ap.add_argument("--pipeline", default=DEFAULT_PIPELINE,
                    help="pipeline for `mof run` (default: %(default)s)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter with onnx for the python side (default: this one)")
    ap.add_argument("--runs", type=int, default=7, help="timed runs per side (default 7)")
    ap.add_argument("--baseline-runs", type=int, default=5,
                    help="runs of the `import onnx` baseline; 0 to skip (default 5)")
    ap.add_argument("--json", metavar="FILE", help="also write all samples as JSON")
    ap.add_argument("--keep", metavar="DIR",
                    help="write outputs to DIR and keep them (default: a temp dir)")
    args = ap.parse_args(argv)

    if args.runs < 1:
        ap.error("--runs must be at least 1")
    mof = find_mof(args.mof)
    if not mof:
        print("loadsave: mof binary not found (%s); build it first (make) or "
              "pass --mof PATH / set MOF" % (args.mof or "tried ./mof and PATH"),
              file=sys.stderr)
        return 2
    if not os.path.isfile(args.pipeline):
        print("loadsave: pipeline %s not found" % args.pipeline, file=sys.stderr)
        return 2
    for m in args.models:
        if not os.path.isfile(m):
            print("loadsave: model %s not found" % m, file=sys.stderr)
            return 2

    workdir = args.keep or tempfile.mkdtemp(prefix="mof-loadsave-")
    os.makedirs(workdir, exist_ok=True)
    spawner = Spawner()  # start it while this process is still small
    results, failed = [], False
    try:
        for model in args.models:
            try:
                results.append(bench_model(spawner, model, mof, args.pipeline,
                                           args.python, args.runs, workdir))
            except Exception as e:  # a failing run or unparsable output
                print("loadsave: %s: %s" % (model, e), file=sys.stderr)
                failed = True
        baseline = baseline_import(spawner, args.python, args.baseline_runs)
    finally:
        spawner.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print_table(results, baseline, spawner.floor)
    for r in results:
        if r["output_check"] == "DIFFERENT":
            failed = True
            print("loadsave: %s: outputs differ: %s" % (r["model"], r["output_check_detail"]),
                  file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mof": mof, "pipeline": args.pipeline, "python": args.python,
                       "cpu_count": os.cpu_count(), "results": results,
                       "rss_floor_mib": spawner.floor / MIB,
                       "onnx_import_baseline": baseline}, f, indent=2)
            f.write("\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

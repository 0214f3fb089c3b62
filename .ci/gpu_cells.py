"""Run the notebooks' cells flagged `gpu` on a CUDA machine and store their outputs in the notebooks.

    python .ci/gpu_cells.py run --out gpu_cells.json   # on the GPU machine: runs each `#| gpu` cell, captures what it prints
    python .ci/gpu_cells.py merge gpu_cells.json       # here: writes those outputs into the notebooks' cells (by cell id)

`gpu` cells are self-contained (their own imports and data), so each runs alone, in a fresh namespace, without the rest of
its notebook; the notebook tests (nbdev_test's `tst_flags = slow gpu`) skip them and keep their stored outputs."""
import contextlib, io, json, re, sys, time, traceback
from pathlib import Path

NBS = Path(__file__).resolve().parent.parent / "nbs"
FLAG = re.compile(r"^\s*#\s*\|\s*gpu\b", re.M)


def gpu_cells():
    for p in sorted(NBS.glob("*.ipynb")):
        for c in json.loads(p.read_text())["cells"]:
            src = "".join(c["source"])
            if c["cell_type"] == "code" and FLAG.search(src): yield p, c["id"], src


def run(out):
    res = {}
    for p, cid, src in gpu_cells():
        buf, t = io.StringIO(), time.perf_counter()
        try:
            with contextlib.redirect_stdout(buf): exec(compile(src, f"{p.name}:{cid}", "exec"), {"__name__": "__main__"})
            ok = True
        except Exception:
            ok = False; buf.write(traceback.format_exc())
        res[f"{p.name}:{cid}"] = dict(ok=ok, stdout=buf.getvalue(), seconds=time.perf_counter() - t)
        print(f"{'ok' if ok else 'FAILED'} {p.name}:{cid} ({res[f'{p.name}:{cid}']['seconds']:.1f}s)\n{buf.getvalue()}", flush=True)
        Path(out).write_text(json.dumps(res, indent=1))
    return 0 if all(r["ok"] for r in res.values()) else 1


def merge(path):
    res = json.loads(Path(path).read_text())
    for name in sorted({k.split(":")[0] for k in res}):
        p = NBS / name; nb = json.loads(p.read_text())
        for c in nb["cells"]:
            r = res.get(f"{name}:{c.get('id')}")
            if r is None: continue
            if not r["ok"]: sys.exit(f"{name}:{c['id']} failed on the GPU; not merging:\n{r['stdout']}")
            c["outputs"] = [dict(name="stdout", output_type="stream", text=r["stdout"].splitlines(keepends=True))]
        p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        print(f"merged the gpu cells of {name}")
    return 0


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cmd", choices=["run", "merge"])
    ap.add_argument("path", nargs="?", help="merge: the results file written by run (run: where to write them, as --out)")
    ap.add_argument("--out", help="run: where to write the results (default gpu_cells.json)")
    a = ap.parse_args()
    if a.cmd == "merge" and not a.path: ap.error("merge needs the results file written by run")
    if a.cmd == "run" and a.path and a.out and a.path != a.out: ap.error(f"two results files named: {a.path} and --out {a.out}")
    sys.exit(run(a.path or a.out or "gpu_cells.json") if a.cmd == "run" else merge(a.path))

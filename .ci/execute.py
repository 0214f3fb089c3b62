"""Execute notebooks in place, top to bottom, so that their stored outputs are what the current code prints.

    python .ci/execute.py nbs/20_tl.ipynb [more.ipynb ...]   # every cell but those flagged slow or gpu (their stored outputs kept)
    python .ci/execute.py --slow nbs/05_zinbwave.ipynb       # the slow cells too (the gpu cells: .ci/gpu_cells.py)
    python .ci/execute.py --check nbs/20_tl.ipynb            # run, write nothing, list the cells whose outputs would change

Each cell's outputs are cleared before it runs. nbdev's runner (execnb) keeps a cell's old outputs when the cell prints
nothing, so a notebook run with it again can keep warnings and results its code no longer gives. Timings and the last
digits of stochastic fits differ between machines: read the list of changed cells before committing, then `nbdev_clean`.
A cell that reads what a slow cell made prints less when the slow cell is skipped (the GLMM chapter's comparison with
lme4 and glmmTMB loses the slow fits' columns; so does the table of the VI tutorial): run such a notebook with `--slow`,
or keep its stored outputs.
A notebook whose cell raises is not written (exit status 1)."""
import argparse, json, os, re, sys, time
from pathlib import Path

FLAGS = re.compile(r"^\s*#\s*\|\s*(slow|gpu)\b", re.M)


def _text(outputs)->str:
    "What a reader sees of a cell's outputs, for the comparison: streams, plain-text results, a marker per image."
    parts = []
    for o in outputs:
        if o.get("output_type") == "stream": parts.append(o.get("name", "") + ": " + "".join(o.get("text", "")))
        elif o.get("output_type") == "error": parts.append("error: " + o.get("ename", ""))
        else:
            d = o.get("data", {})
            parts.append("".join(d.get("text/plain", "")) + (" [image]" if any(k.startswith("image/") for k in d) else ""))
    return "\n".join(parts)


def execute(path, slow:bool=False, check:bool=False)->int:
    "Run the notebook at `path` (cells flagged gpu, and slow unless `slow`, keep their outputs); write it back unless `check`."
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    path = Path(path).resolve()
    nb, old = read_nb(path), json.loads(path.read_text())["cells"]
    skip = {"gpu"} | (set() if slow else {"slow"})
    cwd, t0 = os.getcwd(), time.perf_counter()
    os.chdir(path.parent); os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        shell = CaptureShell()
        for c in nb.cells:
            m = FLAGS.search(c.source) if c.cell_type == "code" else None
            if c.cell_type != "code" or (m and m.group(1) in skip): continue
            c.outputs = []
            shell.cell(c)
            err = next((o for o in c.outputs if o.get("output_type") == "error"), None)
            if err is not None:
                print(f"{path.name}: cell {c.get('id')} raised {err.get('ename')}: {err.get('evalue')}; nothing written", file=sys.stderr)
                return 1
    finally: os.chdir(cwd)
    changed = [c.get("id") for c, o in zip(nb.cells, old) if c.cell_type == "code" and _text(c.get("outputs", [])) != _text(o.get("outputs", []))]
    if not check: write_nb(nb, path)
    print(f"{path.name}: {time.perf_counter() - t0:.0f} s; outputs changed in {len(changed)} cell(s){': ' + ', '.join(changed) if changed else ''}"
          + ("" if check else "; written"))
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+")
    ap.add_argument("--slow", action="store_true", help="run the cells flagged slow too")
    ap.add_argument("--check", action="store_true", help="write nothing; list the cells whose outputs would change")
    a = ap.parse_args()
    missing = [p for p in a.notebooks if not Path(p).is_file()]
    if missing: ap.error(f"no such notebook: {', '.join(missing)}")
    sys.exit(max(execute(p, a.slow, a.check) for p in a.notebooks))

#!/usr/bin/env python
"""Write README.md from nbs/index.ipynb (what `nbdev_readme` does, without Quarto).

    python docs/readme.py           # rewrite README.md
    python docs/readme.py --check   # exit 1 if README.md is not what index.ipynb gives

The notebook is cleaned exactly as for the documentation site (`docs/build.py:process_notebook`: hidden
cells dropped, `#|` lines removed); markdown cells are copied, code cells become ```python blocks followed by
their text output. Images are left to the site.
"""
from __future__ import annotations
import argparse, re, json, sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))
from build import process_notebook, settings  # noqa: E402

def _text(v): return "".join(v) if isinstance(v, list) else v

def _output_text(o) -> str | None:
    if o.get("output_type") == "stream": return _text(o["text"])
    data = o.get("data", {})
    if "text/markdown" in data: return None  # rendered markdown: shown on the site
    if "text/plain" in data: return _text(data["text/plain"])
    return None

def render(nb_path: Path) -> str:
    nb, _ = process_notebook(json.loads(nb_path.read_text(encoding="utf-8")), nb_path)
    parts = []
    for c in nb["cells"]:
        src = _text(c["source"]).strip()
        if c["cell_type"] == "markdown":
            # links to notebooks are relative to nbs/ (right for the docs site and JupyterLab); README sits one level up
            parts.append(re.sub(r"\]\((?!https?://|#|/)([^)]+\.ipynb)\)", r"](nbs/\1)", src))
        elif c["cell_type"] == "code":
            if src: parts.append(f"```python\n{src}\n```")
            outs = [t.rstrip() for o in c.get("outputs", []) if (t := _output_text(o))]
            if outs: parts.append("```\n" + "\n".join(outs) + "\n```")
    note = "<!-- generated from nbs/index.ipynb by docs/readme.py: edit the notebook, not this file -->"
    return note + "\n\n" + "\n\n".join(parts) + "\n"

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    a = p.parse_args(argv)
    cfg = settings()
    text = render(ROOT / cfg["nbs_path"] / cfg.get("readme_nb", "index.ipynb"))
    readme = ROOT / "README.md"
    if a.check:
        ok = readme.exists() and readme.read_text(encoding="utf-8") == text
        if not ok: print("README.md is out of date: run `python docs/readme.py`", file=sys.stderr)
        return 0 if ok else 1
    readme.write_text(text, encoding="utf-8")
    return 0

if __name__ == "__main__":
    sys.exit(main())

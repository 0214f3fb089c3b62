#!/usr/bin/env python
"""Build the zinb_nb documentation site: the notebooks in `nbs/` -> static HTML in `_docs/`.

    python docs/build.py                        # nbs/ -> _docs/ (open _docs/index.html)
    python docs/build.py --nbs DIR --out DIR    # another notebook folder / output folder

1. Every notebook under `--nbs` (recursively) is rewritten into `<workdir>/_src/` the way nbdev
   renders docs: `#| hide` / `#| include: false` cells and `nbdev_export()` cells are dropped,
   `#| echo: false` keeps the output without the code, headings ending in ` -` are dropped, and every
   `#|` directive line is removed from the code that is shown. Stored outputs are kept as they are
   (nothing is executed). `index.ipynb` becomes the home page, with the navigation appended to it.
2. One API page per module `<lib>/*.py` (sphinx autodoc), plus the docments comments of each parameter.
3. The parts of MathJax 2 needed to typeset TeX are copied from Debian's libjs-mathjax, so the site
   needs no network. Then Sphinx (myst-nb + furo, configured by docs/conf.py) writes the HTML.
"""
from __future__ import annotations

import argparse, configparser, copy, json, os, re, shutil, subprocess, sys, time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
MATHJAX_DEFAULT = "/usr/share/javascript/mathjax"
# What MathJax 2 loads for `config=TeX-AMS_CHTML` (a combined config) and nothing else: ~1.5 MB of 54.
MATHJAX_PARTS = ["MathJax.js", "config/TeX-AMS_CHTML.js", "extensions", "jax/input/TeX",
                 "jax/element/mml", "jax/output/CommonHTML", "jax/output/PreviewHTML",
                 "fonts/HTML-CSS/TeX/woff"]
ASSET_EXTS = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".csv", ".txt"}


def settings() -> configparser.SectionProxy:
    cfg = configparser.ConfigParser(delimiters=["="])
    cfg.read(ROOT / "settings.ini", encoding="utf-8")
    return cfg["DEFAULT"]


# ---------------------------------------------------------------------------------------------
# Notebook preprocessing (nbdev directives -> what the reader should see)
# ---------------------------------------------------------------------------------------------
_re_dir = re.compile(r"^\s*#\s*\|")                           # `#| x`, `#|x`, `# |x`, `# | x`
_re_hide_line = re.compile(r"\s*#\s*\|\s*hide_line\s*$")      # `code  #| hide_line`
_re_magic = re.compile(r"^\s*%")                              # `%matplotlib inline`, `%%time`
_re_export_call = re.compile(r"^(import nbdev|from nbdev(\.\w+)* import .*nbdev_export.*"
                             r"|(nbdev\.)?(\w+\.)*nbdev_export\(.*\))$")
_re_h1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)
_re_dash_heading = re.compile(r"^#+\s+.*\s+-\s*$")
_re_callout = re.compile(r"^(\s*:::+)\s*\{\.callout-(\w+)[^}]*\}\s*$", re.M)
_CALLOUTS = {"note": "note", "tip": "tip", "warning": "warning", "caution": "caution",
             "important": "important"}
_WIDGET_MIMES = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")
_FALSE = {"false", "no", "0"}


def parse_directive(line: str):
    "`#| echo: false` -> ('echo', ['false']); `#|hide` -> ('hide', []) (as nbdev reads them)."
    s = _re_dir.sub("", line, count=1).strip()
    if s.endswith(":"): s = s[:-1]
    s = s.replace(":", ": ").split()
    return (s[0].rstrip(":"), s[1:]) if s else None


def split_directives(src: str):
    "Leading directive lines (parsed) and the code lines after them, with every `#|` line removed."
    lines = src.splitlines()
    dirs, i = {}, 0
    while i < len(lines) and (not lines[i].strip() or _re_dir.match(lines[i]) or _re_magic.match(lines[i])):
        if _re_dir.match(lines[i]) and (d := parse_directive(lines[i])): dirs[d[0]] = d[1]
        i += 1
    code = [l for l in lines[i:] if not _re_dir.match(l) and not _re_hide_line.search(l)]
    code = [l for l in code if not _re_magic.match(l)]           # nbdev's clean_magics
    return dirs, "\n".join(code).strip("\n")


def is_export_call(code: str) -> bool:
    "True for a cell that only runs `nbdev_export()` (possibly with its import)."
    parts = [p.split("#")[0].strip() for l in code.splitlines() for p in l.split(";")]
    parts = [p for p in parts if p]
    return bool(parts) and any("nbdev_export" in p for p in parts) and all(_re_export_call.match(p) for p in parts)


def _is_false(v) -> bool: return bool(v) and str(v[0]).strip("'\"").lower() in _FALSE
def _is_true(v) -> bool: return not v or str(v[0]).strip("'\"").lower() not in _FALSE


def _clean_outputs(outputs, filter_words=()):
    res = []
    for o in outputs:
        o = copy.deepcopy(o)
        if "data" in o:
            for m in _WIDGET_MIMES: o["data"].pop(m, None)
            if not o["data"]: continue
        if o.get("output_type") == "stream":
            text = o.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            text = "\n".join(l.rsplit("\r", 1)[-1] for l in text.split("\n"))   # progress bars: last state
            if filter_words:
                text = "".join(l for l in text.splitlines(True) if not re.search("|".join(map(re.escape, filter_words)), l))
            if not text.strip(): continue
            o["text"] = text
        res.append(o)
    return res


def _frontmatter_title(src: str):
    m = re.match(r"^\s*---\s*\n(.*?)\n---", src, re.S)
    if not m: return None
    t = re.search(r"^title:\s*(.+?)\s*$", m.group(1), re.M)
    return t.group(1).strip("'\"") if t else ""


def title_from_name(path: Path) -> str:
    s = re.sub(r"^\d+[a-z]?_", "", path.stem).replace("_", " ")
    return s[:1].upper() + s[1:]


def process_notebook(nb: dict, path: Path) -> tuple[dict, str | None]:
    "Apply nbdev's doc rules to `nb` (a JSON dict); return the new notebook and its `default_exp`."
    nb = copy.deepcopy(nb)
    cells, title, default_exp = [], None, None
    for cell in nb.get("cells", []):
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        ctype = cell.get("cell_type")
        if ctype == "raw":
            t = _frontmatter_title(src)
            if t is not None:                                      # YAML front matter: keep only the title
                title = title or t
                continue
            fmt = cell.get("metadata", {}).get("format") or cell.get("metadata", {}).get("raw_mimetype")
            if not fmt: continue                                   # raw text nbdev doesn't render either
            cells.append(cell); continue
        if ctype == "markdown":
            lines = [l for l in src.splitlines() if not _re_dash_heading.match(l)]   # "## Export -"
            src = "\n".join(lines).strip()
            if not src: continue
            src = _re_callout.sub(lambda m: f"{m.group(1)}{{{_CALLOUTS.get(m.group(2).lower(), 'note')}}}", src)
            cell["source"] = src
            cells.append(cell); continue
        if ctype != "code": continue
        dirs, code = split_directives(src)
        if "default_exp" in dirs and dirs["default_exp"]: default_exp = dirs["default_exp"][0]
        if "hide" in dirs or _is_false(dirs.get("include")): continue
        if is_export_call(code): continue
        outputs = _clean_outputs(cell.get("outputs", []), dirs.get("filter_stream", ()))
        if _is_false(dirs.get("output")) or "hide_output" in dirs: outputs = []
        tags = list(cell.get("metadata", {}).get("tags", []))
        echo_off = (_is_false(dirs.get("echo")) or "hide_input" in dirs
                    or re.match(r"^\s*show_doc\(", code) is not None)  # nbdev shows show_doc output only
        if echo_off or not code.strip():
            if not outputs: continue
            tags.append("remove-input")
        elif "code-fold" in dirs and _is_true(dirs["code-fold"]):
            tags.append("hide-input")                              # a worked solution: folded until the reader opens it
        cell["source"] = code
        cell["outputs"] = outputs
        md = {k: v for k, v in cell.get("metadata", {}).items() if k not in ("tags", "hidden", "collapsed")}
        if tags: md["tags"] = sorted(set(tags))
        cell["metadata"] = md
        cells.append(cell)

    has_h1 = any(c["cell_type"] == "markdown" and _re_h1.search(c["source"]) for c in cells)
    if not has_h1:
        cells.insert(0, _md(f"# {title or title_from_name(path)}", "zinb-nb-docs-title"))
    for i, c in enumerate(cells): c.setdefault("id", f"cell-{i}")  # nbformat 4.5: every cell has an id
    nb["cells"], nb["nbformat"], nb["nbformat_minor"] = cells, 4, max(5, nb.get("nbformat_minor", 5))
    md = nb.setdefault("metadata", {})
    md.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    md.setdefault("language_info", {"name": "python"})
    return nb, default_exp


def nb_title(nb: dict, fallback: str) -> str:
    for c in nb["cells"]:
        if c["cell_type"] == "markdown" and (m := _re_h1.search(c["source"])): return m.group(1)
    return fallback


def _md(src: str, id: str) -> dict: return {"cell_type": "markdown", "id": id, "metadata": {}, "source": src}


COURSE, LIBRARY = "Course: the models, derived", "Library internals"


def toctree(caption: str, entries: list[str], hidden=True) -> str:
    opts = (":hidden:\n" if hidden else "") + f":caption: {caption}\n:maxdepth: 1\n"
    return "```{toctree}\n" + opts + "\n" + "\n".join(entries) + "\n```\n"


def write_if_changed(path: Path, text: str):
    "Write `text` unless `path` already holds it, so that Sphinx rebuilds only what changed."
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text(encoding="utf-8") == text: return
    path.write_text(text, encoding="utf-8")


def discover_modules(lib: Path) -> list[str]:
    "Public modules of the package: `<lib>/*.py` except `__init__.py`, `_modidx.py` and other `_private.py`."
    return sorted(p.stem for p in lib.glob("*.py") if not p.stem.startswith("_"))


def prepare_sources(nbs: Path, lib: Path, src: Path) -> dict:
    "Write the Sphinx sources for `nbs` and `lib` into `src`; return a summary."
    wanted: dict[Path, str] = {}
    notebooks = sorted(p for p in nbs.rglob("*.ipynb")
                       if not any(part.startswith((".", "_")) for part in p.relative_to(nbs).parts))
    pages, exp_of = {}, {}
    for p in notebooks:
        rel = p.relative_to(nbs)
        nb, exp = process_notebook(json.loads(p.read_text(encoding="utf-8")), p)
        if exp: exp_of[exp] = rel.with_suffix("").as_posix()
        pages[rel] = nb
    for p in nbs.rglob("*"):                                       # images etc. the markdown may link to
        rel = p.relative_to(nbs)
        if p.is_file() and p.suffix.lower() in ASSET_EXTS and not any(x.startswith(".") for x in rel.parts):
            wanted[src / rel] = None

    # API reference: one page per module
    mods = discover_modules(lib)
    pkg = lib.name
    api_docs = []
    for m in mods:
        nb_link = ""
        if m in exp_of:
            nbpage = exp_of[m]
            t = nb_title(pages[Path(nbpage + ".ipynb")], nbpage)
            nb_link = f"Derived, tested and exported in the notebook [{t}](../{nbpage}.ipynb).\n\n"
        wanted[src / "api" / f"{m}.md"] = (f"# {pkg}.{m}\n\n{nb_link}```{{eval-rst}}\n.. automodule:: {pkg}.{m}\n"
                                           "   :members:\n   :undoc-members:\n   :show-inheritance:\n```\n")
        api_docs.append(f"api/{m}")

    # navigation: the course (chapters 00-09), tutorials, the library's internals (10-99), other folders, API reference
    groups: dict[str, list[str]] = {}
    for rel in pages:
        if rel.as_posix() == "index.ipynb": continue
        folder = rel.parent.as_posix()
        if folder == ".": cap = COURSE if re.match(r"^0\d_", rel.name) else LIBRARY
        else: cap = folder.replace("_", " ").replace("/", " / ").capitalize()
        groups.setdefault(cap, []).append(rel.with_suffix("").as_posix())
    # inside a group, pages in the order the home page links them (the reading order), then the rest by name
    home = json.dumps(pages.get(Path("index.ipynb"), {}).get("cells", []))
    for cap in groups:
        groups[cap].sort(key=lambda r: (home.find(f"({r}.ipynb)") if f"({r}.ipynb)" in home else len(home), r))
    order = lambda cap: (cap != COURSE, cap != "Tutorials", cap != LIBRARY, cap)
    nav = "".join(toctree(cap, groups[cap]) for cap in sorted(groups, key=order))
    if api_docs: nav += toctree("API reference", api_docs)

    cfg = settings()
    index = Path("index.ipynb")
    if index in pages:
        pages[index]["cells"].append(_md(nav, "zinb-nb-docs-nav"))
    else:                                                          # no index notebook (yet): a plain home page
        wanted[src / "index.md"] = f"# {cfg.get('title', 'zinb_nb')}\n\n> {cfg.get('description', '')}\n\n{nav}"
    for rel, nb in pages.items():
        wanted[src / rel] = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"

    # write, copy assets, and delete anything stale from an earlier build
    for path, text in wanted.items():
        if text is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            s = nbs / path.relative_to(src)
            if not path.exists() or path.stat().st_mtime < s.stat().st_mtime: shutil.copy2(s, path)
        else: write_if_changed(path, text)
    for p in sorted(src.rglob("*"), reverse=True):
        if p.is_file() and p not in wanted: p.unlink()
        elif p.is_dir() and not any(p.iterdir()): p.rmdir()
    titles = {rel.as_posix(): nb_title(nb, rel.stem) for rel, nb in pages.items()}
    return {"notebooks": titles, "modules": [f"{pkg}.{m}" for m in mods]}


# ---------------------------------------------------------------------------------------------
# MathJax, Sphinx, output folder
# ---------------------------------------------------------------------------------------------
def copy_mathjax(mathjax: Path, static: Path):
    "Copy the parts of MathJax 2 that `TeX-AMS_CHTML` needs into `static/mathjax`."
    if not (mathjax / "MathJax.js").is_file() or not (mathjax / "config/TeX-AMS_CHTML.js").is_file():
        sys.exit(f"build.py: MathJax 2 not found at {mathjax}. Install it with `sudo apt-get install "
                 f"libjs-mathjax` (Debian/Ubuntu), or point ZINB_NB_MATHJAX (or --mathjax) at a MathJax 2.7 "
                 f"folder (one holding MathJax.js, config/, jax/, extensions/, fonts/).")
    dest = static / "mathjax"
    stamp = dest / ".source"
    if stamp.exists() and stamp.read_text() == str(mathjax.resolve()): return
    shutil.rmtree(dest, ignore_errors=True)
    for part in MATHJAX_PARTS:
        s, d = mathjax / part, dest / part
        if not s.exists(): sys.exit(f"build.py: {s} is missing: is {mathjax} a complete MathJax 2.7?")
        d.parent.mkdir(parents=True, exist_ok=True)
        if s.is_dir(): shutil.copytree(s, d)                       # follows symlinks (Debian links fonts)
        else: shutil.copy2(s, d)
    stamp.write_text(str(mathjax.resolve()))


def _safe_to_replace(out: Path) -> bool:
    "Only ever delete an output folder that is empty or that this script wrote."
    return not out.exists() or not any(out.iterdir()) or (out / ".buildinfo").exists()


def du(path: Path) -> int: return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nbs", type=Path, default=ROOT / settings().get("nbs_path", "nbs"),
                    help="notebook folder (default: nbs/)")
    ap.add_argument("--lib", type=Path, default=ROOT / settings().get("lib_path", "zinb_nb"),
                    help="package folder whose modules get API pages (default: zinb_nb/)")
    ap.add_argument("--out", type=Path, default=ROOT / settings().get("doc_path", "_docs"),
                    help="output folder for the HTML (default: _docs/)")
    ap.add_argument("--workdir", type=Path, default=DOCS,
                    help="where _src/ (preprocessed sources) and _build/ go (default: docs/)")
    ap.add_argument("--mathjax", type=Path, default=Path(os.environ.get("ZINB_NB_MATHJAX", MATHJAX_DEFAULT)),
                    help="MathJax 2.7 folder (default: $ZINB_NB_MATHJAX or /usr/share/javascript/mathjax)")
    ap.add_argument("-W", "--strict", action="store_true", help="turn Sphinx warnings into errors")
    ap.add_argument("-q", "--quiet", action="store_true", help="only print warnings and the summary")
    a = ap.parse_args(argv)
    nbs, lib, out, work = (p.resolve() for p in (a.nbs, a.lib, a.out, a.workdir))
    if not nbs.is_dir(): sys.exit(f"build.py: notebook folder {nbs} not found")
    if not _safe_to_replace(out):
        sys.exit(f"build.py: {out} exists and was not written by Sphinx (no .buildinfo): refusing to replace it")

    t0 = time.time()
    src, build = work / "_src", work / "_build"
    copy_mathjax(a.mathjax, build / "static")
    info = prepare_sources(nbs, lib, src)
    html = build / "html"    # myst-nb writes its images to html/../jupyter_execute: keep that inside _build
    env = dict(os.environ, ZINB_NB_DOCS_LIB=str(lib), ZINB_NB_DOCS_STATIC=str(build / "static"))
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(DOCS), "-d", str(build / "doctrees"),
           str(src), str(html)] + (["-W", "--keep-going"] if a.strict else []) + (["-q"] if a.quiet else [])
    rc = subprocess.call(cmd, env=env)
    if rc: return rc
    if out != html:
        if out.exists(): shutil.rmtree(out)
        shutil.copytree(html, out)
    if (out / "_sources").is_dir() and not any((out / "_sources").iterdir()): (out / "_sources").rmdir()
    (out / ".nojekyll").touch()                                    # GitHub Pages must serve _static/, _images/
    print(f"build.py: {len(info['notebooks'])} notebooks, {len(info['modules'])} API pages -> "
          f"{out}/index.html ({du(out)/2**20:.1f} MB) in {time.time()-t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sphinx configuration for the zinb_nb site. Run it through `python docs/build.py`, which writes the
sources this reads (docs/_src/, from the notebooks) and sets ZINB_NB_DOCS_LIB / ZINB_NB_DOCS_STATIC."""
import configparser, os, re, sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
_cfg = configparser.ConfigParser(delimiters=["="])
_cfg.read(ROOT / "settings.ini", encoding="utf-8")
cfg = _cfg["DEFAULT"]

# Document the package in the working tree (not whatever version is installed)
LIB = Path(os.environ.get("ZINB_NB_DOCS_LIB", ROOT / cfg.get("lib_path", "zinb_nb")))
sys.path.insert(0, str(LIB.parent))

project = cfg.get("title", "zinb_nb")
author = cfg.get("author", "")
copyright = cfg.get("copyright", "")
release = version = cfg.get("version", "")

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.mathjax", "sphinx.ext.viewcode"]
exclude_patterns = ["_build", "jupyter_execute", "**/.ipynb_checkpoints"]
default_role = "code"                  # `x` in (markdown-style) docstrings renders as code

# --- notebooks: render what is stored, never execute ------------------------------------------------
nb_execution_mode = "off"
nb_merge_streams = True
nb_render_markdown_format = "myst"     # text/markdown outputs (show_doc, Markdown(...)) may hold $math$
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]    # notebooks often jump from # to ###; that's fine

# --- API pages --------------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"      # types go next to each parameter's docments comment
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = False    # torch.distributions docstrings (Google style) are not ours

# --- MathJax 2, served from _static/mathjax (copied from libjs-mathjax by build.py): works offline ----
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS_CHTML"
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                "processEscapes": False, "processEnvironments": True,
                # myst marks each page `mathjax_ignore` and each formula `math`: only formulas are typeset
                "ignoreClass": "tex2jax_ignore|mathjax_ignore",
                "processClass": "tex2jax_process|mathjax_process|math|output_area"},
    "TeX": {"equationNumbers": {"autoNumber": "none"}},
    "CommonHTML": {"linebreaks": {"automatic": True}},
    "messageStyle": "none",
}

# --- HTML -------------------------------------------------------------------------------------------
html_theme = "furo"
html_title = project
html_static_path = [str(DOCS / "_static"), os.environ.get("ZINB_NB_DOCS_STATIC", str(DOCS / "_build" / "static"))]
html_css_files = ["custom.css"]
html_copy_source = False               # the .ipynb sources would double the size of the site
html_show_sourcelink = False
html_baseurl = cfg.get("doc_host", "").rstrip("/") + cfg.get("doc_baseurl", "") + "/"
html_theme_options = {
    "footer_icons": [{"name": "GitHub", "url": cfg.get("git_url", ""), "html": "GitHub", "class": ""}],
}


def _rst_inline(s: str) -> str:
    "Markdown-ish docments comment -> safe RST: `code` stays code, `*` and `|` are literal."
    parts = re.split(r"(`[^`]+`)", s)
    return "".join(f"``{p[1:-1]}``" if p.startswith("`") else re.sub(r"([*|\\])", r"\\\1", p) for p in parts)


def _add_docments(app, what, name, obj, options, lines):
    "Append nbdev docments (the comment after each parameter) as :param: / :returns: fields."
    if what not in ("function", "method", "class") or any(l.lstrip().startswith(":param") for l in lines): return
    try:
        from fastcore.docments import docments
        d = docments(obj)
    except Exception: return
    fields = [f":param {k}: {_rst_inline(v)}" for k, v in d.items() if k not in ("return", "self") and v]
    if d.get("return") and what != "class": fields.append(f":returns: {_rst_inline(d['return'])}")
    if fields: lines.extend([""] + fields)


def _mathjax2_only(app):
    # myst-parser (run before this) sets mathjax4_config, which would also be emitted as
    # `window.MathJax = {...}`; the classes it sets are already in mathjax2_config above.
    for attr in ("mathjax3_config", "mathjax4_config"):
        if hasattr(app.config, attr): setattr(app.config, attr, None)


def setup(app):
    app.connect("autodoc-process-docstring", _add_docments)
    app.connect("builder-inited", _mathjax2_only, priority=900)

"`zinb_nb/` must be exactly what `nbdev_export` makes of `nbs/`: the notebooks are the source."
import shutil, subprocess, sys
from pathlib import Path
from conftest import ROOT, LIB, CFG

def _py_files(d: Path):
    return {p.relative_to(d).as_posix(): p.read_text(encoding='utf-8') for p in d.rglob('*.py') if '__pycache__' not in p.parts}

def test_export_is_reproducible(tmp_path):
    "A fresh export into a package folder holding only `__init__.py` (its version line, kept by nbdev's version commands) gives `zinb_nb/` file for file: a module no notebook exports, or one a notebook would change, fails."
    import os
    for name in ('settings.ini', 'setup.py'): shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / CFG['nbs_path'], tmp_path / CFG['nbs_path'])
    (tmp_path / CFG['lib_path']).mkdir()
    shutil.copy(LIB / '__init__.py', tmp_path / CFG['lib_path'] / '__init__.py')
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}   # nbdev_export does nothing when IN_TEST is set
    r = subprocess.run([sys.executable, '-c', 'import nbdev; nbdev.nbdev_export()'],
                       cwd=tmp_path, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    repo, fresh = _py_files(LIB), _py_files(tmp_path / CFG['lib_path'])
    assert sorted(fresh) == sorted(repo), f"modules differ: {set(fresh) ^ set(repo)}"
    changed = [k for k in repo if repo[k] != fresh[k]]
    assert not changed, f"nbdev_export would change {changed}: edit the notebook, not zinb_nb/, and re-export"

def test_every_library_notebook_exports_a_module():
    import json
    for nb in sorted((ROOT / CFG['nbs_path']).glob('[0-9][0-9]_*.ipynb')):
        cells = json.loads(nb.read_text())['cells']
        exp = [c for c in cells if c['cell_type'] == 'code' and ''.join(c['source']).lstrip().startswith('#| default_exp')]
        assert exp, f"{nb.name} has no `#| default_exp`"
        mod = ''.join(exp[0]['source']).split()[2]
        assert (LIB / f"{mod.replace('.', '/')}.py").exists(), f"{nb.name} -> zinb_nb/{mod}.py missing"

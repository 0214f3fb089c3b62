"""Run every notebook top to bottom with nbdev's runner, as `nbdev_test` does (cells flagged in `tst_flags` skipped).

    ZINB_NB_SLOW=1 OMP_NUM_THREADS=1 pytest tests/test_notebooks.py    # also the `#| slow` cells (the full-size reference checks)
"""
import os, subprocess, sys
import pytest
from conftest import ROOT, NBS, SKIP_FLAGS, SLOW, notebooks

RUNNER = """
import sys
from pathlib import Path
from nbdev.test import test_nb
ok, secs = test_nb(Path(sys.argv[1]), skip_flags=sys.argv[2:], showerr=True)
print(f"{sys.argv[1]}: {'ok' if ok else 'FAILED'} in {secs:.1f}s")
sys.exit(0 if ok else 1)
"""

def test_slow_flag_only_lifts_slow():
    "ZINB_NB_SLOW=1 lifts the `slow` flag and nothing else; unset (or 0), every flag of settings.ini is skipped."
    def flags(value):
        env = {k: v for k, v in os.environ.items() if k != 'ZINB_NB_SLOW'}
        if value is not None: env['ZINB_NB_SLOW'] = value
        r = subprocess.run([sys.executable, '-c', 'import conftest; print(" ".join(conftest.SKIP_FLAGS))'],
                           cwd=ROOT / 'tests', env=env, capture_output=True, text=True, check=True)
        return set(r.stdout.split())
    assert flags(None) == flags('0') == {'slow', 'gpu'}
    assert flags('1') == {'gpu'}

def test_there_are_notebooks():
    names = {p.name for p in notebooks()}
    assert {'index.ipynb', '00_distributions.ipynb'} <= names, names

@pytest.mark.parametrize('nb', notebooks(), ids=lambda p: str(p.relative_to(NBS)))
def test_notebook_runs(nb):
    # a fresh interpreter per notebook, so no state leaks from one chapter into the next
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': os.environ.get('PYTHONWARNINGS', '')}
    r = subprocess.run([sys.executable, '-c', RUNNER, str(nb), *SKIP_FLAGS], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=7200 if SLOW else 1200)
    assert r.returncode == 0, f"{nb.name} failed:\n{r.stdout[-3000:]}\n{r.stderr[-8000:]}"

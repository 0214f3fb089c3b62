"Shared paths for the test-suite."
import os
from pathlib import Path
import configparser
import pytest

ROOT = Path(__file__).resolve().parents[1]

def _cfg():
    c = configparser.ConfigParser(delimiters=['='])
    c.read(ROOT / 'settings.ini', encoding='utf-8')
    return c['DEFAULT']

CFG = _cfg()
NBS = ROOT / CFG['nbs_path']
LIB = ROOT / CFG['lib_path']
# Cells flagged with one of these are skipped, as `nbdev_test` does. ZINB_NB_SLOW=1 runs the `slow` cells too (the full-size
# reference checks; the scheduled workflow .github/workflows/slow.yaml sets it); `gpu` cells are always skipped here (their stored outputs come
# from a run on a GPU machine).
SLOW = os.environ.get('ZINB_NB_SLOW', '') not in ('', '0')
SKIP_FLAGS = [f for f in CFG.get('tst_flags', '').split() if not (SLOW and f == 'slow')]

def notebooks():
    "Every notebook nbdev would test: nbs/**/*.ipynb, minus checkpoints and `_`/`.`-prefixed files."
    return sorted(p for p in NBS.rglob('*.ipynb')
                  if not any(part.startswith(('.', '_')) for part in p.relative_to(NBS).parts))

@pytest.fixture(scope='session')
def root(): return ROOT

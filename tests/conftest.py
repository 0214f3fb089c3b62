"Shared paths for the test-suite."
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
SKIP_FLAGS = CFG.get('tst_flags', '').split()

def notebooks():
    "Every notebook nbdev would test: nbs/**/*.ipynb, minus checkpoints and `_`/`.`-prefixed files."
    return sorted(p for p in NBS.rglob('*.ipynb')
                  if not any(part.startswith(('.', '_')) for part in p.relative_to(NBS).parts))

@pytest.fixture(scope='session')
def root(): return ROOT

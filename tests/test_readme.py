"README.md is generated from nbs/index.ipynb and opens with the two commands CI runs."
import re, subprocess, sys
from conftest import ROOT

def test_readme_is_generated_from_index():
    r = subprocess.run([sys.executable, str(ROOT / 'docs' / 'readme.py'), '--check'], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

def test_readme_opens_with_setup_and_test_commands():
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / 'README.md').read_text(encoding='utf-8'), flags=re.S)
    assert len(blocks) >= 2
    setup, tests = blocks[0], blocks[1]
    assert 'torch==2.13.0' in setup and '.[dev]' in setup and 'zinb-nb demo' in setup
    assert 'pytest' in tests and 'tests/' in tests

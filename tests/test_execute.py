"`.ci/execute.py` stores what the cells print now: a cell that prints nothing loses its old outputs, flagged cells keep theirs."
import json, subprocess, sys
from conftest import ROOT

TOOL = ROOT / '.ci' / 'execute.py'

def _cell(src, outputs=()):
    return dict(cell_type='code', execution_count=None, id=f'c{abs(hash(src)) % 10**8}', metadata={}, source=src,
                outputs=[dict(name='stdout', output_type='stream', text=t) for t in outputs])

def _nb(path, cells):
    path.write_text(json.dumps(dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5), indent=1))

def _outs(path):
    return [''.join(o.get('text', '')) for c in json.loads(path.read_text())['cells'] for o in c['outputs']]

def _run(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=300)

def test_execute_replaces_stale_outputs(tmp_path):
    p = tmp_path / 'nb.ipynb'
    _nb(p, [_cell('x = 1', ['a stale warning\n']),                    # prints nothing now: its old output must go
            _cell('#| slow\nprint("slow")', ['kept\n']),             # skipped: its stored output stays
            _cell('print(x + 1)', ['1\n'])])                          # prints something else now
    before = p.read_text()
    r = _run('--check', p)
    assert r.returncode == 0, r.stderr
    assert 'outputs changed in 2 cell(s)' in r.stdout and p.read_text() == before, r.stdout   # --check writes nothing
    r = _run(p)
    assert r.returncode == 0, r.stderr
    assert _outs(p) == ['kept\n', '2\n'], _outs(p)
    r = _run('--slow', p)
    assert r.returncode == 0 and _outs(p) == ['slow\n', '2\n'], (r.stderr, _outs(p))

def test_execute_writes_nothing_when_a_cell_raises(tmp_path):
    p = tmp_path / 'nb.ipynb'
    _nb(p, [_cell('print("fine")', ['old\n']), _cell('1 / 0')])
    before = p.read_text()
    r = _run(p)
    assert r.returncode == 1 and 'ZeroDivisionError' in r.stderr and p.read_text() == before, (r.stdout, r.stderr)
    r = _run(tmp_path / 'missing.ipynb')
    assert r.returncode == 2 and 'no such notebook' in r.stderr

"""The benchmark scripts that CI can afford to run (the GPU check refuses without CUDA and passes its CPU smoke test), and the
benchmarks README generated from the stored results (`benchmarks/report.py --check`)."""
import os, subprocess, sys
import pytest
from conftest import ROOT

def _run(*args, timeout=900):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)

def test_gpu_check_refuses_without_cuda():
    import torch
    if torch.cuda.is_available(): pytest.skip("this machine has CUDA")
    r = _run()
    assert r.returncode == 2 and "no CUDA device here" in r.stderr and r.stderr.count("\n") == 1, r.stderr

def test_gpu_check_cpu_smoke():
    "Every check of the script runs, and the CPU-vs-CPU comparisons it makes agree (a bug in a check would not)."
    r = _run("--device", "cpu", "--quick")
    assert r.returncode == 0 and "all checks ok" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]
    ran = {l.split(":")[0] for l in r.stdout.splitlines() if ": ok " in l}   # one line per check, its name first
    assert ran >= {"em", "em_design", "glmm", "glmm_nb", "zinbwave", "vae", "gmvae", "gmm", "batches", "transfer", "zipo", "blocks", "adam_scale"}, ran


def test_bench_cluster_gpu_cpu_smoke(tmp_path):
    "`bench_cluster.py gpu` runs every ZINB-WaVE setting (on 400 cells, 2 epochs): the CPU's default minibatch is recorded, and Newton's steps give the same fit whatever the block, as they read every cell before each step."
    import json
    out = tmp_path / "g.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_cluster.py"), "gpu", "--device", "cpu", "--quick", "--seeds", "0", "--out", str(out)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = {q["method"]: q for q in json.loads(out.read_text())["runs"]}
    assert {"zinbwave", "zinbwave_b256", "zinbwave_b4096", "zinbwave_newton", "zinbwave_newton_b256", "zinbwave_newton_b16384"} <= set(runs)
    assert runs["zinbwave"]["batch_size"] == 256 and runs["zinbwave_b4096"]["batch_size"] == 4096
    assert runs["zinbwave"]["best_valid_nll"] == runs["zinbwave_b256"]["best_valid_nll"]            # the default on a CPU is 256, bit for bit
    nl = [runs[k]["best_valid_nll"] for k in ("zinbwave_newton", "zinbwave_newton_b256", "zinbwave_newton_b16384")]
    assert max(nl) - min(nl) < 1e-4 * abs(nl[0]), nl
    assert all(0 <= q["kmeans_ARI"] <= 1 for q in runs.values())


def test_bench_cluster_gpu_datasets_and_settings(tmp_path):
    "`bench_cluster.py gpu` over several datasets writes one file per dataset with only the settings named, each dataset's own batch covariate; several datasets into one file are refused."
    import json
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_cluster.py"), "gpu", "--device", "cpu", "--quick", "--seeds", "0",
           "--dataset", "mouse_bladder", "cellbench", "--settings", "zinbwave", "zinbwave_newton_b16384"]
    r = subprocess.run(cmd + ["--out", str(tmp_path / "one.json")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "{dataset}" in r.stderr and not (tmp_path / "one.json").exists(), r.stderr[-2000:]
    r = subprocess.run(cmd + ["--out", str(tmp_path / "g_{dataset}.json")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for name, batch in (("mouse_bladder", None), ("cellbench", "batch")):
        g = json.loads((tmp_path / f"g_{name}.json").read_text())
        assert g["dataset"] == name and g["batch_key"] == batch and set(g["settings"]) == {"zinbwave", "zinbwave_newton_b16384"}
        assert {q["method"] for q in g["runs"]} - {"scvi50"} == {"zinbwave", "zinbwave_newton_b16384"}
        assert next(q for q in g["runs"] if q["method"] == "zinbwave_newton_b16384")["batch_size"] == 16384

def _report(*args):
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)

def test_benchmarks_readme_matches_results():
    "Every table of benchmarks/README.md is what benchmarks/results/*.json give, and its prose quotes no other number."
    r = _report("--check")
    assert r.returncode == 0, r.stderr[-4000:]

def test_report_check_catches_stale_tables_and_hand_typed_figures(tmp_path):
    "The check is not vacuous: a figure typed into the prose fails it, and so does a generated table edited by hand."
    text = (ROOT / "benchmarks" / "README.md").read_text()
    typed = tmp_path / "typed.md"
    typed.write_text(text + "\nOurs is 191.3x faster than the peer.\n")
    r = _report("--check", "--readme", str(typed))
    assert r.returncode == 1 and "191.3" in r.stderr, r.stderr[-2000:]
    begin = "<!-- begin generated: gpu -->\n"
    assert begin in text
    stale = tmp_path / "stale.md"
    stale.write_text(text.replace(begin, begin + "| an extra row |\n"))
    r = _report("--check", "--readme", str(stale))
    assert r.returncode == 1 and "differs from what the results give" in r.stderr, r.stderr[-2000:]

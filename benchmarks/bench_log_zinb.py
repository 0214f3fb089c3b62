"""Throughput of `zinb_nb.distributions.log_zinb` vs scvi-tools' `log_zinb_positive`, same tensors, same process.

    pip install -r benchmarks/requirements.txt   # scvi-tools, after torch is installed
    python benchmarks/bench_log_zinb.py [--cells 4096] [--genes 2000] [--device cpu|cuda] [--dtype float32|float64] [--threads 1]

Writes benchmarks/results/log_zinb_<device>_<dtype>.json (machine, load, versions, date, every figure).

Prints the median time of forward and forward+backward passes for both, and the ratio scvi/ours (> 1: we are faster).
Also prints both functions' worst relative error against a 50-digit mpmath reference on the extreme grid of the
distributions chapter (mu 1e-8..1e6, theta 1e-4..1e6, zi_logits +-50), in float64.
"""
import argparse, platform, statistics, time
import numpy as np, torch
from zinb_nb.distributions import log_zinb
from scvi.distributions._negative_binomial import log_zinb_positive  # scvi-tools' ZINB log-likelihood

def make_inputs(n_cells, n_genes, device, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.exp(torch.randn(n_cells, n_genes, generator=g) * 1.5 - 1)
    theta = torch.exp(torch.randn(1, n_genes, generator=g)).expand(n_cells, n_genes).contiguous()
    zi = torch.randn(n_cells, n_genes, generator=g) - 2
    x = torch.poisson(torch.distributions.Gamma(theta, theta / mu).sample())
    x = torch.where(torch.rand(n_cells, n_genes, generator=g) < torch.sigmoid(zi), 0., x)
    return [t.to(device=device, dtype=dtype) for t in (x, mu, theta, zi)]

def timeit(fn, device, reps):
    out = []
    for _ in range(reps):
        if device == "cuda": torch.cuda.synchronize()
        t = time.perf_counter(); fn()
        if device == "cuda": torch.cuda.synchronize()
        out.append(time.perf_counter() - t)
    return statistics.median(out)

def bench(n_cells, n_genes, device, dtype, reps):
    "Median times; the two implementations alternate rep by rep so load or clock changes hit both alike."
    x, mu, theta, zi = make_inputs(n_cells, n_genes, device, dtype)
    fns = {"zinb_nb": log_zinb, "scvi-tools": log_zinb_positive}  # zi given as logits in both
    ps = {k: [p.clone().requires_grad_() for p in (mu, theta, zi)] for k in fns}
    def fwd(k):
        with torch.no_grad(): fns[k](x, mu, theta, zi)
    def fwd_bwd(k):
        fns[k](x, *ps[k]).sum().backward()
    times = {(k, pas): [] for k in fns for pas in ("forward", "forward+backward")}
    for k in fns: fwd(k); fwd_bwd(k)  # warm-up
    for _ in range(reps):
        for k in fns:
            times[k, "forward"].append(timeit(lambda: fwd(k), device, 1))
            times[k, "forward+backward"].append(timeit(lambda: fwd_bwd(k), device, 1))
    return {key: statistics.median(v) for key, v in times.items()}

def accuracy():
    import mpmath as mp
    mp.mp.dps = 50
    def ref(x, m, t, l):
        x, m, t, l = (mp.mpf(float(v)) for v in (x, m, t, l))
        lnb = lambda k: (mp.loggamma(k + t) - mp.loggamma(t) - mp.loggamma(k + 1) + t * mp.log(t / (t + m)) + k * mp.log(m / (t + m)))
        pi = 1 / (1 + mp.exp(-l))
        return float(mp.log(pi + (1 - pi) * mp.exp(lnb(0))) if x == 0 else mp.log(1 - pi) + lnb(x))
    G = np.array([(x, m, t, l) for x in [0, 1, 7, 100, 1e4, 1e6] for m in np.logspace(-8, 6, 8)
                  for t in np.logspace(-4, 6, 6) for l in [-50., 0., 50.]])
    r = np.array([ref(*g) for g in G])
    gx, gm, gt, gl = (torch.tensor(G[:, i]) for i in range(4))
    err = lambda v: float(np.max(np.abs(v.numpy() - r) / np.abs(r)))
    return err(log_zinb(gx, gm, gt, gl)), err(log_zinb_positive(gx, gm, gt, gl))

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--cells", type=int, default=4096); p.add_argument("--genes", type=int, default=2000)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="float32"); p.add_argument("--reps", type=int, default=15)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--no-save", action="store_true", help="print only; no results file")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    from _common import meta, save
    dev = torch.cuda.get_device_name() if a.device == "cuda" else f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    print(f"log_zinb on {a.cells} x {a.genes} {a.dtype} tensors; device: {dev}; torch {torch.__version__}")
    info = meta(f"warm, one process: wall time (perf_counter) of each pass, median of {a.reps} reps after one warm-up pass; "
                "the two implementations alternate rep by rep", packages=["torch", "numpy", "scvi-tools", "mpmath"])
    res = bench(a.cells, a.genes, a.device, getattr(torch, a.dtype), a.reps)
    passes = {}
    for pas in ("forward", "forward+backward"):
        o, s = res["zinb_nb", pas], res["scvi-tools", pas]
        passes[pas] = dict(zinb_nb_ms=o * 1e3, scvi_tools_ms=s * 1e3, scvi_over_zinb_nb=s / o)
        print(f"{pas:17s} zinb_nb {o*1e3:8.2f} ms   scvi-tools {s*1e3:8.2f} ms   ratio scvi/zinb_nb {s/o:5.2f}")
    eo, es = accuracy()
    print(f"worst relative error vs 50-digit mpmath on the extreme grid (float64): zinb_nb {eo:.1e}, scvi-tools {es:.1e}")
    if not a.no_save:
        save(f"log_zinb_{a.device}_{a.dtype}", dict(**info, device=dev, cells=a.cells, genes=a.genes, dtype=a.dtype, reps=a.reps,
             passes=passes, accuracy=dict(grid="x in {0,1,7,100,1e4,1e6}, mu 1e-8..1e6 (8), theta 1e-4..1e6 (6), zi_logits -50/0/50; float64",
                                          reference="mpmath, 50 digits", worst_rel_error_zinb_nb=eo, worst_rel_error_scvi_tools=es)))

"""Throughput of `zinb_nb.distributions.log_zinb` vs scvi-tools' `log_zinb_positive` (and of `log_nb` vs `log_nb_positive`
with `--law nb`), same tensors, same process.

    pip install -r benchmarks/requirements.txt   # scvi-tools, after torch is installed
    python benchmarks/bench_log_zinb.py [--cells 4096] [--genes 2000] [--device cpu|cuda] [--dtype float32|float64] [--threads 1]
                                        [--data sim|pbmc4k] [--theta cells|gene] [--law zinb|nb]

Writes benchmarks/results/log_<law>_<device>_<dtype>[_<data>_theta_<layout>].json (machine, load, versions, date, every
figure). Inputs: simulated ZINB counts (`sim`, about a quarter of them nonzero) or the bundled PBMC 4k counts (`pbmc4k`,
about a tenth nonzero, as in droplet data) with plug-in means and per-gene theta; theta either as a full cells x genes
tensor (`cells`) or one row broadcast over the cells (`gene`, how both packages' models hold it).

Prints the median time of forward and forward+backward passes for both, and the ratio scvi/ours (> 1: we are faster).
Also prints both functions' worst relative error against a 50-digit mpmath reference on the extreme grid of the
distributions chapter (mu 1e-8..1e6, theta 1e-4..1e6, zi_logits +-50), in float64, and the worst relative error of
their float32 gradients against mpmath's derivatives on a grid of the same kind.
"""
import argparse, platform, statistics, time
import numpy as np, torch
from zinb_nb.distributions import log_zinb, log_nb
from scvi.distributions._negative_binomial import log_zinb_positive, log_nb_positive  # scvi-tools' ZINB and NB log-likelihoods

LAWS = {"zinb": {"zinb_nb": log_zinb, "scvi-tools": log_zinb_positive},   # (x, mu, theta, zi_logits) in both
        "nb": {"zinb_nb": log_nb, "scvi-tools": log_nb_positive}}         # (x, mu, theta) in both

def pbmc_inputs(n_cells, n_genes, device, dtype, seed=0):
    "The bundled PBMC 4k counts (first n_cells cells, n_genes genes): mu = library size x the gene's share of all counts,"
    " theta per gene from the moments of the normalised counts (clamped to [0.01, 1e4]), zi_logits around -2."
    from zinb_nb.datasets import pbmc4k
    X = torch.as_tensor(pbmc4k().X[:n_cells, :n_genes].toarray(), dtype=torch.float64)
    lib, share = X.sum(1, keepdim=True), X.sum(0, keepdim=True) / X.sum()
    mu = (lib * share).clamp_min(1e-8)
    m, v = (X / lib * lib.mean()).mean(0, keepdim=True), (X / lib * lib.mean()).var(0, keepdim=True)
    theta = (m**2 / (v - m).clamp_min(1e-6)).clamp(1e-2, 1e4)
    zi = torch.randn(X.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 0.5 - 2
    return [t.to(device=device, dtype=dtype) for t in (X, mu, theta.expand_as(X).contiguous(), zi)]

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

def bench(n_cells, n_genes, device, dtype, reps, data="sim", theta_layout="cells", law="zinb"):
    "Median times; the two implementations alternate rep by rep so load or clock changes hit both alike."
    x, mu, theta, zi = (pbmc_inputs if data == "pbmc4k" else make_inputs)(n_cells, n_genes, device, dtype)
    if theta_layout == "gene": theta = theta[:1].contiguous()     # one theta per gene, broadcast over cells (as models hold it)
    fns = LAWS[law]
    args = (mu, theta, zi) if law == "zinb" else (mu, theta)     # zi given as logits in both
    ps = {k: [p.clone().requires_grad_() for p in args] for k in fns}
    def fwd(k):
        with torch.no_grad(): fns[k](x, *args)
    def fwd_bwd(k):
        fns[k](x, *ps[k]).sum().backward()
    times = {(k, pas): [] for k in fns for pas in ("forward", "forward+backward")}
    for k in fns: fwd(k); fwd_bwd(k)  # warm-up
    for _ in range(reps):
        for k in fns:
            times[k, "forward"].append(timeit(lambda: fwd(k), device, 1))
            times[k, "forward+backward"].append(timeit(lambda: fwd_bwd(k), device, 1))
    return {key: statistics.median(v) for key, v in times.items()}

def accuracy(law="zinb"):
    import mpmath as mp
    mp.mp.dps = 50
    def ref(x, m, t, l):
        x, m, t, l = (mp.mpf(float(v)) for v in (x, m, t, l))
        lnb = lambda k: (mp.loggamma(k + t) - mp.loggamma(t) - mp.loggamma(k + 1) + t * mp.log(t / (t + m)) + k * mp.log(m / (t + m)))
        if law == "nb": return float(lnb(x))
        pi = 1 / (1 + mp.exp(-l))
        return float(mp.log(pi + (1 - pi) * mp.exp(lnb(0))) if x == 0 else mp.log(1 - pi) + lnb(x))
    G = np.array([(x, m, t, l) for x in [0, 1, 7, 100, 1e4, 1e6] for m in np.logspace(-8, 6, 8)
                  for t in np.logspace(-4, 6, 6) for l in ([-50., 0., 50.] if law == "zinb" else [0.])])
    r = np.array([ref(*g) for g in G])
    gx, gm, gt, gl = (torch.tensor(G[:, i]) for i in range(4))
    err = lambda v: float(np.max(np.abs(v.numpy() - r) / np.abs(r)))
    args = (gm, gt, gl) if law == "zinb" else (gm, gt)
    return tuple(err(fn(gx, *args)) for fn in LAWS[law].values())

def grad_accuracy(law="zinb"):
    "Worst relative error of float32 gradients (mu, theta[, zi_logits]) against 50-digit mpmath derivatives, where |gradient| > 1e-3."
    import mpmath as mp
    mp.mp.dps = 50
    def logpmf(x, m, t, l):
        pi = 1 / (1 + mp.exp(-l))
        nb = lambda k: mp.loggamma(k + t) - mp.loggamma(t) - mp.loggamma(k + 1) + t * mp.log(t / (t + m)) + k * mp.log(m / (t + m))
        if law == "nb": return nb(x)
        return mp.log(pi + (1 - pi) * mp.exp(nb(0))) if x == 0 else mp.log(1 - pi) + nb(x)
    G = np.array([(x, m, t, l) for x in [0, 1, 7, 100, 1e4] for m in np.logspace(-6, 4, 6)
                  for t in np.logspace(-3, 5, 5) for l in ([-20., 0., 20.] if law == "zinb" else [0.])])
    n = 3 if law == "zinb" else 2
    ref = np.array([[float(mp.diff(lambda v: logpmf(mp.mpf(x), *(v if j == i else mp.mpf(p) for j, p in enumerate((m, t, l)))), mp.mpf((m, t, l)[i])))
                     for i in range(n)] for x, m, t, l in G])
    out = {}
    for name, f in zip(("zinb_nb", "scvi_tools"), LAWS[law].values()):
        ps = [torch.tensor(G[:, i], dtype=torch.float32, requires_grad=True) for i in range(1, n + 1)]
        f(torch.tensor(G[:, 0], dtype=torch.float32), *ps).sum().backward()
        g = np.stack([p.grad.double().numpy() for p in ps], 1)
        big = np.abs(ref) > 1e-3
        out[name] = {k: float(np.max(np.abs(g[:, i] - ref[:, i])[big[:, i]] / np.abs(ref[:, i])[big[:, i]]))
                     for i, k in enumerate(("mu", "theta", "zi_logits")[:n])}
        out[name]["finite"] = bool(np.isfinite(g).all())
    return out

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--cells", type=int, default=4096); p.add_argument("--genes", type=int, default=2000)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="float32"); p.add_argument("--reps", type=int, default=15)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--data", default="sim", choices=("sim", "pbmc4k"), help="simulated ZINB counts, or the bundled PBMC 4k counts")
    p.add_argument("--theta", default="cells", choices=("cells", "gene"),
                   help="theta as a cells x genes tensor (cells), or one row broadcast over the cells (gene, as models hold it)")
    p.add_argument("--law", default="zinb", choices=("zinb", "nb"), help="log_zinb vs log_zinb_positive, or log_nb vs log_nb_positive")
    p.add_argument("--no-save", action="store_true", help="print only; no results file")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    from _common import meta, save
    dev = torch.cuda.get_device_name() if a.device == "cuda" else f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    print(f"log_{a.law} on {a.cells} x {a.genes} {a.dtype} tensors; device: {dev}; torch {torch.__version__}")
    info = meta(f"warm, one process: wall time (perf_counter) of each pass, median of {a.reps} reps after one warm-up pass; "
                "the two implementations alternate rep by rep", packages=["torch", "numpy", "scvi-tools", "mpmath"])
    res = bench(a.cells, a.genes, a.device, getattr(torch, a.dtype), a.reps, a.data, a.theta, a.law)
    x0 = (pbmc_inputs if a.data == "pbmc4k" else make_inputs)(a.cells, a.genes, "cpu", torch.float32)[0]
    zero_fraction = float((x0 == 0).float().mean()); del x0
    passes = {}
    for pas in ("forward", "forward+backward"):
        o, s = res["zinb_nb", pas], res["scvi-tools", pas]
        passes[pas] = dict(zinb_nb_ms=o * 1e3, scvi_tools_ms=s * 1e3, scvi_over_zinb_nb=s / o)
        print(f"{pas:17s} zinb_nb {o*1e3:8.2f} ms   scvi-tools {s*1e3:8.2f} ms   ratio scvi/zinb_nb {s/o:5.2f}")
    eo, es = accuracy(a.law)
    print(f"worst relative error vs 50-digit mpmath on the extreme grid (float64): zinb_nb {eo:.1e}, scvi-tools {es:.1e}")
    ga = grad_accuracy(a.law)
    print("float32 gradients, worst relative error vs mpmath derivatives where |gradient| > 1e-3:", ga)
    if not a.no_save:
        suffix = "" if (a.data, a.theta) == ("sim", "cells") else f"_{a.data}_theta_{a.theta}"
        save(f"log_{a.law}_{a.device}_{a.dtype}{suffix}", dict(**info, device=dev, cells=a.cells, genes=a.genes, dtype=a.dtype, reps=a.reps,
             law=a.law, data=a.data, theta_layout=a.theta, zero_fraction=zero_fraction,
             passes=passes, accuracy=dict(grid="x in {0,1,7,100,1e4,1e6}, mu 1e-8..1e6 (8), theta 1e-4..1e6 (6)" + (", zi_logits -50/0/50" if a.law == "zinb" else "") + "; float64",
                                          reference="mpmath, 50 digits", worst_rel_error_zinb_nb=eo, worst_rel_error_scvi_tools=es),
             gradient_accuracy=dict(grid="x in {0,1,7,100,1e4}, mu 1e-6..1e4 (6), theta 1e-3..1e5 (5)" + (", zi_logits -20/0/20" if a.law == "zinb" else "") + "; float32 "
                                         "gradients vs 50-digit mpmath derivatives; worst relative error where |gradient| > 1e-3", **ga)))

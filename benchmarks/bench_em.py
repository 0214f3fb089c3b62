"""Per-gene ZINB maximum likelihood: `zinb_nb.em.fit_zinb_em` vs R pscl::zeroinfl vs statsmodels ZeroInflatedNegativeBinomialP.

    python benchmarks/bench_em.py [--cells 2000] [--genes 1000] [--subset 150] [--threads 1] [--skip-r]

Same data, same run. Intercept-only models, no size factors (pscl's `y ~ 1 | 1` has none):
  1. a simulation with known truth (`simulate_zinb` with one mean per gene: no latent structure, no library-size spread);
  2. the bundled PBMC 4k counts.
Writes benchmarks/results/em_pscl.json. Ours fits every gene (timed in this process) and, in a fresh Python process
timed as a whole (start-up and imports included, as pscl's Rscript call is), exactly the genes the peers fit; pscl (Rscript subprocess, `benchmarks/em_pscl.R`) and statsmodels (its `fit()` defaults) fit a
random subset of `--subset` genes, and the log-likelihoods are compared on that subset. Also: direct maximisation of
the marginal likelihood by torch.optim.LBFGS on all genes at once (the teaching comparison of the EM chapter).
"""
import argparse, json, math, os, platform, shutil, subprocess, sys, tempfile, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, torch
from zinb_nb.data import simulate_zinb
from zinb_nb.datasets import pbmc4k
from zinb_nb.distributions import log_zinb
from zinb_nb.em import fit_zinb_em

HERE = Path(__file__).resolve().parent

def dense(X): return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)

def run_pscl(X, genes, tmp):
    "pscl::zeroinfl(y ~ 1 | 1, dist='negbin') per gene via Rscript; wall time of the whole call and the per-gene table."
    src, out = Path(tmp) / "counts.csv", Path(tmp) / "pscl.csv"
    pd.DataFrame(X[:, genes].astype(np.int64), columns=[str(g) for g in genes]).to_csv(src, index=False)
    t = time.perf_counter()
    r = subprocess.run(["Rscript", str(HERE / "em_pscl.R"), str(src), str(out)], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    df = pd.read_csv(out, keep_default_na=True); df.index = genes
    df["error"] = df["error"].fillna("").astype(str)
    df["ok"] = df["loglik"].notna() & (df["error"] == "")
    df.attrs["loop_seconds"] = float(r.stdout.split()[-1]) if "total_seconds" in r.stdout else None
    return wall, df

FRESH = """
import sys, numpy as np
from zinb_nb.em import fit_zinb_em
import torch; torch.set_num_threads(1)
fit_zinb_em(np.load(sys.argv[1]), progress=False)
"""

def run_ours_fresh(X, tmp):
    "Ours as a user's script: a fresh Python process that imports zinb_nb and fits every column of X; wall time of the whole call."
    src = Path(tmp) / "counts.npy"; np.save(src, X)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", FRESH, str(src)], check=True, capture_output=True, text=True,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    return time.perf_counter() - t

def run_statsmodels(X, genes):
    "statsmodels ZeroInflatedNegativeBinomialP, intercept only, `fit()` with its documented defaults (BFGS, maxiter 35)."
    from statsmodels.discrete.count_model import ZeroInflatedNegativeBinomialP
    rows, t = [], time.perf_counter()
    for g in genes:
        y = X[:, g]; ones = np.ones((len(y), 1))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            try:
                r = ZeroInflatedNegativeBinomialP(y, ones, exog_infl=ones, inflation="logit").fit(disp=0)
                p = np.asarray(r.params); alpha = p[2]
                conv = bool(r.mle_retvals.get("converged", False))
                rows.append(dict(loglik=r.llf, mu=math.exp(p[1]), theta=1 / alpha if alpha > 0 else np.nan,
                                 pi=1 / (1 + math.exp(-p[0])), alpha=alpha, converged=conv, warnings=len(w), error=""))
            except Exception as e:  # noqa: BLE001 - counted as a failure
                rows.append(dict(loglik=np.nan, mu=np.nan, theta=np.nan, pi=np.nan, alpha=np.nan, converged=False, warnings=len(w), error=repr(e)))
    wall = time.perf_counter() - t
    df = pd.DataFrame(rows, index=genes)
    df["valid"] = np.isfinite(df["loglik"]) & (df["alpha"] > 0) & np.isfinite(df["alpha"])
    df["ok"] = df["valid"] & df["converged"]
    return wall, df

def lbfgs_direct(X, ref_ll, max_iter=500):
    "Direct maximisation of the marginal ZINB likelihood of all genes by torch.optim.LBFGS (strong Wolfe)."
    x = torch.as_tensor(X, dtype=torch.float64)
    m = x.mean(0).clamp(min=1e-3)
    P = torch.stack([m.log(), torch.zeros_like(m), torch.full_like(m, -1.)]).requires_grad_()
    opt = torch.optim.LBFGS([P], lr=1, max_iter=max_iter, tolerance_grad=1e-9, tolerance_change=1e-14, history_size=20, line_search_fn="strong_wolfe")
    def closure():
        opt.zero_grad()
        loss = -log_zinb(x, P[0].exp(), P[1].exp(), P[2]).sum()
        loss.backward(); return loss
    t = time.perf_counter(); opt.step(closure); wall = time.perf_counter() - t
    with torch.no_grad(): ll = log_zinb(x, P[0].exp(), P[1].exp(), P[2]).sum(0).numpy()
    n_iter = opt.state[opt._params[0]]["n_iter"]
    return wall, n_iter, ll

def compare(name, X, truth, n_subset, seed, skip_r, tmp, lbfgs=True):
    "Fit all genes with ours, a subset with the peers; print and return the summary rows."
    G = X.shape[1]
    nz = np.flatnonzero(X.sum(0) > 0)
    genes = np.sort(np.random.default_rng(seed).choice(nz, min(n_subset, len(nz)), replace=False))
    t = time.perf_counter(); ours = fit_zinb_em(X, progress=False); t_ours = time.perf_counter() - t
    res = {"ours": dict(genes=G, seconds=t_ours, per_gene=t_ours / G, failed=int((~ours.converged).sum()),
                        not_finite=int((~np.isfinite(ours.loglik)).sum()))}
    o = ours.to_frame().iloc[genes]; o.index = genes
    peers = {}
    fresh = run_ours_fresh(X[:, genes], tmp)
    res["ours, fresh process, peers' genes"] = dict(genes=len(genes), seconds=fresh, per_gene=fresh / len(genes))
    if not skip_r: peers["pscl"] = run_pscl(X, genes, tmp)
    peers["statsmodels"] = run_statsmodels(X, genes)
    for k, (wall, df) in peers.items():
        ok = df["ok"].to_numpy()
        rel = (o["loglik"].to_numpy() - df["loglik"].to_numpy()) / np.abs(df["loglik"].to_numpy())
        res[k] = dict(genes=len(genes), seconds=wall, per_gene=wall / len(genes), failed=int((~ok).sum()),
                      warned=int((df["warnings"] > 0).sum()), ours_worse_1e6=int(np.nansum(rel < -1e-6)),
                      ours_better_1e6=int(np.nansum(rel > 1e-6)), max_ours_minus_theirs=float(np.nanmax(o["loglik"].to_numpy() - df["loglik"].to_numpy())),
                      min_ours_minus_theirs=float(np.nanmin(o["loglik"].to_numpy() - df["loglik"].to_numpy())),
                      )
        if k == "pscl": res[k]["speedup_fresh_same_genes"] = wall / fresh   # both whole calls of a fresh process
        if k == "pscl": res[k]["loop_seconds"] = df.attrs["loop_seconds"]
        if k == "statsmodels":
            res[k].update(not_converged=int((~df["converged"]).sum()), invalid_alpha=int((~df["valid"]).sum()))
    if truth is not None:
        def errs(df, sel):
            d = df.loc[sel]
            return dict(log_mu=float(np.median(np.abs(np.log(d["mu"]) - truth["log_mu"][sel]))),
                        log_theta=float(np.median(np.abs(np.log(d["theta"].clip(upper=1e8)) - truth["log_theta"][sel]))),
                        pi=float(np.median(np.abs(d["pi"] - truth["pi"][sel]))))
        common = genes[np.all([df["ok"].to_numpy() for _, df in peers.values()], axis=0)]
        res["errors_vs_truth (median abs, genes all fitted)"] = {"genes": len(common), "ours": errs(o, common),
                                                                 **{k: errs(df, common) for k, (_, df) in peers.items()}}
        allg = np.arange(G)
        res["ours"]["errors_all_genes"] = errs(ours.to_frame().set_axis(allg), allg)
    if lbfgs:   # teaching comparison: direct L-BFGS on the marginal likelihood of the same subset
        wall, it, ll = lbfgs_direct(X[:, genes], ours.loglik[genes])
        rel = (ours.loglik[genes] - ll) / np.abs(ours.loglik[genes])
        res["torch LBFGS direct"] = dict(genes=len(genes), seconds=wall, iterations=int(it), per_gene=wall / len(genes),
                                         reached_ours_1e6=int((rel <= 1e-6).sum()), worse_than_ours_1e6=int((rel > 1e-6).sum()))
    t = time.perf_counter(); sub = fit_zinb_em(X[:, genes], progress=False); t_sub = time.perf_counter() - t
    res["ours (subset only)"] = dict(genes=len(genes), seconds=t_sub, per_gene=t_sub / len(genes), max_iter=int(sub.n_iter.max()))
    print(f"\n=== {name}: {X.shape[0]} cells x {G} genes; peers on {len(genes)} random genes ===")
    print(json.dumps(res, indent=1, default=float))
    return res

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=2000); ap.add_argument("--genes", type=int, default=1000)
    ap.add_argument("--subset", type=int, default=150); ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared 2-core machine)")
    ap.add_argument("--skip-r", action="store_true"); ap.add_argument("--skip-pbmc", action="store_true")
    ap.add_argument("--skip-lbfgs", action="store_true", help="skip the direct L-BFGS teaching comparison")
    ap.add_argument("--no-save", action="store_true", help="print only; no results file")
    a = ap.parse_args()
    from _common import meta, save
    torch.set_num_threads(a.threads)   # before meta(), which records the thread count
    info = meta("ours, all genes: the first fit_zinb_em call of this process (imports done before), wall; "
                "ours, peers' genes: a fresh Python process (interpreter start, imports and the fit), wall of the whole call; "
                "pscl: the whole Rscript call (R start-up, pscl loading, CSV reading, the loop over genes), wall; "
                "statsmodels: this process, wall of the loop over genes; ours (subset only): this process, warm, wall",
                packages=["torch", "numpy", "statsmodels"], r_packages=["pscl"])
    skip_r = a.skip_r or shutil.which("Rscript") is None
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, torch {torch.__version__} ({a.threads} thread), CUDA: {torch.cuda.is_available()}")
    if not skip_r:
        print(subprocess.run(["Rscript", "-e", "cat(R.version.string, '; pscl', as.character(packageVersion('pscl')))"],
                             capture_output=True, text=True).stdout)
    import statsmodels; print("statsmodels", statsmodels.__version__)
    sim = simulate_zinb(n_cells=a.cells, n_genes=a.genes, n_latent=1, loading_sd=0., library_sd=0., seed=a.seed)
    truth = dict(log_mu=sim.var["beta"].to_numpy(), log_theta=np.log(sim.var["theta"].to_numpy()), pi=sim.var["pi"].to_numpy())
    with tempfile.TemporaryDirectory() as tmp:
        out = {"simulation": compare("simulate_zinb", dense(sim.X), truth, a.subset, a.seed, skip_r, tmp, not a.skip_lbfgs)}
        if not a.skip_pbmc: out["pbmc4k"] = compare("pbmc4k (no size factors)", dense(pbmc4k().X), None, a.subset, a.seed, skip_r, tmp, not a.skip_lbfgs)
    if not a.no_save:
        save("em_pscl", dict(**info, cells=a.cells, genes=a.genes, subset=a.subset, seed=a.seed, results=out))
    return out

if __name__ == "__main__": main()

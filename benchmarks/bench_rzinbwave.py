"""ZINB-WaVE by R `zinbwave::zinbFit` (Bioconductor) vs `zinb_nb.tl.zinbwave`, same cells, same run.

    python benchmarks/bench_rzinbwave.py [--dataset pbmc] [--cells 1000] [--k 10] [--seed 0] [--epochs 300] [--lbfgs-epochs 15] [--newton-epochs 100]

Data: `--dataset pbmc`: a random subset of `--cells` cells of the bundled PBMC 4k (2,000 genes; genes with no count in
the subset are dropped, zinbFit refuses them), X = 1. `--dataset cellbench`: all 499 CellBench cells on the 2,000
genes `bench_zinbwave.py` uses, with the technology as a cell covariate (X = intercept + batch indicator, as
`tl.zinbwave(batch_key="batch")` builds it; `--cells` is ignored). Both fit the same model: K latent factors, cell
covariates X, a cell intercept (V = 1), ZINB-WaVE's ridge penalties with zinbFit's default epsilon (number of genes). zinbFit runs with its
defaults otherwise (one dispersion shared by all genes, `commondispersion = TRUE`; `--r-genewise` sets it FALSE: one
dispersion per gene with the variance penalty, the model zinb_nb fits; BiocParallel's SerialParam: one core) in an
Rscript subprocess; its time is the CPU time of `zinbFit` inside R (R start-up and reading excluded). Ours: every cell
in training (no held-out cells: the quantity compared is the training fit), one torch thread, Adam (lr 0.05, 128 cells
per batch), full-batch L-BFGS and alternating Newton steps (`optimizer="newton"`, stopping by its own tolerance on the
training loss, as zinbFit stops by its own) all reported, each with the time at which its training log-likelihood (the running
per-epoch value of the fitting loop's history) first reaches R's. Both models' training log-likelihood is computed here by `zinb_nb.distributions.log_zinb` from
the fitted mu, theta and logit pi, so the comparison does not depend on either package's bookkeeping.

Needs R with zinbwave installed (not a dependency of the package; it installs from its public source with
`R CMD INSTALL` once SingleCellExperiment, edgeR, genefilter, BiocParallel and softImpute are present).
"""
import argparse, json, os, platform, subprocess, tempfile, textwrap, time
from pathlib import Path
import numpy as np, scipy.io, scipy.sparse as sp, torch

RESULTS = Path(__file__).resolve().parent / "results"

R_CODE = textwrap.dedent("""
    suppressPackageStartupMessages({library(zinbwave); library(Matrix)})
    a <- commandArgs(trailingOnly = TRUE)
    Y <- as.matrix(readMM(a[1]))            # genes x cells
    storage.mode(Y) <- "integer"
    X <- as.matrix(read.table(a[4]))        # cells x covariates, intercept first
    tm <- system.time(m <- zinbFit(Y, X = X, K = as.integer(a[3]), commondispersion = as.logical(a[5]),
                                   BPPARAM = BiocParallel::SerialParam()))
    cat(sprintf("%.3f %.3f %s\\n", tm[["user.self"]] + tm[["sys.self"]], tm[["elapsed"]], as.character(packageVersion("zinbwave"))))
    write.table(getMu(m), file.path(a[2], "mu.tsv"), row.names = FALSE, col.names = FALSE)
    write.table(getLogitPi(m), file.path(a[2], "logitpi.tsv"), row.names = FALSE, col.names = FALSE)
    write.table(getTheta(m), file.path(a[2], "theta.tsv"), row.names = FALSE, col.names = FALSE)
""")


def loglik(x, mu, theta, zi):
    "Mean training log-likelihood per cell, from the distributions module."
    from zinb_nb.distributions import log_zinb
    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)
    return float(log_zinb(t(x), t(mu), t(theta), t(zi)).sum(1).mean())


def run_r(X, k, design, common=True):
    with tempfile.TemporaryDirectory() as tmp:
        scipy.io.mmwrite(os.path.join(tmp, "y.mtx"), sp.csr_matrix(X.T))
        np.savetxt(os.path.join(tmp, "x.tsv"), design)
        rs = os.path.join(tmp, "fit.R"); open(rs, "w").write(R_CODE)
        out = subprocess.run(["Rscript", rs, os.path.join(tmp, "y.mtx"), tmp, str(k), os.path.join(tmp, "x.tsv"), "TRUE" if common else "FALSE"], capture_output=True, text=True)
        if out.returncode: raise RuntimeError(out.stderr[-2000:])
        cpu, wall, version = out.stdout.split()[-3:]
        mu, zi = np.loadtxt(os.path.join(tmp, "mu.tsv")), np.loadtxt(os.path.join(tmp, "logitpi.tsv"))
        theta = np.loadtxt(os.path.join(tmp, "theta.tsv"))
    return dict(cpu=float(cpu), wall=float(wall), version=version, mu=mu, zi=zi, theta=theta)


def run_ours(adata, k, optimizer, epochs, seed, batch_key):
    from zinb_nb import tl
    kw = dict(lr=1.0) if optimizer == "lbfgs" else dict() if optimizer == "newton" else dict(lr=0.05, batch_size=128)
    t, c = time.perf_counter(), time.process_time()
    m = tl.zinbwave(adata, n_latent=k, device="cpu", max_epochs=epochs, optimizer=optimizer, valid_frac=0.0, batch_key=batch_key,
                    patience=None, seed=seed, progress=False, **kw)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    with torch.no_grad(): mu, theta, zi = m(torch.arange(adata.n_obs))
    return dict(wall=wall, cpu=cpu, mu=mu.double().numpy(), theta=theta.double().numpy(), zi=zi.double().numpy(),
                epochs=len(m.history), history=m.history)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=1000); ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0); ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--lbfgs-epochs", type=int, default=15, help="L-BFGS outer steps of 20 iterations")
    ap.add_argument("--newton-epochs", type=int, default=100, help="most epochs of Newton's steps (it stops earlier by its tolerance)")
    ap.add_argument("--skip-r", action="store_true")
    ap.add_argument("--dataset", default="pbmc", choices=["pbmc", "cellbench"])
    ap.add_argument("--r-genewise", action="store_true", help="zinbFit(commondispersion = FALSE): one dispersion per gene, "
                    "with the variance penalty, the model zinb_nb fits (zinbFit's default is one dispersion for all genes)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    from zinb_nb.tl import batch_design
    if a.dataset == "pbmc":
        from zinb_nb.datasets import pbmc4k
        ad0 = pbmc4k()
        cells = np.sort(np.random.default_rng(a.seed).choice(ad0.n_obs, a.cells, replace=False))
        sub, batch_key = ad0[cells].copy(), None
    else:
        import sys; sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_zinbwave import load
        sub, batch_key = load("cellbench")
    X = np.asarray(sub.X.todense() if sp.issparse(sub.X) else sub.X, dtype=np.float64)
    keep = X.sum(0) > 0
    sub, X = sub[:, keep].copy(), X[:, keep]
    design = batch_design(sub, batch_key)[0].astype(np.float64)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; torch {torch.__version__} (1 thread); {a.dataset} {X.shape[0]} cells x {X.shape[1]} genes, "
          f"{design.shape[1]} cell covariates, K={a.k}")
    from _common import meta
    res = dict(**meta("R: zinbFit in an Rscript subprocess, CPU (user + sys) and elapsed of the zinbFit call; ours: this process, "
                      "wall and CPU of the whole fit; the curve's seconds are wall seconds since the start of our fit",
                      packages=["torch", "numpy"], r_packages=[] if a.skip_r else ["zinbwave", "BiocParallel"]),
               dataset=a.dataset, cells=int(X.shape[0]), genes=int(X.shape[1]), covariates=int(design.shape[1]), k=a.k, seed=a.seed)
    r = None
    if not a.skip_r:
        r = run_r(X, a.k, design, common=not a.r_genewise)
        res["r_zinbwave"] = dict(version=r["version"], commondispersion=not a.r_genewise, seconds_cpu=r["cpu"], seconds_wall=r["wall"],
                                 loglik_per_cell=loglik(X, r["mu"], r["theta"][None, :], r["zi"]))
        print(f"R zinbwave {r['version']}: {r['cpu']:.1f} s CPU ({r['wall']:.1f} s elapsed), training log-lik/cell "
              f"{res['r_zinbwave']['loglik_per_cell']:.3f}", flush=True)
    for opt, ep in (("adam", a.epochs), ("lbfgs", a.lbfgs_epochs), ("newton", a.newton_epochs)):
        o = run_ours(sub, a.k, opt, ep, a.seed, batch_key)
        h = o["history"]
        row = res[f"ours_{opt}"] = dict(seconds_wall=o["wall"], seconds_cpu=o["cpu"], epochs=o["epochs"],
                                        loglik_per_cell=loglik(X, o["mu"], o["theta"][None, :], o["zi"]),
                                        curve=dict(seconds=h.seconds.tolist(), loglik=(-h.nll).tolist()))
        print(f"zinb_nb ({opt}): {o['wall']:.1f} s wall, {o['epochs']} epochs, training log-lik/cell {row['loglik_per_cell']:.3f}", flush=True)
        if r is not None:
            target = res["r_zinbwave"]["loglik_per_cell"]
            hit = np.flatnonzero(-h.nll.to_numpy() >= target)
            row["seconds_to_r_loglik"] = float(h.seconds.iloc[hit[0]]) if len(hit) else None
            row["speedup_to_r_loglik"] = r["cpu"] / row["seconds_to_r_loglik"] if len(hit) else None
            row["speedup_total"] = r["cpu"] / o["wall"]
            row["loglik_minus_r"] = row["loglik_per_cell"] - target
            when = f"{row['seconds_to_r_loglik']:.1f} s, {row['speedup_to_r_loglik']:.0f}x" if len(hit) else "never"
            print(f"  vs R: log-lik/cell {row['loglik_minus_r']:+.3f}; reached R's log-lik at {when} (R CPU / our time)", flush=True)
    RESULTS.mkdir(exist_ok=True)
    name = (f"pbmc{a.cells}" if a.dataset == "pbmc" else a.dataset) + ("_genewise" if a.r_genewise else "")
    (RESULTS / f"rzinbwave_{name}.json").write_text(json.dumps({**res, "load_after": os.getloadavg()[0]}, indent=1))


if __name__ == "__main__":
    main()

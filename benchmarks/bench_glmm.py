"""Side-by-side: lme4 (glmer, Laplace), glmmTMB and `zinb_nb.glmm.glmm` on the seed-shaped Poisson GLMM, same data, one script.

    python benchmarks/bench_glmm.py [--reps 5] [--genes 1000] [--no-tmb] [--nb] [--threads 1]

Model: y ~ 0 + cell_group + offset(log(total_count)) + (1|patient), 68,627 simulated cells (`simulate_seed_glmm()`,
identical to tests/fixtures/glmm/seed_sim.csv.gz), 20 groups, 16 patients. R runs in a subprocess (Rscript; needs lme4
and glmmTMB); its time is the CPU time of the fit inside R (`system.time`, user + sys), R start-up and CSV reading
excluded. Ours: the median wall and CPU time of `--reps` fits in this process after one warm-up fit (the first call
of a process also pays torch.func's one-time initialisation, printed separately as "cold"). Then `glmm_genes` on
`--genes` simulated genes of the same design in one call. The load average is printed: on a shared machine, compare
numbers taken at similar load.
"""
import argparse, os, platform, statistics, subprocess, sys, tempfile, textwrap, time
import numpy as np, pandas as pd, torch

R_CODE = textwrap.dedent("""
    suppressPackageStartupMessages({library(lme4); library(glmmTMB)})
    a <- commandArgs(trailingOnly = TRUE)
    d <- read.csv(a[1]); d$cell_group <- factor(d$cell_group, levels = sort(unique(d$cell_group), method = "radix"))
    d$patient <- factor(d$patient, levels = sort(unique(d$patient), method = "radix"))
    f <- y ~ 0 + cell_group + offset(log(total_count)) + (1 | patient)
    run <- function(name, expr) { tm <- system.time(fit <- eval(expr))
      cat(sprintf("%s %.3f %.3f %.6f\\n", name, tm[["user.self"]] + tm[["sys.self"]], tm[["elapsed"]], as.numeric(logLik(fit)))) }
    for (w in a[-1]) switch(w,
      lme4 = run("lme4", quote(glmer(f, d, family = poisson))),
      tmb = run("glmmTMB", quote(glmmTMB(f, d, family = poisson))),
      tmb_nb = run("glmmTMB_nb", quote(glmmTMB(f, d, family = nbinom2))))
""")

def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor()) \
        if os.path.exists("/proc/cpuinfo") else platform.processor()
    return (f"{cpu}; {os.cpu_count()} logical cores; torch {torch.__version__} ({torch.get_num_threads()} threads); "
            f"{platform.platform()}; load average {os.getloadavg()[0]:.1f}")

def run_r(df, which):
    "Fit in R; {name: (cpu_s, elapsed_s, loglik)}."
    with tempfile.TemporaryDirectory() as tmp:
        csv, rs = os.path.join(tmp, "d.csv"), os.path.join(tmp, "fit.R")
        df.to_csv(csv, index=False); open(rs, "w").write(R_CODE)
        out = subprocess.run(["Rscript", rs, csv, *which], capture_output=True, text=True, check=True).stdout
    return {l.split()[0]: tuple(map(float, l.split()[1:])) for l in out.strip().splitlines()}

def time_ours(df, formula, family, reps):
    from zinb_nb.glmm import glmm
    t, c = time.perf_counter(), time.process_time()
    fit = glmm(formula, df, family=family, device="cpu")
    cold = time.perf_counter() - t, time.process_time() - c
    walls, cpus = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fit = glmm(formula, df, family=family, device="cpu")
        walls.append(time.perf_counter() - t); cpus.append(time.process_time() - c)
    return fit, cold, statistics.median(walls), statistics.median(cpus)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--genes", type=int, default=1000)
    ap.add_argument("--no-tmb", action="store_true")
    ap.add_argument("--nb", action="store_true", help="also time the NB model (glmmTMB nbinom2 vs ours; minutes in R)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    from zinb_nb.glmm import simulate_seed_glmm, simulate_seed_adata, glmm_genes
    print("machine:", machine())
    df = simulate_seed_glmm()
    rdf = df.rename(columns={"y_pois": "y"})[["patient", "cell_group", "total_count", "y"]]
    which = ["lme4"] + ([] if a.no_tmb else ["tmb"])
    r = run_r(rdf, which)
    fit, cold, wall, cpu = time_ours(rdf, "y ~ 0 + cell_group + offset(log(total_count)) + (1|patient)", "poisson", a.reps)
    print(f"\nPoisson GLMM, {len(df):,} cells, 20 groups, 16 patients   ({fit.info['path']})")
    print(f"  {'lme4 glmer':<22}{r['lme4'][0]:8.2f} s CPU ({r['lme4'][1]:.1f} s elapsed)  logLik {r['lme4'][2]:.4f}")
    if "glmmTMB" in r: print(f"  {'glmmTMB':<22}{r['glmmTMB'][0]:8.2f} s CPU ({r['glmmTMB'][1]:.1f} s elapsed)  logLik {r['glmmTMB'][2]:.4f}")
    print(f"  {'zinb_nb glmm (warm)':<22}{wall:8.3f} s wall, {cpu:.3f} s CPU  logLik {fit.loglik:.4f}   (median of {a.reps})")
    print(f"  {'zinb_nb glmm (cold)':<22}{cold[0]:8.3f} s wall, {cold[1]:.3f} s CPU  (first call in the process)")
    print(f"  ratio lme4 CPU / ours warm wall: {r['lme4'][0] / wall:.0f}x   (/ ours cold: {r['lme4'][0] / cold[0]:.0f}x)")
    if "glmmTMB" in r: print(f"  ratio glmmTMB CPU / ours warm wall: {r['glmmTMB'][0] / wall:.0f}x")
    if a.nb:
        rn = run_r(df.rename(columns={"y_nb": "y"})[["patient", "cell_group", "total_count", "y"]], ["tmb_nb"])["glmmTMB_nb"]
        fnb, cnb, wnb, _ = time_ours(df.rename(columns={"y_nb": "y"}), "y ~ 0 + cell_group + offset(log(total_count)) + (1|patient)", "nb", 1)
        print(f"\nNB GLMM: glmmTMB nbinom2 {rn[0]:.1f} s CPU (logLik {rn[2]:.4f}); ours {wnb:.1f} s wall (logLik {fnb.loglik:.4f}); ratio {rn[0] / wnb:.0f}x")
    if a.genes:
        ad = simulate_seed_adata(n_genes=a.genes, seed=3)
        t = time.perf_counter()
        gr = glmm_genes(ad, "~ 0 + cell_group + offset(log(total_count)) + (1|patient)", device="cpu")
        tg = time.perf_counter() - t
        print(f"\nglmm_genes: {a.genes} genes x {ad.n_obs:,} cells, Poisson, one call: {tg:.1f} s wall "
              f"({1e3 * tg / a.genes:.1f} ms/gene); converged {int(gr.converged.sum())}/{a.genes}; "
              f"lme4 at its per-fit time would need {r['lme4'][0] * a.genes / 3600:.1f} h")

if __name__ == "__main__":
    main()

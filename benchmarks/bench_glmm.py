"""Side-by-side: lme4 (glmer, Laplace), glmmTMB and `zinb_nb.glmm.glmm` on the Poisson GLMM of the ZEB2 data of
Boland et al. 2020 (as in V. Svensson's blog post "Disappointing variational inference for GLMMs"), same data, one script.

    python benchmarks/bench_glmm.py [--reps 5] [--genes 1000] [--nb-genes 0] [--no-r] [--no-tmb] [--nb] [--threads N]

Model: y ~ 0 + cell_group + offset(log(total_count)) + (1|patient), 68,627 simulated cells
(`zinb_nb.data.simulate_glmm_table()`, identical to tests/fixtures/glmm/zeb2_sim.csv.gz), 20 groups, 16 patients.
R runs in a subprocess (Rscript; needs lme4 and glmmTMB; skipped with a note when Rscript is missing, or with --no-r);
its time is the CPU time of the fit inside R (`system.time`, user + sys), R start-up and CSV reading excluded. Ours:
the median wall and CPU time of `--reps` fits in this process after one warm-up fit (the first call of a process also
pays torch's one-time initialisations, printed separately as "cold"); the same for the REML fit (`reml=True`) against
glmmTMB's `REML = TRUE`. Then `glmm_genes` on `--genes` simulated
genes of the same design in one call (Poisson), and on `--nb-genes` NB genes. With `--nb` the NB fit is also timed as the
first and only fit of a fresh Python process (a subprocess: imports and the table first, then the one call timed). The load average is printed: on a
shared machine, compare numbers taken at similar load. Writes benchmarks/results/glmm.json.
"""
import argparse, os, platform, shutil, statistics, subprocess, sys, tempfile, textwrap, time
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
      tmb_reml = run("glmmTMB_REML", quote(glmmTMB(f, d, family = poisson, REML = TRUE))),
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

def time_ours(df, formula, family, reps, reml=False):
    from zinb_nb.glmm import glmm
    t, c = time.perf_counter(), time.process_time()
    fit = glmm(formula, df, family=family, device="cpu", reml=reml)
    cold = time.perf_counter() - t, time.process_time() - c
    walls, cpus = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fit = glmm(formula, df, family=family, device="cpu", reml=reml)
        walls.append(time.perf_counter() - t); cpus.append(time.process_time() - c)
    return fit, cold, statistics.median(walls), statistics.median(cpus)

FRESH = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import torch
    torch.set_num_threads(int(sys.argv[1]))
    from zinb_nb.data import simulate_glmm_table
    from zinb_nb.glmm import glmm
    t1 = time.perf_counter()
    df = simulate_glmm_table().rename(columns={"y_nb": "y"})[["patient", "cell_group", "total_count", "y"]]
    t, c = time.perf_counter(), time.process_time()
    fit = glmm("y ~ 0 + cell_group + offset(log(total_count)) + (1|patient)", df, family="nb", device="cpu")
    print(json.dumps(dict(import_s=t1 - t0, wall_s=time.perf_counter() - t, cpu_s=time.process_time() - c, loglik=float(fit.loglik))))
""")

IMPORT_FORMULAIC = textwrap.dedent("""
    import time, torch
    from zinb_nb.data import simulate_glmm_table
    from zinb_nb.glmm import glmm
    c = time.process_time()
    import formulaic
    print(time.process_time() - c)
""")

def fresh_nb(threads):
    """The NB fit as the first and only fit of a fresh Python process: the call's wall and CPU time (imports and the table before it);
    and, in another fresh process, the CPU time of importing formulaic (which the first call of `glmm` does to build the fixed effects)."""
    import json
    out = subprocess.run([sys.executable, "-c", FRESH, str(threads)], capture_output=True, text=True, check=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    out = subprocess.run([sys.executable, "-c", IMPORT_FORMULAIC], capture_output=True, text=True, check=True).stdout
    return dict(res, formulaic_import_cpu_s=float(out.strip().splitlines()[-1]))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--genes", type=int, default=1000)
    ap.add_argument("--no-tmb", action="store_true")
    ap.add_argument("--no-r", action="store_true", help="skip lme4/glmmTMB (automatic when Rscript is not installed)")
    ap.add_argument("--nb-genes", type=int, default=0, help="also time glmm_genes on this many NB genes")
    ap.add_argument("--nb", action="store_true", help="also time the NB model (glmmTMB nbinom2 vs ours; minutes in R)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--no-save", action="store_true", help="print only; no results file")
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    from _common import meta, save
    info = meta("R: CPU time (user + sys) of the fit inside R, R start-up and CSV reading excluded; ours warm: median wall "
                "and CPU of --reps fits in this process after one warm-up fit; ours cold: the first glmm call of this process "
                "(imports done before; torch's one-time initialisations included), wall and CPU; ours NB fresh: the NB fit as the "
                "first and only fit of a fresh Python process (imports and the table before it), wall and CPU; glmm_genes: one call, wall",
                packages=["torch", "numpy", "pandas", "formulaic"], r_packages=["lme4", "glmmTMB", "Matrix", "TMB"])
    out = dict(**info, cells=None, model="y ~ 0 + cell_group + offset(log(total_count)) + (1|patient)", reps=a.reps)
    from zinb_nb.data import simulate_glmm_table, simulate_glmm_genes
    from zinb_nb.glmm import glmm_genes
    print("machine:", machine())
    use_r = not a.no_r and shutil.which("Rscript") is not None
    if not use_r: print("lme4/glmmTMB skipped:", "--no-r" if a.no_r else "Rscript not found")
    df = simulate_glmm_table()
    rdf = df.rename(columns={"y_pois": "y"})[["patient", "cell_group", "total_count", "y"]]
    which = ["lme4"] + ([] if a.no_tmb else ["tmb", "tmb_reml"])
    r = run_r(rdf, which) if use_r else {}
    fit, cold, wall, cpu = time_ours(rdf, "y ~ 0 + cell_group + offset(log(total_count)) + (1|patient)", "poisson", a.reps)
    out.update(cells=len(df), r={k: dict(cpu_s=v[0], elapsed_s=v[1], loglik=v[2]) for k, v in r.items()},
               ours_poisson=dict(warm_wall_s=wall, warm_cpu_s=cpu, cold_wall_s=cold[0], cold_cpu_s=cold[1], loglik=float(fit.loglik),
                                 path=str(fit.info.get("path"))))
    print(f"\nPoisson GLMM, {len(df):,} cells, 20 groups, 16 patients   ({fit.info['path']})")
    if "lme4" in r: print(f"  {'lme4 glmer':<22}{r['lme4'][0]:8.2f} s CPU ({r['lme4'][1]:.1f} s elapsed)  logLik {r['lme4'][2]:.4f}")
    if "glmmTMB" in r: print(f"  {'glmmTMB':<22}{r['glmmTMB'][0]:8.2f} s CPU ({r['glmmTMB'][1]:.1f} s elapsed)  logLik {r['glmmTMB'][2]:.4f}")
    print(f"  {'zinb_nb glmm (warm)':<22}{wall:8.3f} s wall, {cpu:.3f} s CPU  logLik {fit.loglik:.4f}   (median of {a.reps})")
    print(f"  {'zinb_nb glmm (cold)':<22}{cold[0]:8.3f} s wall, {cold[1]:.3f} s CPU  (first call in the process)")
    if "lme4" in r: print(f"  ratio lme4 CPU / ours warm wall: {r['lme4'][0] / wall:.0f}x   (/ ours cold: {r['lme4'][0] / cold[0]:.0f}x)")
    if "glmmTMB" in r: print(f"  ratio glmmTMB CPU / ours warm wall: {r['glmmTMB'][0] / wall:.0f}x")
    fr, _, wall_r, cpu_r = time_ours(rdf, "y ~ 0 + cell_group + offset(log(total_count)) + (1|patient)", "poisson", a.reps, reml=True)
    out["ours_poisson_reml"] = dict(warm_wall_s=wall_r, warm_cpu_s=cpu_r, loglik=float(fr.loglik))
    print(f"\nREML, same model and data")
    if "glmmTMB_REML" in r: print(f"  {'glmmTMB REML = TRUE':<22}{r['glmmTMB_REML'][0]:8.2f} s CPU ({r['glmmTMB_REML'][1]:.1f} s elapsed)  REML logLik {r['glmmTMB_REML'][2]:.4f}")
    print(f"  {'zinb_nb glmm reml=True':<22}{wall_r:8.3f} s wall, {cpu_r:.3f} s CPU  REML logLik {fr.loglik:.4f}   (median of {a.reps})")
    if "glmmTMB_REML" in r: print(f"  ratio glmmTMB REML CPU / ours warm wall: {r['glmmTMB_REML'][0] / wall_r:.0f}x")
    if a.nb:
        fr_nb = fresh_nb(torch.get_num_threads())
        out["ours_nb_fresh"] = fr_nb
        print(f"\nNB GLMM, first fit of a fresh process: {fr_nb['wall_s']:.2f} s wall, {fr_nb['cpu_s']:.2f} s CPU (imports {fr_nb['import_s']:.1f} s before it; importing formulaic alone {fr_nb['formulaic_import_cpu_s']:.2f} s CPU)")
        fnb, cnb, wnb, wnb_cpu = time_ours(df.rename(columns={"y_nb": "y"}), "y ~ 0 + cell_group + offset(log(total_count)) + (1|patient)", "nb", 1)
        out["ours_nb"] = dict(cold_wall_s=cnb[0], cold_cpu_s=cnb[1], warm_wall_s=wnb, warm_cpu_s=wnb_cpu, loglik=float(fnb.loglik))
        if use_r:
            rn = run_r(df.rename(columns={"y_nb": "y"})[["patient", "cell_group", "total_count", "y"]], ["tmb_nb"])["glmmTMB_nb"]
            out["r"]["glmmTMB_nb"] = dict(cpu_s=rn[0], elapsed_s=rn[1], loglik=rn[2])
            print(f"\nNB GLMM: glmmTMB nbinom2 {rn[0]:.1f} s CPU (logLik {rn[2]:.4f}); ours {wnb:.1f} s wall (logLik {fnb.loglik:.4f}); ratio {rn[0] / wnb:.0f}x")
        else: print(f"\nNB GLMM: ours {wnb:.1f} s wall (logLik {fnb.loglik:.4f})")
    F = "~ 0 + cell_group + offset(log(total_count)) + (1|patient)"
    for family, n in (("poisson", a.genes), ("nb", a.nb_genes)):
        if not n: continue
        ad = simulate_glmm_genes(n_genes=n, family=family, seed=3)
        t = time.perf_counter()
        gr = glmm_genes(ad, formula=F, family=family, device="cpu")
        tg = time.perf_counter() - t
        out[f"glmm_genes_{family}"] = dict(genes=n, cells=int(ad.n_obs), wall_s=tg, converged=int(gr.converged.sum()))
        print(f"\nglmm_genes: {n} genes x {ad.n_obs:,} cells, {family}, one call: {tg:.1f} s wall "
              f"({1e3 * tg / n:.1f} ms/gene); converged {int(gr.converged.sum())}/{n}"
              + (f"; lme4 at its per-fit time would need {r['lme4'][0] * n / 3600:.1f} h" if family == "poisson" and "lme4" in r else ""))

    if not a.no_save: save("glmm", out)

if __name__ == "__main__":
    main()

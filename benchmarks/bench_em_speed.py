"""Per-gene fits from a fresh process: `fit_zinb_em` against pscl (ZINB) and glmGamPoi (NB), with and without size factors.

    python benchmarks/bench_em_speed.py [--cells 1500] [--genes 400] [--seed 11] [--skip-pscl] [--skip-pbmc] [--pscl-pbmc]
    python benchmarks/bench_em_speed.py --design [--skip-pbmc]      # the NB GLM with a design matrix only
    python benchmarks/bench_em_speed.py --pooled [--skip-pbmc]      # ours only: the start on pooled cells against every cell throughout

Writes benchmarks/results/em_speed_<data>.json for a simulation (`simulate_zinb`, one mean per gene, library sizes
spread by `--library-sd`, a seed no test uses) and for the bundled PBMC 4k. Both sides fit the same genes of the same
cells, intercept only, in the same run, one thread each:

- **ZINB vs pscl**: `fit_zinb_em(dist="zinb")` vs `pscl::zeroinfl(y ~ 1 | 1, dist="negbin")` (and, with size factors
  s = total counts / their mean, `fit_zinb_em(size_factors=s)` vs `zeroinfl(y ~ offset(log(s)) | 1)`), one gene at a
  time in R (`em_pscl.R`). pscl is run on the simulation, and with `--pscl-pbmc` on every gene of PBMC 4k too (2,000
  genes: about a quarter of an hour of R per size-factor setting).
- **NB vs glmGamPoi**: `fit_zinb_em(dist="nb")` vs `glmGamPoi::glm_gp(Y, design = ~1)` (`em_glmgampoi.R`), at
  glmGamPoi's defaults (Cox-Reid adjustment and overdispersion shrinkage: not the per-gene maximum likelihood) and
  with both switched off (`mle`: the per-gene NB maximum likelihood, the same estimator as ours). Without size factors
  (`size_factors = FALSE`) and with the same s.
- **NB GLM with a design matrix vs glmGamPoi** (`--design`, written to em_design_<data>.json):
  `fit_zinb_em(dist="nb", design=D)` vs `glm_gp(Y, design = D)`, both with the size factors s, the same numeric model
  matrix D on both sides: on PBMC 4k `~ label` (intercept + 7 contrasts of the 8 bundled cell types: a design of
  groups, where glmGamPoi takes its group-wise path and ours fits group means), on the simulation an intercept, a
  random two-level condition and a standard-normal covariate (a general design: Fisher scoring on glmGamPoi's side,
  Newton on ours). Coefficients are compared where both are finite and ours has a standard error. On the simulation the
  ZINB with the same design is compared with `pscl::zeroinfl(y ~ 0 + D + offset(log(s)) | 1, dist = "negbin")`
  (unless --skip-pscl).

- **Pooled cells** (`--pooled`, written to em_pooled_<data>.json; ours only): the ZINB and the ZIP with the size factors s,
  fitted from the default start on pooled cells (`start_bins=64`) and on every cell throughout (`start_bins=0`), both
  warm in one process, the log-likelihoods compared gene by gene; on the simulation, PBMC 4k, and (unless --skip-pbmc)
  the bundled human kidney, mouse bladder and CellBench (CEL-seq2 and Drop-seq, 499 cells) counts. Also, for the ZINB,
  two ablations against the fit on every cell: ten EM iterations on pooled cells instead of `POOLED_EM_ITER`, and no
  check of the Poisson limit at the end of the fit.

Times, each side measured the same way:
- `fresh`: a whole call of a fresh process (python: interpreter start, imports, reading the .npy, the fit; R: R start,
  library loading, reading the CSV, the fit), wall seconds; the python side also reports its breakdown.
- `warm`: the fit call alone, imports done (ours: `time.process_time` and wall; R: `proc.time()` around glm_gp, and
  pscl's loop over genes).
Log-likelihoods are compared gene by gene (constants included on both sides): `ours_lower` counts genes where ours is
lower by more than 1e-6 relative.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd
from _common import meta, save

HERE = Path(__file__).resolve().parent
POOLED_MORE = ("human_kidney", "mouse_bladder", "cellbench")    # with --pooled: bundled datasets besides PBMC 4k

FRESH = r"""
import sys, time, json
t0 = time.perf_counter()
import torch; torch.set_num_threads(1)
t1 = time.perf_counter()
import numpy as np
from zinb_nb.em import fit_zinb_em
t2 = time.perf_counter()
X = np.load(sys.argv[1]); s = np.load(sys.argv[2]) if sys.argv[2] != "-" else None
t3 = time.perf_counter()
D = np.load(sys.argv[5]) if len(sys.argv) > 5 else None
r = fit_zinb_em(X, size_factors=s, dist=sys.argv[3], design=D, progress=False, device="cpu")
t4 = time.perf_counter()
np.save(sys.argv[4], r.loglik)
print(json.dumps(dict(import_torch=t1 - t0, import_zinb_nb=t2 - t1, read=t3 - t2, fit=t4 - t3)))
"""


def ours_fresh(X, s, dist, tmp, design=None):
    "A fresh Python process fitting every column of X: (wall of the whole call, breakdown dict, per-gene loglik)."
    src, sf, out, dp = Path(tmp) / "X.npy", Path(tmp) / "s.npy", Path(tmp) / "ll.npy", Path(tmp) / "D.npy"
    np.save(src, X)
    if s is not None: np.save(sf, s)
    if design is not None: np.save(dp, design)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", FRESH, str(src), str(sf) if s is not None else "-", dist, str(out)] + ([str(dp)] if design is not None else []),
                       check=True, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t
    parts = json.loads(r.stdout.strip().splitlines()[-1])
    parts["interpreter_and_rest"] = wall - sum(parts.values())
    return wall, parts, np.load(out)


def ours_warm(X, s, dist, design=None):
    "The fit call in this (warm) process: (CPU seconds, wall seconds, EMResult)."
    from zinb_nb.em import fit_zinb_em
    fit_zinb_em(X[:, :5], size_factors=s, dist=dist, design=design, progress=False, device="cpu")        # first-call costs paid here
    c, w = time.process_time(), time.perf_counter()
    r = fit_zinb_em(X, size_factors=s, dist=dist, design=design, progress=False, device="cpu")
    return time.process_time() - c, time.perf_counter() - w, r


def write_inputs(X, s, tmp):
    src = Path(tmp) / "counts.csv"
    pd.DataFrame(X.astype(np.int64), columns=[f"g{j}" for j in range(X.shape[1])]).to_csv(src, index=False)
    sf = None
    if s is not None: sf = Path(tmp) / "s.txt"; np.savetxt(sf, s)
    return src, sf


def glmgampoi(src, sf, mode, tmp, design=None):
    out = Path(tmp) / "ggp.csv"
    t = time.perf_counter()
    r = subprocess.run(["Rscript", str(HERE / "em_glmgampoi.R"), str(src), str(out), mode, str(sf) if sf else "-"] + ([str(design)] if design else []),
                       check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    el, cpu = map(float, r.stdout.split("seconds")[-1].split()[:2])
    return wall, el, cpu, pd.read_csv(out)


def pscl(src, sf, tmp, design=None):
    out = Path(tmp) / "pscl.csv"
    t = time.perf_counter()
    r = subprocess.run(["Rscript", str(HERE / "em_pscl.R"), str(src), str(out)] + ([str(sf) if sf else "-"] if sf or design else []) + ([str(design)] if design else []),
                       check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    df = pd.read_csv(out); df["error"] = df["error"].fillna("").astype(str)
    return wall, float(r.stdout.split()[-1]), df


def compare_ll(ours, theirs):
    d = ours - theirs; rel = d / np.abs(theirs)
    ok = np.isfinite(theirs)
    return dict(genes_compared=int(ok.sum()), ours_lower=int((rel[ok] < -1e-6).sum()), ours_higher=int((rel[ok] > 1e-6).sum()),
                max_ours_minus_theirs=float(np.max(d[ok])), min_ours_minus_theirs=float(np.min(d[ok])))


def one(name, X, s, args, tmp):
    "Every comparison on one dataset, without and with size factors."
    G = X.shape[1]
    res = dict(data=name, cells=int(X.shape[0]), genes=int(G))
    for sf_name, sv in (("no_size_factors", None), ("size_factors", s)):
        src, sfp = write_inputs(X, sv, tmp)
        part = {}
        # NB: ours vs glmGamPoi
        cpu, wall, r = ours_warm(X, sv, "nb")
        fwall, parts, ll_fresh = ours_fresh(X, sv, "nb", tmp)
        nb = dict(ours=dict(warm_cpu_s=cpu, warm_wall_s=wall, fresh_wall_s=fwall, fresh_breakdown=parts,
                            converged=int(r.converged.sum()), fresh_same_loglik=bool(np.allclose(ll_fresh, r.loglik, rtol=1e-9))))
        for mode in ("default", "mle"):
            gwall, gel, gcpu, df = glmgampoi(src, sfp, mode, tmp)
            od = df["overdispersion"].to_numpy()
            ours_od = 1 / r.theta
            both = (od > 1e-6) & np.isfinite(ours_od) & (ours_od > 1e-6)
            nb[f"glmGamPoi_{mode}"] = dict(
                fresh_wall_s=gwall, glm_gp_elapsed_s=gel, glm_gp_cpu_s=gcpu, **compare_ll(r.loglik, df["loglik"].to_numpy()),
                median_abs_log_overdispersion_ratio=float(np.median(np.abs(np.log(ours_od[both] / od[both])))) if both.any() else None,
                genes_overdispersion_zero=int((od <= 1e-6).sum()), speedup_warm_cpu=gcpu / cpu, speedup_fresh_wall=gwall / fwall)
        part["nb"] = nb
        # ZINB: ours vs pscl (the simulation; PBMC 4k with --pscl-pbmc)
        if not args.skip_pscl and (name == "simulation" or args.pscl_pbmc):
            cpu, wall, r = ours_warm(X, sv, "zinb")
            fwall, parts, ll_fresh = ours_fresh(X, sv, "zinb", tmp)
            pwall, ploop, df = pscl(src, sfp, tmp)
            ok = (df["error"] == "").to_numpy() & df["loglik"].notna().to_numpy()
            part["zinb"] = dict(
                ours=dict(warm_cpu_s=cpu, warm_wall_s=wall, fresh_wall_s=fwall, fresh_breakdown=parts, converged=int(r.converged.sum()),
                          fresh_same_loglik=bool(np.allclose(ll_fresh, r.loglik, rtol=1e-9))),
                pscl=dict(fresh_wall_s=pwall, loop_elapsed_s=ploop, failed=int((~ok).sum()), warned=int((df["warnings"] > 0).sum()),
                          **compare_ll(r.loglik[ok], df["loglik"].to_numpy()[ok]),
                          speedup_fresh_wall=pwall / fwall, speedup_warm=ploop / wall))
        res[sf_name] = part
        print(json.dumps({sf_name: part}, indent=1, default=float), flush=True)
    return res


def design_part(name, X, s, D, names, what, tmp, skip_pscl=False):
    "The NB GLM with the design D (and the size factors s) on both sides."
    src, sfp = write_inputs(X, s, tmp)
    dp = Path(tmp) / "design.csv"; pd.DataFrame(D, columns=names).to_csv(dp, index=False)
    cpu, wall, r = ours_warm(X, s, "nb", D)
    fwall, parts, ll_fresh = ours_fresh(X, s, "nb", tmp, D)
    res = dict(data=name, cells=int(X.shape[0]), genes=int(X.shape[1]), design=what, columns=list(names),
               distinct_rows=int(len(np.unique(D, axis=0))),
               ours=dict(warm_cpu_s=cpu, warm_wall_s=wall, fresh_wall_s=fwall, fresh_breakdown=parts, converged=int(r.converged.sum()),
                         mean_newton_iterations=float(r.n_iter.mean()), fresh_same_loglik=bool(np.allclose(ll_fresh, r.loglik, rtol=1e-9))))
    for mode in ("default", "mle"):
        gwall, gel, gcpu, df = glmgampoi(src, sfp, mode, tmp, dp)
        B = df[[c for c in df.columns if c.startswith("beta_")]].to_numpy()
        ok = np.isfinite(r.std_error).all(1) & np.isfinite(B).all(1)
        res[f"glmGamPoi_{mode}"] = dict(fresh_wall_s=gwall, glm_gp_elapsed_s=gel, glm_gp_cpu_s=gcpu, **compare_ll(r.loglik, df["loglik"].to_numpy()),
                                        genes_coef_compared=int(ok.sum()), max_abs_coef_difference=float(np.abs(r.coef[ok] - B[ok]).max()),
                                        speedup_warm_cpu=gcpu / cpu, speedup_fresh_wall=gwall / fwall)
    if name == "simulation" and not skip_pscl:                        # the ZINB with the same design: zeroinfl(y ~ 0 + D + offset(log s) | 1)
        cpu, wall, r = ours_warm(X, s, "zinb", D)
        fwall, parts, ll_fresh = ours_fresh(X, s, "zinb", tmp, D)
        pwall, ploop, df = pscl(src, sfp, tmp, dp)
        ok = (df["error"] == "").to_numpy() & df["loglik"].notna().to_numpy()
        res["zinb"] = dict(ours=dict(warm_cpu_s=cpu, warm_wall_s=wall, fresh_wall_s=fwall, fresh_breakdown=parts, converged=int(r.converged.sum()),
                                     fresh_same_loglik=bool(np.allclose(ll_fresh, r.loglik, rtol=1e-9))),
                           pscl=dict(fresh_wall_s=pwall, loop_elapsed_s=ploop, failed=int((~ok).sum()), warned=int((df["warnings"] > 0).sum()),
                                     **compare_ll(r.loglik[ok], df["loglik"].to_numpy()[ok]), speedup_fresh_wall=pwall / fwall, speedup_warm=ploop / wall))
    print(json.dumps(res, indent=1, default=float), flush=True)
    return res


def pooled_part(name, X, s):
    "ZINB and ZIP with size factors: the default start on pooled cells against the fit on every cell throughout, warm, in this process."
    from zinb_nb.em import fit_zinb_em
    res = dict(data=name, cells=int(X.shape[0]), genes=int(X.shape[1]))
    for dist in ("zinb", "zip"):
        runs = {}
        for label, bins in (("pooled", 64), ("every_cell", 0)):
            fit_zinb_em(X[:, :5], size_factors=s, dist=dist, start_bins=bins, progress=False, device="cpu")   # first-call costs paid here
            c, w = time.process_time(), time.perf_counter()
            r = fit_zinb_em(X, size_factors=s, dist=dist, start_bins=bins, progress=False, device="cpu")
            runs[label] = dict(cpu_s=time.process_time() - c, wall_s=time.perf_counter() - w, mean_iterations=float(r.n_iter.mean()),
                               converged=int(r.converged.sum())), r
        (a, ra), (b, rb) = runs["pooled"], runs["every_cell"]
        rel = (ra.loglik - rb.loglik) / np.abs(rb.loglik)
        ok = ~rb.all_zero
        res[dist] = dict(pooled=a, every_cell=b, speedup_cpu=b["cpu_s"] / a["cpu_s"], genes_compared=int(ok.sum()),
                         pooled_lower_1e9=int((rel[ok] < -1e-9).sum()), pooled_higher_1e9=int((rel[ok] > 1e-9).sum()),
                         pooled_lower_1e6=int((rel[ok] < -1e-6).sum()), min_rel_difference=float(rel[ok].min()), max_rel_difference=float(rel[ok].max()))
        if dist == "zinb": res["zinb_ablations"] = pooled_ablations(X, s, rb)
    print(json.dumps(res, indent=1, default=float), flush=True)
    return res


def pooled_ablations(X, s, every):
    "The ZINB from pooled cells with one piece of the default undone, against the fit on every cell `every`: ten EM iterations on pooled cells (the default is `POOLED_EM_ITER`), and no check of the Poisson limit."
    import zinb_nb.em as em
    out, ok = {}, ~every.all_zero
    default_iter, check = em.POOLED_EM_ITER, em._poisson_limit_again
    for label in ("pooled_em_iter_10", "no_poisson_limit_check"):
        try:
            if label == "pooled_em_iter_10": em.POOLED_EM_ITER = 10
            else: em._poisson_limit_again = lambda atoms, f, lik, cfg: f
            c = time.process_time()
            r = em.fit_zinb_em(X, size_factors=s, dist="zinb", progress=False, device="cpu")
            cpu = time.process_time() - c
        finally: em.POOLED_EM_ITER, em._poisson_limit_again = default_iter, check
        d = r.loglik - every.loglik; rel = d / np.abs(every.loglik)
        out[label] = dict(cpu_s=cpu, lower_1e6=int((rel[ok] < -1e-6).sum()), at_poisson_limit_lower_1e6=int(((rel < -1e-6) & r.poisson_limit)[ok].sum()),
                          largest_shortfall_nats=float(max(0., -d[ok].min())))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=1500); ap.add_argument("--genes", type=int, default=400)
    ap.add_argument("--seed", type=int, default=11); ap.add_argument("--library-sd", type=float, default=0.5)
    ap.add_argument("--skip-pscl", action="store_true"); ap.add_argument("--skip-pbmc", action="store_true")
    ap.add_argument("--pscl-pbmc", action="store_true", help="pscl on every PBMC 4k gene as well (slow)")
    ap.add_argument("--design", action="store_true", help="only the NB GLM with a design matrix against glmGamPoi")
    ap.add_argument("--pooled", action="store_true", help="only ours: the start on pooled cells against every cell throughout (ZINB, ZIP)")
    ap.add_argument("--no-save", action="store_true")
    a = ap.parse_args()
    import torch; torch.set_num_threads(1)
    from zinb_nb.data import simulate_zinb
    from zinb_nb.datasets import pbmc4k
    info = meta("fresh: wall of a whole process call on each side (python: start, imports, .npy read, fit; R: start, library, "
                "CSV read, fit); warm: the fit alone in a process that has imported everything (ours: process CPU and wall; "
                "glmGamPoi: proc.time() around glm_gp; pscl: elapsed of its loop over genes); one thread each",
                packages=["torch", "numpy"], r_packages=["pscl", "glmGamPoi"])
    sets = []
    sim = simulate_zinb(n_cells=a.cells, n_genes=a.genes, n_latent=1, loading_sd=0., library_sd=a.library_sd, seed=a.seed)
    sets.append(("simulation", np.asarray(sim.X.toarray() if hasattr(sim.X, "toarray") else sim.X, dtype=np.float64)))
    if not a.skip_pbmc: p = pbmc4k(); sets.append(("pbmc4k", p.X.toarray().astype(np.float64)))
    if a.pooled and not a.skip_pbmc:                      # the start on pooled cells is checked on more of the bundled data
        from zinb_nb import datasets
        sets += [(k, getattr(datasets, k)().X.toarray().astype(np.float64)) for k in POOLED_MORE]
    with tempfile.TemporaryDirectory() as tmp:
        for name, X in sets:
            cells = X.sum(1) > 0; X = X[:, X.sum(0) > 0]; X = X[cells]
            n = X.sum(1); s = n / n.mean()
            if a.pooled:
                res = pooled_part(name, X, s)
                if not a.no_save: save(f"em_pooled_{name}", {**info, "size_factors": "total counts / their mean", **res})
                continue
            if a.design:
                from zinb_nb.em import design_matrix
                if name == "pbmc4k": D, names = design_matrix("~ label", p.obs[cells]); what = "~ label (8 cell types: intercept + 7 contrasts)"
                else:
                    rng = np.random.default_rng(a.seed + 1)
                    D, names = np.c_[np.ones(len(X)), rng.integers(0, 2, len(X)), rng.normal(0, 1, len(X))], ["Intercept", "condition", "covariate"]
                    what = "intercept + random two-level condition + standard-normal covariate"
                res = design_part(name, X, s, D, names, what, tmp, a.skip_pscl)
                if not a.no_save: save(f"em_design_{name}", {**info, "size_factors": "total counts / their mean", **res})
                continue
            res = one(name, X, s, a, tmp)
            extra = dict(seed=a.seed, library_sd=a.library_sd) if name == "simulation" else {}
            if not a.no_save: save(f"em_speed_{name}", {**info, **extra, "size_factors": "total counts / their mean", **res})


if __name__ == "__main__": main()

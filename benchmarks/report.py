"""Generate the tables of benchmarks/README.md from the stored results in benchmarks/results/*.json.

    python benchmarks/report.py            # rewrite every generated block of the README from the results files
    python benchmarks/report.py --check    # exit 1 if the README differs from what the results give, or if a number
                                           # in its prose appears neither in a results file nor in a generated table

A generated block sits between `<!-- begin generated: NAME -->` and `<!-- end generated: NAME -->`; report.py owns what is
between them. A block whose results files are absent says so instead of failing. Everything outside the blocks is prose:
`--check` reads each number in it (outside code and links; the number of a ratio such as 12.6x counts) and looks for it,
as written (thousands separators aside), among the numbers of the generated blocks (formatted by this script), the
numbers inside the strings of the results files, and the integers the results files store (sizes, epochs, seeds).
Dates, times and version strings must occur in a results file or a generated block as written. Years directly after
"et al." (citations) are not figures.
Reads only JSON with the standard library: no peer needs to be installed.
"""
import argparse, glob, json, math, re, statistics, sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS, README = HERE / "results", HERE / "README.md"
BEGIN, END = "<!-- begin generated: {} -->", "<!-- end generated: {} -->"


# ------------------------------------------------------------------ reading and formatting
def load(pattern):
    "Results files matching `pattern` (a glob in results/), as (file name, dict), sorted by name."
    out = []
    for p in sorted(RESULTS.glob(pattern)):
        try: out.append((p.name, json.loads(p.read_text())))
        except (OSError, ValueError): continue
    return out


def one(name):
    "One results file by name, or None."
    r = load(name)
    return r[0][1] if r else None


def f(v, d=1, unit=""):
    "A number with `d` decimals and thousands separators; '' for None."
    if v is None or (isinstance(v, float) and not math.isfinite(v)): return ""
    return f"{v:,.{d}f}{unit}"


def e(v, s=1):
    "Scientific form with s decimals of mantissa: 3.4e-10."
    if v is None: return ""
    m, x = f"{v:.{s}e}".split("e")
    return f"{m}e{int(x)}"


def ratio(a, b, d=None):
    "a / b as '12.6x'; one decimal below 100 unless d is given."
    if not (a and b): return ""
    return f"{a / b:,.{(1 if a / b < 100 else 0) if d is None else d}f}x"


def load_range(rows):
    "The load averages recorded in result dicts, as 'lo-hi' (or one value), '' if none recorded."
    v = [r[k] for r in rows for k in ("load_before", "load_after", "load") if isinstance(r.get(k), (int, float))]
    if not v: return "not recorded"
    lo, hi = f"{min(v):.1f}", f"{max(v):.1f}"
    return lo if lo == hi else f"{lo}-{hi}"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def mean_pm(v, d=3, z=1.64):
    "mean ± z SEM over the values (SEM = sample sd / sqrt(n)); the mean alone for one value."
    v = [x for x in v if isinstance(x, (int, float)) and math.isfinite(x)]
    if not v: return ""
    if len(v) == 1: return f(v[0], d)
    return f"{f(statistics.mean(v), d)} ± {f(z * statistics.stdev(v) / math.sqrt(len(v)), d)}"


def missing(what):
    return f"*No stored result: {what} has not been re-measured yet (see \"Not re-measured\" below).*"


# ------------------------------------------------------------------ the blocks
def block_log_zinb():
    rs = load("log_zinb_*.json") + load("log_nb_*.json")
    if not rs: return missing("`bench_log_zinb.py`")
    fn = {"zinb": ("`log_zinb`", "`log_zinb_positive`"), "nb": ("`log_nb`", "`log_nb_positive`")}
    rows, acc = [], []
    for name, r in rs:
        law = r.get("law", "zinb")
        for pas, p in r["passes"].items():
            inputs = (f"{'PBMC 4k counts' if r.get('data') == 'pbmc4k' else 'simulated'}, theta "
                      f"{'per gene, broadcast' if r.get('theta_layout') == 'gene' else 'cells x genes'}"
                      + (f", {f(100 * (1 - r['zero_fraction']), 0)}% nonzero" if 'zero_fraction' in r else ""))
            rows.append([" vs ".join(fn[law]), r["device"], r["dtype"], inputs, pas, f(p["zinb_nb_ms"], 1, " ms"),
                         f(p["scvi_tools_ms"], 1, " ms"), f(p["scvi_over_zinb_nb"], 2), f"{r['date']}, load {load_range([r])}"])
    for law in fn:
        of = [(n, r) for n, r in rs if r.get("law", "zinb") == law]
        a = [(r["accuracy"]["grid"], e(r["accuracy"]["worst_rel_error_zinb_nb"]), e(r["accuracy"]["worst_rel_error_scvi_tools"]), n)
             for n, r in of if r.get("accuracy")]
        if a:
            same = len({x[1:3] for x in a}) == 1
            acc += [f"- {fn[law][0]} vs {fn[law][1]}, worst relative error of log P against a 50-digit mpmath reference on the extreme grid ({g}): "
                    f"**zinb_nb {o}, scvi-tools {sc}** " + (f"(every `log_{law}_*.json` gives the same)." if same else f"(`{n}`).")
                    for g, o, sc, n in (a[:1] if same else a)]
        for name, r in of:
            ga = r.get("gradient_accuracy")
            if ga:
                ks = [k for k in ("mu", "theta", "zi_logits") if k in ga["zinb_nb"]]
                g = lambda k: ", ".join(f"{p} {e(ga[k][p])}" for p in ks) + ("" if ga[k].get("finite", True) else ", **not all finite**")
                acc.append(f"- {fn[law][0]} vs {fn[law][1]}, float32 gradients against 50-digit mpmath derivatives ({ga['grid']}; `{name}`): "
                           f"**zinb_nb {g('zinb_nb')}; scvi-tools {g('scvi_tools')}**.")
                break
    v = rs[0][1]["versions"]
    head = (f"{rs[0][1]['machine']}. {rs[0][1]['cells']:,} cells x {rs[0][1]['genes']:,} genes, median of {rs[0][1]['reps']} reps per pass, warm, both "
            f"implementations in one process alternating rep by rep; torch {v.get('torch')}, scvi-tools {v.get('scvi-tools')}.")
    return head + "\n\n" + table(["functions", "device", "dtype", "inputs", "pass", "zinb_nb", "scvi-tools", "scvi-tools time / zinb_nb time", "measured"], rows) \
        + ("\n\n" + "\n".join(acc) if acc else "")


def block_em_pscl():
    r = one("em_pscl.json")
    if r is None: return missing("`bench_em.py` (EM vs pscl and statsmodels, same genes)")
    v = r["versions"]
    rows = []
    for ds, d in r["results"].items():
        o, fr, p, s = d["ours"], d.get("ours, fresh process, peers' genes"), d.get("pscl"), d.get("statsmodels")
        sub = d.get("ours (subset only)")
        rows.append([ds, f"{f(o['seconds'], 2)} s ({o['genes']:,} genes, {f(1e3 * o['per_gene'], 1)} ms/gene)",
                     f"{f(fr['seconds'], 2)} s" if fr else "", f"{f(sub['seconds'], 2)} s" if sub else "",
                     f"{f(p['seconds'], 1)} s ({f(p['loop_seconds'], 1)} s in its loop)" if p else "not run",
                     ratio(p["seconds"], fr["seconds"]) if p and fr else "",
                     ratio(p["loop_seconds"], sub["seconds"]) if p and sub and p.get("loop_seconds") else "",
                     (f"{p['ours_worse_1e6']} / {p['ours_better_1e6']}" + (f" (up to {f(p['max_ours_minus_theirs'], 1)} nats above)" if p["ours_better_1e6"] else "")) if p else "",
                     f"{f(s['seconds'], 1)} s, {s['not_converged']} not converged" if s else "",
                     (f"{f(lb['seconds'], 1)} s, {lb['iterations']} iterations; below ours on {lb['worse_than_ours_1e6']} genes"
                      if (lb := d.get("torch LBFGS direct")) else "not run")])
    genes = next(iter(r["results"].values()))["pscl"]["genes"] if "pscl" in next(iter(r["results"].values())) else r["subset"]
    head = (f"{r['date']}, load {load_range([r])}; {r['machine']}; torch {v.get('torch')} ({r['torch_threads']} thread), "
            f"R {v.get('R')}, pscl {v.get('pscl')}, statsmodels {v.get('statsmodels')}. Peers and the fresh-process column fit "
            f"the same {genes} genes.")
    return head + "\n\n" + table(["data", "ours, all genes (first call of a process, imports done)", "ours, same genes, fresh process",
                                  "ours, same genes, warm", "pscl, same genes, whole Rscript call", "pscl / ours, fresh process both",
                                  "pscl's loop / ours warm (start-up excluded both)",
                                  "genes where ours is below / above pscl by > 1e-6 rel.", "statsmodels, same genes",
                                  "torch L-BFGS on the marginal likelihood, same genes, warm"], rows)


def _flat(d, prefix=""):
    "Scalar leaves of a nested dict as (dotted key, value); lists of more than 8 values skipped."
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict): yield from _flat(v, key + ".")
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for i, x in enumerate(v): yield from _flat(x, f"{key}.{i}.")
        elif isinstance(v, list) and len(v) > 8: continue
        else: yield key, v


def generic(rs):
    "Results files of a schema this script does not know, as field/value tables (scalar leaves; at most 60 rows each)."
    out = []
    for name, r in rs:
        rows = []
        for k, v in _flat(r if isinstance(r, dict) else {"": r} if not isinstance(r, list) else dict(enumerate(r))):
            if isinstance(v, dict): v = json.dumps(v)
            if isinstance(v, bool) or v is None: v = str(v)
            if isinstance(v, float): v = f(v, 4) if abs(v) < 100 else f(v, 1)
            rows.append([f"`{k}`", " ".join(str(v).split()).replace("|", "/")])
        more = f"\n\n({len(rows) - 60} more fields in the file.)" if len(rows) > 60 else ""
        out.append(f"`{name}`\n\n" + table(["field", "value"], rows[:60]) + more)
    return "\n\n".join(out)


def block_em_speed():
    rs = load("em_speed_*.json")
    if not rs: return missing("`bench_em_speed.py` (EM from a fresh process vs pscl; NB vs glmGamPoi)")
    r0 = rs[0][1]; v = r0["versions"]
    sfname = {"no_size_factors": "none", "size_factors": "total counts / mean"}
    nb_rows, zi_rows, parts = [], [], []
    for name, r in rs:
        for sf in ("no_size_factors", "size_factors"):
            part = r.get(sf)
            if not part: continue
            nb = part["nb"]; o = nb["ours"]
            for mode in ("default", "mle"):
                g = nb[f"glmGamPoi_{mode}"]
                nb_rows.append([f"{r['data']} ({r['cells']:,} x {r['genes']:,})", sfname[sf], mode, f"{f(o['warm_cpu_s'], 3)} s",
                                f"{f(g['glm_gp_cpu_s'], 3)} s", f"**{ratio(g['glm_gp_cpu_s'], o['warm_cpu_s'])}**",
                                f"{f(o['fresh_wall_s'], 2)} s / {f(g['fresh_wall_s'], 2)} s", ratio(g["fresh_wall_s"], o["fresh_wall_s"]),
                                f"{g['ours_lower']} / {g['ours_higher']}", e(g["median_abs_log_overdispersion_ratio"])])
            if "zinb" in part:
                z = part["zinb"]; o, p = z["ours"], z["pscl"]
                zi_rows.append([f"{r['data']} ({r['cells']:,} x {r['genes']:,})", sfname[sf], f"{f(o['fresh_wall_s'], 2)} s",
                                f"{f(p['fresh_wall_s'], 1)} s", f"**{ratio(p['fresh_wall_s'], o['fresh_wall_s'])}**",
                                f"{f(o['warm_wall_s'], 3)} s", f"{f(p['loop_elapsed_s'], 1)} s", ratio(p["loop_elapsed_s"], o["warm_wall_s"]),
                                f"{p['ours_lower']} / {p['ours_higher']}", f"{p['failed']} failed, {p['warned']} warned"])
                b = o["fresh_breakdown"]
                parts.append(f"- {r['data']}, {sfname[sf]}: our fresh process {f(o['fresh_wall_s'], 2)} s = interpreter and exit "
                             f"{f(b['interpreter_and_rest'], 2)} s + `import torch` {f(b['import_torch'], 2)} s + `import zinb_nb.em` "
                             f"{f(b['import_zinb_nb'], 2)} s + the fit {f(b['fit'], 2)} s.")
    out = [f"{r0['date']}, load {load_range([r for _, r in rs])}; {r0['machine']}; torch {v.get('torch')} (1 thread), R {v.get('R')}, "
           f"pscl {v.get('pscl')}, glmGamPoi {v.get('glmGamPoi')}. The same genes and cells on both sides; intercept only where no design is named.", ""]
    if nb_rows:
        out += ["NB per gene, `fit_zinb_em(dist=\"nb\")` against `glmGamPoi::glm_gp(design = ~1)` (default: its Cox-Reid adjusted, "
                "shrunk overdispersion; mle: both switched off, the per-gene maximum likelihood):", "",
                table(["data", "size factors", "glmGamPoi mode", "ours, fit call, CPU", "glm_gp call, CPU", "glmGamPoi / ours (fit calls)",
                       "fresh process, ours / glmGamPoi (wall)", "glmGamPoi / ours, fresh", "genes where ours is below / above by > 1e-6 rel.",
                       "median abs log ratio of overdispersions"], nb_rows), ""]
    ds = load("em_design_*.json")
    if ds:
        rows = []
        for _, r in ds:
            o = r["ours"]
            for mode in ("default", "mle"):
                g = r[f"glmGamPoi_{mode}"]
                rows.append([f"{r['data']} ({r['cells']:,} x {r['genes']:,})", f"{r['design']}; {len(r['columns'])} columns, {r['distinct_rows']:,} distinct rows",
                             mode, f"{f(o['warm_cpu_s'], 3)} s", f"{f(g['glm_gp_cpu_s'], 3)} s", f"**{ratio(g['glm_gp_cpu_s'], o['warm_cpu_s'])}**",
                             f"{f(o['fresh_wall_s'], 2)} s / {f(g['fresh_wall_s'], 2)} s", ratio(g["fresh_wall_s"], o["fresh_wall_s"]),
                             f"{g['ours_lower']} / {g['ours_higher']}", f"{e(g['max_abs_coef_difference'])} ({g['genes_coef_compared']:,} genes)",
                             f"{r['date']}, load {load_range([r])}"])
        out += ["NB GLM per gene with a design matrix and the size factors, `fit_zinb_em(dist=\"nb\", design=D)` against "
                "`glmGamPoi::glm_gp(design = D)`, the same numeric model matrix D on both sides:", "",
                table(["data", "design", "glmGamPoi mode", "ours, fit call, CPU", "glm_gp call, CPU", "glmGamPoi / ours (fit calls)",
                       "fresh process, ours / glmGamPoi (wall)", "glmGamPoi / ours, fresh", "genes where ours is below / above by > 1e-6 rel.",
                       "largest coefficient difference (genes with finite coefficients and standard errors)", "measured"], rows), ""]
        for _, r in ds:
            if "zinb" not in r: continue
            o, p = r["zinb"]["ours"], r["zinb"]["pscl"]
            out += [f"- ZINB with the same design and size factors, {r['data']} ({r['cells']:,} x {r['genes']:,}; {r['design']}): "
                    f"`fit_zinb_em(dist=\"zinb\", design=D)` {f(o['fresh_wall_s'], 2)} s from a fresh process against "
                    f"`pscl::zeroinfl(y ~ 0 + D + offset(log(s)) | 1)` {f(p['fresh_wall_s'], 1)} s for its whole Rscript call: "
                    f"**{ratio(p['fresh_wall_s'], o['fresh_wall_s'])}**; pscl's loop {f(p['loop_elapsed_s'], 1)} s against our warm fit call "
                    f"{f(o['warm_wall_s'], 3)} s: {ratio(p['loop_elapsed_s'], o['warm_wall_s'])}; genes where ours is below / above pscl "
                    f"by > 1e-6 rel.: {p['ours_lower']} / {p['ours_higher']}; pscl {p['failed']} failed, {p['warned']} warned."]
        out += [""]
    ps = load("em_pooled_*.json")
    if ps:
        rows = []
        for _, r in ps:
            for dist in ("zinb", "zip"):
                z = r[dist]
                rows.append([f"{r['data']} ({r['cells']:,} x {r['genes']:,})", dist.upper(), f"{f(z['pooled']['cpu_s'], 2)} s",
                             f"{f(z['every_cell']['cpu_s'], 2)} s", f"**{ratio(z['every_cell']['cpu_s'], z['pooled']['cpu_s'])}**",
                             f"{z['pooled_lower_1e9']} / {z['pooled_higher_1e9']}", f"{z['pooled_lower_1e6']}",
                             f"{e(z['min_rel_difference'])} / {e(z['max_rel_difference'])}", f"{r['date']}, load {load_range([r])}"])
        out += ["Zero-inflated laws with size factors, ours only: the fit from pooled cells (the default, `start_bins=64`: each gene's cells pooled per count and bin of size factor) against the fit on "
                "every cell throughout (`start_bins=0`), both fit calls warm in one process, CPU:", "",
                table(["data", "law", "from pooled cells", "every cell throughout", "every cell / pooled",
                       "genes where pooled is below / above by > 1e-9 rel.", "below by > 1e-6 rel.", "smallest / largest relative difference", "measured"], rows), ""]
        abl = [(r["data"], r["zinb"], r["zinb_ablations"]) for _, r in ps if "zinb_ablations" in r]
        if abl:
            out += ["The ZINB from pooled cells with one piece of the default undone, in the same process, against the same fit on every cell:", "",
                    table(["data", "default (at most `POOLED_EM_ITER` = 3 EM iterations on pooled cells)", "10 EM iterations on pooled cells: CPU, genes below every cell by > 1e-6 rel.",
                           "no check of the Poisson limit: genes below every cell by > 1e-6 rel. (of them at the limit), largest shortfall"],
                          [[d, f"{f(z['pooled']['cpu_s'], 2)} s, {z['pooled_lower_1e6']} below", f"{f(a['pooled_em_iter_10']['cpu_s'], 2)} s, {a['pooled_em_iter_10']['lower_1e6']} below",
                            f"{a['no_poisson_limit_check']['lower_1e6']} ({a['no_poisson_limit_check']['at_poisson_limit_lower_1e6']}), {f(a['no_poisson_limit_check']['largest_shortfall_nats'], 3)} nats"]
                           for d, z, a in abl]), ""]
    if zi_rows:
        out += ["ZINB per gene, `fit_zinb_em` against `pscl::zeroinfl(y ~ 1 | 1, dist = \"negbin\")` (with size factors "
                "`y ~ offset(log(s)) | 1`), one gene at a time:", "",
                table(["data", "size factors", "ours, fresh process", "pscl, whole Rscript call", "pscl / ours, fresh process both",
                       "ours, fit call, warm", "pscl's loop", "pscl's loop / ours warm", "genes where ours is below / above by > 1e-6 rel.",
                       "pscl"], zi_rows), ""]
    return "\n".join(out + parts).rstrip()


def two_threads(r):
    "A clustering fit that ran with torch's OpenMP team at two threads: `torch_threads` as recorded before the fit; SCVI's runs set one thread themselves."
    return r.get("torch_threads", 1) != 1 and not r["method"].startswith("scvi")


def _vs_scvi50(by, ds, m, peer="scvi50"):
    "(the peer's mean fit seconds, method m's) on dataset ds, both taken on the machine of the peer's first seed (peer: SCVI's own 50-epoch fits, or 'scvi', its 400-epoch runs); None where either is missing."
    sc = sorted((r for r in by.get((ds, peer), []) if "seconds" in r), key=lambda r: r["seed"])
    if not sc: return None
    sc = [r for r in sc if r["machine"] == sc[0]["machine"]]
    q = [r["seconds"] for r in by.get((ds, m), []) if r["machine"] == sc[0]["machine"]]
    return (statistics.mean(r["seconds"] for r in sc), statistics.mean(q)) if q else None


def block_cluster():
    rs = [r for _, r in load("cluster_*_seed*.json")]
    if not rs: return missing("`bench_cluster.py`")
    order = ["pbmc4k", "pbmc3k", "human_kidney", "mouse_bladder", "worm_neuron", "cellbench", "cellbench_5cl"]
    by = {}
    for r in rs: by.setdefault((r["dataset"], r["method"]), []).append(r)
    rows, warm, zw10 = [], any(r["method"] == "gmvae_warmup" for r in rs), any(r["method"] == "zinbwave10" for r in rs)
    gmm, zwr = any(r["method"] == "gmvae_gmm" for r in rs), any(r["method"] == "zinbwave_random" for r in rs)
    auto, zwn = any(r["method"] == "gmvae_auto" for r in rs), any(r["method"] == "zinbwave_newton" for r in rs)
    zwa = [m for m in ("zinbwave_auto", "zinbwave_newton_auto", "zinbwave_newton_kauto") if any(r["method"] == m for r in rs)]   # chosen on held-out cells
    zwa_head = {"zinbwave_auto": ("ZINB-WaVE, ridge on W chosen on held-out cells, + k-means", "chosen ridge / "),
                "zinbwave_newton_auto": ("Newton's steps, ridge on W chosen on held-out cells, + k-means", "Newton, chosen ridge / "),
                "zinbwave_newton_kauto": ("Newton's steps, K and ridge chosen on held-out cells, + k-means", "Newton, chosen K and ridge / ")}
    for ds in order:
        info = next((r for r in rs if r["dataset"] == ds), None)
        if info is None: continue
        g = lambda m, k: [r[k] for r in by.get((ds, m), []) if k in r]
        seeds = lambda m: ",".join(str(r["seed"]) for r in sorted(by.get((ds, m), []), key=lambda r: r["seed"]))
        best_scvi = scvi_best(by, ds)
        cell = lambda m, k: mean_pm(g(m, k), 3) + (f" ({seeds(m)})" if g(m, k) else "not run")
        rows.append([f"{ds} ({info['n_cells']:,} x {info['n_genes']:,}, {info['n_labels']} labels{', batch' if info.get('batch_key') else ''})",
                     cell("zinbwave", "kmeans_ARI")] + ([cell("zinbwave_random", "kmeans_ARI")] if zwr else [])
                    + ([cell("zinbwave10", "kmeans_ARI")] if zw10 else []) + ([cell("zinbwave_newton", "kmeans_ARI")] if zwn else [])
                    + [cell(m, "kmeans_ARI") for m in zwa]
                    + [cell("gmvae", "argmax_ARI"), cell("gmvae", "kmeans_ARI")]
                    + ([cell("gmvae_gmm", "argmax_ARI"), cell("gmvae_gmm", "kmeans_ARI")] if gmm else [])
                    + ([cell("gmvae_auto", "argmax_ARI")] if auto else [])
                    + ([cell("gmvae_warmup", "argmax_ARI")] if warm else []) + [
                     cell("scvi", "epoch50_kmeans_ARI"), cell("scvi", "kmeans_ARI"),
                     " / ".join(f(statistics.mean(g(m, k)), 0) + ("*" if any(two_threads(r) for r in by.get((ds, m), [])) else "")
                                if g(m, k) else "-"
                                for m, k in (("zinbwave", "seconds"),) + ((("zinbwave_random", "seconds"),) if zwr else ())
                                + ((("zinbwave10", "seconds"),) if zw10 else ()) + ((("zinbwave_newton", "seconds"),) if zwn else ())
                                + tuple((m, "seconds") for m in zwa)
                                + (("gmvae", "seconds"), ("scvi", "epoch50_seconds"), ("scvi", "seconds"))),
                     f(best_scvi, 3) if best_scvi is not None else ""])
    v = rs[0]["versions"]
    elbo = []   # per seed: the held-out negative ELBO per cell beside the argmax ARI, for the GMVAE fits that record it
    for ds in order:
        parts = [f"{lab} " + ", ".join(f"seed {r['seed']}: {f(r['valid_nll_last'], 1)} / {f(r['argmax_ARI'], 3)}"
                                       for r in sorted(by.get((ds, m), []), key=lambda r: r["seed"]) if "valid_nll_last" in r)
                 for m, lab in (("gmvae", "defaults"), ("gmvae_gmm", "Gaussian-mixture start"), ("gmvae_warmup", "SCVI's KL schedule"))]
        parts = [q for q in parts if ":" in q]
        if parts: elbo.append(f"- GMVAE on {ds}, held-out negative ELBO per cell / argmax ARI (each seed holds out its own cells: "
                              "compare within a seed): " + "; ".join(parts) + ".")
    def zinbwave_pairs(ds, other):   # per seed: the default ZINB-WaVE fit and the `other` fit of the same seed (the same held-out cells)
        pairs = [(r, next((q for q in by.get((ds, other), []) if q["seed"] == r["seed"]), None))
                 for r in sorted(by.get((ds, "zinbwave"), []), key=lambda r: r["seed"]) if "best_valid_nll" in r]
        return [(a, b) for a, b in pairs if b is not None and "best_valid_nll" in b]
    starts = []   # ZINB-WaVE's best held-out NLL per cell and epochs: from the SVD start against a random latent; by Adam against Newton's steps
    for ds in order:
        if pairs := zinbwave_pairs(ds, "zinbwave_random"):
            starts.append(f"- ZINB-WaVE on {ds}, best held-out NLL per cell (epochs run), SVD start / random start (each seed holds out "
                          "its own cells, the same for both): " + "; ".join(
                              f"seed {a['seed']}: {f(a['best_valid_nll'], 2)} ({a['epochs']}) / {f(b['best_valid_nll'], 2)} ({b['epochs']})"
                              for a, b in pairs) + ".")
    for ds in order:
        if pairs := zinbwave_pairs(ds, "zinbwave_newton"):
            starts.append(f"- ZINB-WaVE on {ds}, best held-out NLL per cell (epochs run, fit seconds), Adam / Newton's steps (the same start and held-out "
                          "cells per seed): " + "; ".join(
                              f"seed {a['seed']}: {f(a['best_valid_nll'], 2)} ({a['epochs']}, {f(a['seconds'], 1)} s) / "
                              f"{f(b['best_valid_nll'], 2)} ({b['epochs']}, {f(b['seconds'], 1)} s)" for a, b in pairs) + ".")
    spread = [f"{ds} {f(statistics.mean(a['gamma_pi_sd'] for a, _ in pairs), 2)} / {f(statistics.mean(b['gamma_pi_sd'] for _, b in pairs), 2)} "
              f"(correlation {f(statistics.mean(a['corr_W_norm_log_library'] for a, _ in pairs), 2)} / {f(statistics.mean(b['corr_W_norm_log_library'] for _, b in pairs), 2)})"
              for ds in order if (pairs := [(a, b) for a, b in zinbwave_pairs(ds, "zinbwave_newton") if "gamma_pi_sd" in a and "gamma_pi_sd" in b])]
    if spread: starts.append("- ZINB-WaVE, the spread of the cells' own zero-inflation intercepts (standard deviation of gamma_pi) and, in brackets, the "
                             "correlation of the length of a cell's W with its log library size, means over the seeds, Adam / Newton's steps: " + "; ".join(spread) + ".")
    def nlls(r, k): return " / ".join(f(v, 2) for v in r["epsilon_W_search"][k])
    for m, lab in (("zinbwave_auto", "Adam"), ("zinbwave_newton_auto", "Newton's steps")):
        for ds in order:
            q = sorted([r for r in by.get((ds, m), []) if "epsilon_W_search" in r], key=lambda r: r["seed"])
            mcv = bool(q) and all("mcv_nll" in r["epsilon_W_search"] for r in q)
            if q: starts.append(f"- ZINB-WaVE ({lab}) on {ds}, the ridge on W chosen on held-out cells (`epsilon_W=\"auto\"`), per seed: "
                                + ("NLL per cell by molecular cross-validation at the default epsilon/n / at ten times it (the best held-out NLLs, the same), "
                                   if mcv else "best held-out NLL at the default epsilon/n / at ten times it, ")
                                + "the choice, k-means ARI: " + "; ".join(
                                    f"seed {r['seed']}: " + (f"{nlls(r, 'mcv_nll')} ({nlls(r, 'best_valid_nll')})" if mcv else nlls(r, "best_valid_nll"))
                                    + f", {'10x' if r['epsilon_W'] > r['epsilon_W_search']['epsilon_W'][0] else 'default'}, {f(r['kmeans_ARI'], 3)}" for r in q) + ".")
    for ds in order:   # the number of latent dimensions chosen too: every candidate's MCV NLL, the choice, the ARIs
        q = sorted([r for r in by.get((ds, "zinbwave_newton_kauto"), []) if "epsilon_W_search" in r], key=lambda r: r["seed"])
        if q: starts.append(f"- ZINB-WaVE (Newton's steps) on {ds}, K and the ridge on W chosen on held-out cells (`n_latent=\"auto\", epsilon_W=\"auto\"`), per seed: "
                            "NLL per cell by molecular cross-validation at K = 10, 20, 30 (each at the default ridge / ten times it), the choice, k-means ARI on W / on X_zinbwave_mu: " + "; ".join(
                                f"seed {r['seed']}: " + ", ".join(f"{k} {f(a_, 2)} / {f(b_, 2)}" for k, a_, b_ in zip(r["epsilon_W_search"]["n_latent"][::2], r["epsilon_W_search"]["mcv_nll"][::2], r["epsilon_W_search"]["mcv_nll"][1::2]))
                                + f", K = {r['n_latent']} at {'10x' if r['epsilon_W'] > min(r['epsilon_W_search']['epsilon_W']) else 'the default'}, {f(r['kmeans_ARI'], 3)} / {f(r['kmeans_ARI_mu'], 3)}" for r in q) + ".")
    bal = [f"{ds} {f(statistics.mean(r['ridge_pair_per_cell'] for r in q), 2)} / {f(statistics.mean(r['ridge_pair_min_per_cell'] for r in q), 2)}"
           for ds in order if (q := [r for r in by.get((ds, "zinbwave"), []) if "ridge_pair_per_cell" in r])]
    if bal: starts.append("- ZINB-WaVE by Adam at its defaults: the ridges on W and on the loadings per training cell at the end of the fit / their "
                          "minimum over the maps W B, B^-1 alpha that leave the likelihood unchanged (where Newton's steps end every epoch), "
                          "means over the seeds: " + "; ".join(bal) + ".")
    chosen = []   # per seed: which start `choose_start` kept, with the agreements it compared
    for ds in order:
        q = sorted([r for r in by.get((ds, "gmvae_auto"), []) if "mixture_start" in r], key=lambda r: r["seed"])
        if q: chosen.append(f"- GMVAE on {ds}, the start chosen without labels, per seed: " + "; ".join(
            f"seed {r['seed']}: {'Gaussian mixture' if r['mixture_start']['method'] == 'gmm' else 'k-means'} (agreement of the mixture with "
            f"k-means' restarts {f(r['mixture_start']['agreement_gmm'], 3)}, of the restarts with one another {f(r['mixture_start']['agreement_kmeans'], 3)}), "
            f"argmax ARI {f(r['argmax_ARI'], 3)}" for r in q) + ".")
    chk = [r for r in rs if r["method"] == "scvi50"]
    notes = [f"- SCVI trained for 50 epochs on its own (`scvi50`, {r['dataset']}, seed {r['seed']}): k-means ARI {f(r['kmeans_ARI'], 3)}; "
             f"the epoch-50 snapshot of the 400-epoch run of the same seed: "
             f"{f(next((q['epoch50_kmeans_ARI'] for q in rs if q['method'] == 'scvi' and q['dataset'] == r['dataset'] and q['seed'] == r['seed']), None), 3)}."
             for r in chk if "seconds" not in r]
    timed = [r for r in chk if "seconds" in r]
    if timed:   # SCVI's own 50-epoch fits, timed: the ratio to ZINB-WaVE at its defaults on the same machine
        parts = []
        for ds in order:
            sc50 = sorted([r for r in timed if r["dataset"] == ds], key=lambda r: r["seed"])
            if not sc50: continue
            snap = {q["seed"]: q for q in by.get((ds, "scvi"), []) if "epoch50_kmeans_ARI" in q}
            where = sorted({snap[r["seed"]]["machine"] for r in sc50 if r["seed"] in snap} - {sc50[0]["machine"]})
            part = (f"{ds}: {f(statistics.mean(r['seconds'] for r in sc50), 1)} s, k-means ARI {mean_pm([r['kmeans_ARI'] for r in sc50], 3)} "
                    f"(the epoch-50 snapshots of the same seeds{', fitted on ' + ' and '.join(where) if where else ''}: "
                    f"{', '.join(f(snap[r['seed']]['epoch50_kmeans_ARI'], 3) for r in sc50 if r['seed'] in snap)})")
            for m, lab, faster in (("zinbwave", "ZINB-WaVE at its defaults", " faster"), ("zinbwave_newton", "by Newton's steps", " faster"),
                                   ("zinbwave_auto", "with the ridge on W chosen (two fits)", ""), ("zinbwave_newton_auto", "by Newton's steps with the ridge on W chosen (two fits)", ""),
                                   ("zinbwave_newton_kauto", "by Newton's steps with K and the ridge chosen (six fits)", "")):
                t = _vs_scvi50(by, ds, m)
                if t: part += f"; {lab} {f(t[1], 1)} s, **{t[0] / t[1]:.1f}x**{faster}"
            parts.append(part)
        ms50 = sorted({r["machine"] for r in timed})
        notes.append(f"- SCVI trained for 50 epochs on its own (`scvi50`, seeds {','.join(sorted({str(r['seed']) for r in timed}))}, "
                     f"{' and '.join(ms50)}, the same machine as ZINB-WaVE's times where a ratio is given; mean wall seconds of the fit, "
                     "one torch thread, two benchmark processes side by side): " + "; ".join(parts) + ".")
    mu_methods = [(m, lab) for m, lab in (("zinbwave", "defaults (Adam)"), ("zinbwave_newton", "Newton's steps"), ("zinbwave_auto", "chosen ridge (Adam)"),
                                          ("zinbwave_newton_auto", "Newton's steps, chosen ridge"), ("zinbwave_newton_kauto", "Newton's steps, chosen K and ridge")) if any("kmeans_ARI_mu" in r for ds in order for r in by.get((ds, m), []))]
    mu_rows = []   # the same fits, k-means on W against k-means on X_zinbwave_mu (the principal components of W alpha_mu)
    for ds in order:
        row, any_mu = [ds], False
        for m, _ in mu_methods:
            q = [r for r in by.get((ds, m), []) if "kmeans_ARI_mu" in r]
            any_mu |= bool(q)
            row += ([mean_pm([r["kmeans_ARI"] for r in q], 3), mean_pm([r["kmeans_ARI_mu"] for r in q], 3)] if q else ["not run", "not run"])
        if not any_mu: continue
        sc = scvi_best(by, ds)
        mu_rows.append(row + [f(sc, 3) if sc is not None else ""])
    two = sorted({(r["dataset"], r["method"]) for r in rs if two_threads(r)}, key=lambda q: (order.index(q[0]), q[1]))
    if two:   # files whose fits ran with torch's OpenMP team at every core (a dataset loaded after another, before the benchmark reset it)
        notes.append("- Times marked * include fits that ran with two torch threads (the files' `torch_threads`), two processes "
                     "on the two cores: " + ", ".join(f"{m} on {d} (seeds {','.join(str(r['seed']) for r in sorted(by[(d, m)], key=lambda r: r['seed']) if two_threads(r))})"
                                                          for d, m in two) + ".")
    ms = sorted({r["machine"] for r in rs})
    head = (f"{' and '.join(ms)}{' (which file ran where: the CPU column of the files table)' if len(ms) > 1 else ''}; load {load_range(rs)}; torch {v.get('torch')} (1 thread per process{', but where a time is marked *' if two else ''}), scvi-tools {v.get('scvi-tools')}, "
            f"scikit-learn {v.get('scikit-learn')}; dates {min(r['date'] for r in rs)[:10]} to {max(r['date'] for r in rs)[:10]}. "
            "k-means ARI against the labels, mean ± 1.64 SEM over the seeds in brackets.")
    return head + "\n\n" + table(["data (cells x genes)", "ZINB-WaVE + k-means"] + (["ZINB-WaVE, random start, + k-means"] if zwr else [])
                                  + (["ZINB-WaVE, 10 epochs, + k-means"] if zw10 else []) + (["ZINB-WaVE, Newton's steps, + k-means"] if zwn else [])
                                  + [zwa_head[m][0] for m in zwa]
                                  + ["GMVAE argmax q(y|x)", "GMVAE + k-means"]
                                  + (["GMVAE, Gaussian-mixture start, argmax q(y|x)", "GMVAE, Gaussian-mixture start, + k-means"] if gmm else [])
                                  + (["GMVAE, start chosen without labels, argmax q(y|x)"] if auto else [])
                                  + (["GMVAE with SCVI's KL schedule, argmax q(y|x)"] if warm else []) + ["SCVI 50 epochs + k-means", "SCVI 400 epochs + k-means",
                                   "fit seconds: ZINB-WaVE / " + ("random start / " if zwr else "") + ("ZINB-WaVE 10 epochs / " if zw10 else "") + ("Newton's steps / " if zwn else "") + "".join(zwa_head[m][1] for m in zwa) + "GMVAE / SCVI 50 / SCVI 400",
                                   "SCVI's best (mean)"], rows) + ("\n\n" + "\n".join(notes + starts + chosen + elbo) if notes + starts + chosen + elbo else "") + (
        "\n\nZINB-WaVE's fits above, each clustered twice: k-means on W (`obsm[\"X_zinbwave\"]`, the columns above) and on the principal "
        "components of its latent log-mean term W alpha_mu (`obsm[\"X_zinbwave_mu\"]`), k-means ARI, mean ± 1.64 SEM over the seeds of the files that "
        "record both:\n\n" + table(["data"] + [f"{lab}: {w}" for _, lab in mu_methods for w in ("W", "X_zinbwave_mu")] + ["SCVI's best (mean)"], mu_rows)
        if mu_rows else "") + (("\n\n" + ct) if (ct := confusion_table()) else "")


def confusion_table():
    "Which reference groups each method's clusters keep together and which they put in one cluster (bench_cluster.py's `confusion`)."
    import numpy as np
    files = [r for _, r in load("confusion_*_seed*.json")]
    cl = [r for _, r in load("cluster_*_seed*.json")]
    out = []
    names = {"zinbwave_W": "ZINB-WaVE at its defaults, k-means on W", "zinbwave_mu": "ZINB-WaVE at its defaults, k-means on X_zinbwave_mu",
             "gmvae_argmax": "GMVAE at its defaults, argmax q(y|x)", "gmvae_gmm_argmax": "GMVAE, Gaussian-mixture start, argmax q(y|x)",
             "scvi50": "SCVI 50 epochs, k-means"}
    for ds in sorted({r["dataset"] for r in files}):
        rs = sorted((r for r in files if r["dataset"] == ds), key=lambda r: r["seed"])
        labels = rs[0]["tables"]["scvi50"]["labels"]
        sizes = np.array(rs[0]["tables"]["scvi50"]["counts"]).sum(1)
        order = sorted(range(len(labels)), key=lambda i: (0, int(labels[i]), "") if labels[i].isdigit() else (1, 0, labels[i]))   # groups 1, 2, ..., 10
        big, keys = int(np.argmax(sizes)), [k for k in names if all(k in r["tables"] for r in rs)]
        rows = []
        for key in keys:
            kept, co, away = [], [], []
            for r in rs:
                C = np.array(r["tables"][key]["counts"], dtype=float); n = C.sum(1)
                kept.append((C * (C - 1)).sum(1) / (n * (n - 1)))          # share of a group's pairs of cells in one cluster
                co.append((C @ C.T) / np.outer(n, n))                      # share of two groups' cross pairs in one cluster
                lead = C.argmax(0)                                         # the group with most cells in each cluster
                away.append([C[big, lead == g].sum() / n[big] for g in range(len(labels))])   # the largest group's cells in clusters led by group g
            kept, co, away = np.mean(kept, 0), np.mean(co, 0), np.mean(away, 0)
            pairs = sorted(((co[i, j], labels[i], labels[j]) for i in range(len(labels)) for j in range(i + 1, len(labels))), reverse=True)
            src = dict(zinbwave_W=("zinbwave", "kmeans_ARI"), zinbwave_mu=("zinbwave", "kmeans_ARI_mu"), gmvae_argmax=("gmvae", "argmax_ARI"),
                       gmvae_gmm_argmax=("gmvae_gmm", "argmax_ARI"), scvi50=("scvi50", "kmeans_ARI"))[key]
            col = {r["seed"]: r.get(src[1]) for r in cl if r["dataset"] == ds and r["method"] == src[0]}
            diff = [abs(r["tables"][key]["ari"] - col[r["seed"]]) for r in rs if col.get(r["seed"]) is not None]
            rows.append([names[key], mean_pm([r["tables"][key]["ari"] for r in rs], 3),
                         (f(max(diff), 3) if len(diff) == len(rs) else "-")] + [f(float(kept[i]), 2) for i in order]
                        + [", ".join(f"{a} with {b} {f(float(v), 2)}" for v, a, b in pairs[:3]),
                           ", ".join(f"group {labels[g]} {f(float(v), 3)}" for g, v in sorted(enumerate(away), key=lambda q: -q[1]) if g != big and v >= 0.005)])
        notes = []
        if all(r["tables"][k]["largest_group_log_total"]["in_other_clusters"] is not None for k in keys for r in rs):
            mean_of = lambda k, q: statistics.mean(r["tables"][k]["largest_group_log_total"][q] for r in rs)
            lt = {l: statistics.mean(r["log_total_by_label"][l] for r in rs) for l in labels}
            notes.append(f"- {ds}, mean log total count of the largest group's cells (group {labels[big]}) in the clusters it leads / "
                         "in clusters led by another group, means over the seeds: "
                         + "; ".join(f"{names[k]}: {f(mean_of(k, 'in_its_clusters'), 2)} / {f(mean_of(k, 'in_other_clusters'), 2)}" for k in keys)
                         + "; of every group's cells: " + ", ".join(f"{labels[i]} {f(lt[labels[i]], 2)}" for i in order) + ".")
        mis = [f"{names[key]}: {f(statistics.mean(r['tables'][key]['misplaced']['cells'] for r in rs), 1)} / "
               f"{f(statistics.mean(r['tables'][key]['misplaced']['doublets'] for r in rs), 1)}"
               for key in keys if all("misplaced" in r["tables"][key] for r in rs)]
        if mis:
            m0 = rs[0]["tables"]["scvi50"]["misplaced"]
            notes.append(f"- {ds}, cells that fall in a cluster led by another group / how many of them the data's SNP calls (demuxlet) "
                         f"call doublets, means over the seeds (of all {m0['all_cells']:,} cells, {m0['all_doublets']:,} are called doublets): "
                         + "; ".join(mis) + ".")
        out.append(f"Which of {ds}'s reference groups the clusters keep together and which they join (`confusion_{ds}_seed*.json`, seeds "
                   f"{','.join(str(r['seed']) for r in rs)}; each method fitted as in its column; for k-means the run with the median ARI): "
                   "for each group, the share of its pairs of cells that fall in one cluster; for the three pairs of groups most often joined, "
                   "the share of their cross pairs (one cell of each) that fall in one cluster; and the share of the largest group's cells that fall "
                   "in clusters led by another group (most of whose cells are of that group), where at least 0.005; means over the seeds.\n\n"
                   + table(["clusters", "ARI", "largest difference from its column's file"] + [f"group {labels[i]} ({sizes[i]:,} cells)" for i in order] + ["groups most often in one cluster", "the largest group's cells in clusters led by"], rows)
                   + ("\n\n" + "\n".join(notes) if notes else ""))
    return "\n\n".join(out)


def block_glmm():
    r = one("glmm.json")
    if r is None: return missing("`bench_glmm.py` (GLMM vs lme4 and glmmTMB)")
    v, R, o = r["versions"], r.get("r", {}), r["ours_poisson"]
    rows = []
    if "lme4" in R: rows.append([f"lme4 {v.get('lme4')} `glmer` (Poisson)", f"{f(R['lme4']['cpu_s'], 1)} s CPU ({f(R['lme4']['elapsed_s'], 1)} s elapsed)", f(R["lme4"]["loglik"], 4)])
    if "glmmTMB" in R: rows.append([f"glmmTMB {v.get('glmmTMB')} (Poisson)", f"{f(R['glmmTMB']['cpu_s'], 1)} s CPU ({f(R['glmmTMB']['elapsed_s'], 1)} s elapsed)", f(R["glmmTMB"]["loglik"], 4)])
    rows.append(["zinb_nb `glmm` (Poisson), first call of a process", f"{f(o['cold_wall_s'], 2)} s wall, {f(o['cold_cpu_s'], 2)} s CPU", ""])
    rows.append([f"zinb_nb `glmm` (Poisson), warm, median of {r['reps']}", f"{f(o['warm_wall_s'], 3)} s wall, {f(o['warm_cpu_s'], 3)} s CPU", f(o["loglik"], 4)])
    if "glmmTMB_REML" in R:
        rows.append(["glmmTMB `REML = TRUE`", f"{f(R['glmmTMB_REML']['cpu_s'], 1)} s CPU", f(R["glmmTMB_REML"]["loglik"], 4)])
    if "ours_poisson_reml" in r:
        q = r["ours_poisson_reml"]; rows.append(["zinb_nb `glmm(reml=True)`, warm", f"{f(q['warm_wall_s'], 3)} s wall, {f(q['warm_cpu_s'], 3)} s CPU", f(q["loglik"], 4)])
    if "glmmTMB_nb" in R: rows.append(["glmmTMB `nbinom2` (NB)", f"{f(R['glmmTMB_nb']['cpu_s'], 1)} s CPU", f(R["glmmTMB_nb"]["loglik"], 4)])
    if "ours_nb" in r: rows.append(["zinb_nb `glmm(family=\"nb\")`, first NB call, after the Poisson fits", f"{f(r['ours_nb']['cold_wall_s'], 2)} s wall, {f(r['ours_nb']['cold_cpu_s'], 2)} s CPU", f(r["ours_nb"]["loglik"], 4)])
    if "ours_nb_fresh" in r:
        q = r["ours_nb_fresh"]; rows.append(["zinb_nb `glmm(family=\"nb\")`, first and only fit of a fresh process", f"{f(q['wall_s'], 2)} s wall, {f(q['cpu_s'], 2)} s CPU", f(q["loglik"], 4)])
    lines = [f"{r['date']}, load {load_range([r])}; {r['machine']}; torch {v.get('torch')} ({r['torch_threads']} thread), R {v.get('R')}.",
             "", table(["fit", "time", "logLik"], rows), ""]
    for peer, key in (("lme4", "lme4"), ("glmmTMB", "glmmTMB")):
        if key in R:
            lines.append(f"- {peer} CPU / ours CPU, single fit: **{ratio(R[key]['cpu_s'], o['cold_cpu_s'])} against our first call of a process**, "
                         f"{ratio(R[key]['cpu_s'], o['warm_cpu_s'])} against a warm call.")
    if "glmmTMB_nb" in R and "ours_nb_fresh" in r:
        q = r["ours_nb_fresh"]
        lines.append(f"- NB: glmmTMB `nbinom2` CPU / ours CPU, single fit: **{ratio(R['glmmTMB_nb']['cpu_s'], q['cpu_s'])} against the NB fit as the first "
                     f"and only fit of a fresh process** (imports done before it: {f(q['import_s'], 1)} s"
                     + (f"; of that call's {f(q['cpu_s'], 2)} s of CPU, importing formulaic, which a first call does to build the fixed effects, "
                        f"takes {f(q['formulaic_import_cpu_s'], 2)} s in a fresh process, and a warm NB call {f(r['ours_nb']['warm_cpu_s'], 2)} s"
                        if "formulaic_import_cpu_s" in q and "warm_cpu_s" in r["ours_nb"] else "") + "), "
                     f"{ratio(R['glmmTMB_nb']['cpu_s'], r['ours_nb']['cold_cpu_s'])} against our first NB call in the benchmark's process, which had already fitted the Poisson model.")
    elif "glmmTMB_nb" in R and "ours_nb" in r:
        lines.append(f"- NB: glmmTMB `nbinom2` CPU / ours CPU: **{ratio(R['glmmTMB_nb']['cpu_s'], r['ours_nb']['cold_cpu_s'])}** (our first NB "
                     "call, in a process that had already fitted the Poisson model: torch's one-time initialisation was paid before).")
    for fam in ("poisson", "nb"):
        g = r.get(f"glmm_genes_{fam}")
        if g: lines.append(f"- `glmm_genes`, {g['genes']:,} simulated {fam} genes x {g['cells']:,} cells, one call: {f(g['wall_s'], 1)} s wall "
                           f"({f(1e3 * g['wall_s'] / g['genes'], 1)} ms per gene), {g['converged']:,}/{g['genes']:,} converged"
                           + (f"; lme4 at its single-fit CPU time above would need {f(R['lme4']['cpu_s'] * g['genes'] / 3600, 1)} h of CPU "
                              "for as many genes (an extrapolation, not a measurement)." if fam == "poisson" and "lme4" in R else "."))
    return "\n".join(lines).rstrip()


def block_vae():
    rs = [r for _, r in load("vae_*_seed*.json")]
    if not rs: return missing("`bench_vae.py`")
    order = ["poisson", "nb", "zip", "zinb", "gmvae", "scvi"]
    sd = lambda v, d: (f"{f(statistics.mean(v), d)} ± {f(statistics.stdev(v), d)}" if len(v) > 1 else f(v[0], d)) if v else ""
    rows = []
    for mod in order + sorted({r["model"] for r in rs} - set(order)):
        g = [r for r in rs if r["model"] == mod]
        if not g: continue
        col = lambda k: [r[k] for r in g if k in r]
        rows.append([mod, ",".join(str(r["seed"]) for r in g), "/".join(str(x) for x in col("epochs")), f(statistics.mean(col("sec_per_epoch")), 2),
                     load_range(g), sd(col("heldout_iwae"), 1), sd(col("ARI"), 3), sd(col("NMI"), 3), sd(col("kmeans_ARI"), 3), sd(col("kmeans_NMI"), 3),
                     " ".join(str(r.get("date", "")) for r in g)])
    per_seed = []
    for mod, k in (("gmvae", "ARI"), ("scvi", "kmeans_ARI")):
        v = [f(r[k], 3) for r in sorted(rs, key=lambda r: r["seed"]) if r["model"] == mod and k in r]
        if v: per_seed.append(f"{mod} {k} per seed: {', '.join(v)}")
    return table(["model", "seeds", "epochs", "s/epoch (mean)", "load", "held-out log-lik / cell", "ARI q(y|x)", "NMI q(y|x)",
                  "k-means ARI", "k-means NMI", "dates (UTC)"], rows) + "\n\n(mean ± sd over training seeds; " + "; ".join(per_seed) + ")"


def block_zinbwave():
    rs = {(r["dataset"], r["method"].split()[0]): r for _, r in load("zinbwave_*.json") if "method" in r}
    if not rs: return missing("`bench_zinbwave.py run`")
    rows = []
    for (ds, m), r in sorted(rs.items(), key=lambda kv: (kv[0][0] != "pbmc", kv[0][1] != "zinbwave", kv[0][1])):
        if m == "zinbwave":
            fit, after, t_after = r["fit_seconds"], r["transform_seconds"], "transform (held-out cells' own parameters)"
        else:
            fit, after = r["fit_seconds"], r.get("eval_seconds")
        rows.append([ds, r["method"], r["epochs"], f(fit, 1), f(after, 1), f(fit + (after or 0), 1), f(r["heldout_nll"], 1),
                     f(r.get("heldout_marginal_nll"), 1), f(r.get("impute_l1"), 3), f(r["ari"], 3), f(r["nmi"], 3), f(r["asw"], 3),
                     f(r.get("batch_entropy"), 3), f(r["peak_mb"], 0)])
    out = [table(["data", "method", "epochs", "fit s", "held-out step s", "fit + held-out s", "held-out NLL / cell",
                  "SCVI marginal NLL", "imputation median L1", "k-means ARI", "NMI", "ASW", "kNN-50 batch entropy", "peak MB"], rows), ""]
    for ds in ("pbmc", "cellbench"):
        o = rs.get((ds, "zinbwave"))
        for peer in ("SCVI", "LinearSCVI"):
            p = rs.get((ds, peer))
            if o and p:
                to, tp = o["fit_seconds"] + o["transform_seconds"], p["fit_seconds"] + p["eval_seconds"]
                out.append(f"- {ds}, ours vs {peer}: fit + held-out cells {f(to, 1)} s vs {f(tp, 1)} s, "
                           f"**{ratio(tp, to, 1)}** (wall, one process each, same held-out cells); held-out NLL {f(o['heldout_nll'], 1)} vs "
                           f"{f(p['heldout_nll'], 1)} (reconstruction error) and {f(p.get('heldout_marginal_nll'), 1)} (marginal).")
    return "\n".join(out).rstrip()


def block_scale():
    files = [(n, s) for n, s in load("zinbwave_scale_*.json") if isinstance(s, list) and s and "mode" in s[0]
             and n != "zinbwave_scale_equal_steps.json" and not n.startswith("zinbwave_scale_init_")]
    if not files: return missing("`bench_zinbwave.py scale`")
    out = []
    widest = max(files, key=lambda x: len({r["n_cells"] for r in x[1]}))[1]
    by = {(r["n_cells"], r["mode"]): r for r in widest}    # the notes below read the file with the most sizes
    for name, s in sorted(files, key=lambda x: max(str(r.get("when", "")) for r in x[1]), reverse=True):   # newest first
        cur = {(r["n_cells"], r["mode"]): r for r in s}
        rows = []
        for n in sorted({r["n_cells"] for r in s}):
            st, me = cur.get((n, "store"), {}), cur.get((n, "memory"), {})
            rows.append([f"{n:,}", f(st.get("seconds_per_epoch"), 1), f(me.get("seconds_per_epoch"), 1), f(st.get("peak_mb"), 0),
                         f(me.get("peak_mb"), 0), f(st.get("cell_store_mb"), 1), f"{st.get('when', '')} / {me.get('when', '')}, load {load_range([st, me])}"])
        out += [f"`results/{name}`:", "", table(["cells", "s / epoch, store", "s / epoch, memory", "peak RSS, store (MB)", "peak RSS, memory (MB)",
                                                  "per-cell files (MB)", "measured"], rows), ""]
        ns = sorted({r["n_cells"] for r in s})
        for a, b in zip(ns, ns[1:]):
            x, y = cur.get((a, "store")), cur.get((b, "store"))
            if x and y: out.append(f"- store: {a:,} -> {b:,} cells (x{b // a}): time per epoch x{f(y['seconds_per_epoch'] / x['seconds_per_epoch'], 1)}.")
        out.append("")
    q = one("zinbwave_scale_equal_steps.json")
    if q: out.append("- Peak RSS at an equal number of minibatch steps (store; `results/zinbwave_scale_equal_steps.json`, written by an earlier version of `bench_zinbwave.py scale` that took a number of epochs per size): "
                     + ", ".join(f"{f(r['peak_mb'], 0)} MB at {r['n_cells']:,} cells ({r['epochs']} epoch{'s' if r['epochs'] != 1 else ''})" for r in q)
                     + f"; load {load_range(q)}.")
    old = one("zinbwave_scale_1000000_before_rowadam.json")
    new = by.get((1_000_000, "memory"))
    if old and new:
        o = old[0]
        out.append(f"- Before per-cell parameters were stepped row by row (`RowAdam`), the same 1,000,000-cell epoch took {f(o['seconds_per_epoch'], 1)} s "
                   f"with a peak of {f(o['peak_mb'], 0)} MB (`results/zinbwave_scale_1000000_before_rowadam.json`, same simulated data; training NLL "
                   f"after the epoch {f(o['nll'], 3)} there and {f(new['nll'], 3)} in the memory run above; that file records no date or load).")
    for name, s in load("zinbwave_scale_init_*.json"):   # the SVD start of tl.zinbwave on the same backed files
        rows = [[f"{r['n_cells']:,}", f(r["init_seconds"], 1), f(r["epoch_seconds"], 1), f(r["init_seconds"] / r["epoch_seconds"], 2),
                 f(r["peak_mb_before_init"], 0), f(r["peak_mb_after_init"], 0), f"{r['when']}, load {load_range([r])}"] for r in s]
        out += ["", f"The SVD start of the latent (`init_latent`, {s[0]['init_passes']} passes over the file), per-cell state in files, "
                    f"against the first epoch after it (`results/{name}`, one fresh process per size):", "",
                table(["cells", "start (s)", "first epoch (s)", "start / epoch", "peak RSS before the start (MB)", "peak RSS after it (MB)", "measured"], rows)]
    return "\n".join(out).rstrip()


def block_rzinbwave():
    rs = load("rzinbwave_*.json")
    if not rs: return missing("`bench_rzinbwave.py`")
    rows = []
    for name, r in rs:
        R = r.get("r_zinbwave")
        data = f"{r.get('dataset', 'pbmc')}, {r['cells']:,} cells x {r['genes']:,} genes, K = {r['k']}"
        disp = "" if not R else ("gene-wise (`commondispersion = FALSE`)" if R.get("commondispersion") is False else "one for all genes (default)")
        for opt in ("adam", "lbfgs", "newton"):
            o = r.get(f"ours_{opt}")
            if not o: continue
            reach = o.get("seconds_to_r_loglik")
            rows.append([f"`{name}`", data, disp, (f"{R['version']}: " if R.get("version") else "") + f"{f(R['seconds_cpu'], 0)} s CPU / {f(R['seconds_wall'], 0)} s wall" if R else "not run",
                         f(R["loglik_per_cell"], 1) if R else "", f"{opt}, {o['epochs']} {'outer steps' if opt == 'lbfgs' else 'epochs'}",
                         f"{f(o['seconds_cpu'], 1)} s CPU / {f(o['seconds_wall'], 1)} s wall", f(o["loglik_per_cell"], 1),
                         f"{ratio(R['seconds_cpu'], o['seconds_cpu'], 1)} / {ratio(R['seconds_wall'], o['seconds_wall'], 1)}" if R else "",
                         (f"{f(reach, 1)} s wall ({ratio(R['seconds_wall'], reach)} R's wall)" if reach else "never") if R else ""])
    return table(["file", "data", "R dispersion", "R zinbFit", "R log-lik / cell", "ours", "ours, whole fit", "ours log-lik / cell",
                  "whole fit, R / ours (CPU / wall)", "ours reaches R's log-lik at"], rows)


def block_gpu():
    r = one("gpu_check.json")
    if r is None: return missing("`gpu_check.py`")
    c = r["checks"]
    ok = lambda k: "passed" if c.get(k, {}).get("ok") else "FAILED" if k in c else "not run"
    rows = []
    if "em" in c:
        x = c["em"]
        rows.append([f"EM (`fit_zinb_em`), PBMC 4k, {x['genes']:,} genes x {x['cells']:,} cells", ok("em"),
                     f"max rel. log-lik difference {e(x['max_rel_loglik_diff'])}", f"{f(x['seconds_cpu'], 2)} s (first call)",
                     f"{f(x['seconds_warm'], 2)} s warm ({f(x['seconds_first'], 2)} s first call)",
                     f"{f(x['seconds_cpu'] / x['seconds_warm'], 2)}x"])
    for k, label in (("nb_label", "EM with a design (`fit_zinb_em(design=...)`, NB on `~ label`, size factors), PBMC 4k"),
                     ("zinb_general", "EM with a design (ZINB; intercept, a random condition and a normal covariate; size factors), PBMC 4k")):
        x = c.get("em_design", {}).get(k)
        if not isinstance(x, dict): continue
        rows.append([f"{label}, {x['genes']:,} genes x {x['cells']:,} cells, {x['columns']} columns", "passed" if x["ok"] else "**failed**",
                     f"max rel. log-lik difference {e(x['max_rel_loglik_diff'])}", f"{f(x['seconds_cpu'], 2)} s (after the EM above, same process)",
                     f"{f(x['seconds_warm'], 2)} s warm ({f(x['seconds_first'], 2)} s first call)", f"{f(x['seconds_cpu'] / x['seconds_warm'], 2)}x"])
    if "glmm" in c:
        x = c["glmm"]
        cpu_g = x["seconds_cpu_for_genes_cpu"] / x["genes_cpu"]
        if "seconds_warm" in x:
            gpu_g = x["seconds_warm"] / x["genes"]
            gpu = (f"{f(x['seconds_warm'], 2)} s warm for {x['genes']} genes ({f(1e3 * gpu_g, 1)} ms/gene), {f(x['seconds'], 2)} s first call; "
                   f"Hessian by one backward pass per parameter: {f(x['seconds_loop_hessian_warm'], 2)} s warm, {f(x['seconds_loop_hessian_first'], 2)} s first call")
            per = f"{f(cpu_g / gpu_g, 0)}x per gene (GPU warm)"
        else:
            gpu_g = x["seconds"] / x["genes"]
            gpu, per = f"{f(x['seconds'], 2)} s for {x['genes']} genes ({f(1e3 * gpu_g, 1)} ms/gene)", f"{f(cpu_g / gpu_g, 0)}x per gene"
        rows.append([f"GLMM (`glmm_genes`, Poisson), {x['cells']:,} cells", ok("glmm"), f"max abs. fixed-effect difference {e(x['max_abs_estimate_diff'])}",
                     f"{f(x['seconds_cpu_for_genes_cpu'], 2)} s for {x['genes_cpu']} genes ({f(1e3 * cpu_g, 0)} ms/gene; first call)", gpu, per])
    if "glmm_nb" in c:
        x = c["glmm_nb"]
        cpu_g, gpu_g = x["seconds_cpu_for_genes_cpu"] / x["genes_cpu"], x["seconds_warm"] / x["genes"]
        rows.append([f"GLMM (`glmm_genes`, NB), {x['cells']:,} cells", ok("glmm_nb"),
                     f"max abs. fixed-effect difference {e(x['max_abs_estimate_diff'])}, log theta {e(x['max_abs_log_theta_diff'])}",
                     f"{f(x['seconds_cpu_for_genes_cpu'], 2)} s for {x['genes_cpu']} genes ({f(1e3 * cpu_g, 0)} ms/gene; first call)",
                     f"{f(x['seconds_warm'], 2)} s warm for {x['genes']} genes ({f(1e3 * gpu_g, 1)} ms/gene), {f(x['seconds'], 2)} s first call",
                     f"{f(cpu_g / gpu_g, 0)}x per gene (GPU warm)"])
    if "zinbwave" in c:
        x = c["zinbwave"]
        rows.append(["ZINB-WaVE (`tl.zinbwave`), PBMC 4k, 3 epochs", ok("zinbwave"), f"max rel. training-NLL difference {e(x['max_rel_nll_diff'])}",
                     f"{f(x['sec_per_epoch_pbmc_cpu'], 3)} s/epoch", f"{f(x['sec_per_epoch_pbmc'], 3)} s/epoch",
                     f"{f(x['sec_per_epoch_pbmc_cpu'] / x['sec_per_epoch_pbmc'], 2)}x"])
        for k, v in x.items():
            m = re.fullmatch(r"sec_per_epoch_(\d+)_cells_x_(\d+)_genes", k)
            if m: rows.append([f"ZINB-WaVE, {int(m[1]):,} simulated cells x {int(m[2]):,} genes (counts held on the GPU; minibatches of 1,024, second epoch)", "", "",
                               "not measured", f"{f(v, 2)} s/epoch", ""])
            m = re.fullmatch(r"newton_sec_per_epoch_(\d+)_cells_x_(\d+)_genes_blocks_(\d+)", k)
            if m: rows.append([f"ZINB-WaVE by Newton's steps, {int(m[1]):,} simulated cells x {int(m[2]):,} genes (counts held on the GPU; blocks of {int(m[3]):,} cells, second epoch)", "", "",
                               "not measured", f"{f(v, 2)} s/epoch", ""])
        if "newton" in x:
            y = x["newton"]
            rows.append(["ZINB-WaVE by Newton's steps (`tl.zinbwave(optimizer=\"newton\")`), PBMC 4k, 3 epochs", "passed" if y["ok"] else "**failed**",
                         f"max rel. training-loss difference {e(y['max_rel_loss_diff'])}", f"{f(y['sec_per_epoch_pbmc_cpu'], 3)} s/epoch",
                         f"{f(y['sec_per_epoch_pbmc'], 3)} s/epoch", f"{f(y['sec_per_epoch_pbmc_cpu'] / y['sec_per_epoch_pbmc'], 2)}x"])
    for k, label in (("vae", "VAE (`CountVAE`, ZINB)"), ("gmvae", "GMVAE (`CountVAE`, 8 components)"), ("zipo", "ZiPo (`tl.zipo`)")):
        if k not in c: continue
        x = c[k]
        diff = x.get("rel_valid_nelbo_diff", x.get("rel_nll_diff"))
        rows.append([f"{label}, PBMC 4k, 3 epochs", ok(k), f"rel. difference of the last {'validation -ELBO' if k != 'zipo' else 'training NLL'} {e(diff)}",
                     f"{f(x['cpu']['sec_per_epoch'], 3)} s/epoch", f"{f(x['gpu']['sec_per_epoch'], 3)} s/epoch",
                     f"{f(x['cpu']['sec_per_epoch'] / x['gpu']['sec_per_epoch'], 2)}x"])
        if k == "zipo" and "gpu_proximal" in x:
            rows.append(["ZiPo (`tl.zipo(proximal=True)`), PBMC 4k, 3 epochs", ok(k), f"rel. difference of the last training NLL {e(x['rel_nll_diff_proximal'])}",
                         f"{f(x['cpu_proximal']['sec_per_epoch'], 3)} s/epoch", f"{f(x['gpu_proximal']['sec_per_epoch'], 3)} s/epoch",
                         f"{f(x['cpu_proximal']['sec_per_epoch'] / x['gpu_proximal']['sec_per_epoch'], 2)}x"])
    if "batches" in c:
        x = c["batches"]
        for k, label in (("vae", "VAE (`tl.vae`, `batch_key`)"), ("zipo", "ZiPo (`tl.zipo`, `covariate_keys`)")):
            if k in x: rows.append([f"{label}, CellBench {x['cells']:,} cells x {x['genes']:,} genes, the technology as the batch, 3 epochs", ok("batches"),
                                    f"rel. difference of the last validation loss {e(x[k]['rel_diff'])}", "", "", ""])
    if isinstance(c.get("zipo", {}).get("refine_mcv"), dict):
        x = c["zipo"]; m = x["refine_mcv"]
        rows.append([f"ZiPo (`tl.zipo(refine=\"mcv\")`), PBMC 4k, 3 epochs, {m['cpu']['steps']} refinement steps", ok("zipo"),
                     f"rel. difference of the unrefined MCV MSE {e(x['rel_mcv_diff_unrefined'])} (thinning by each device's own generator)", "", "", ""])
    if isinstance(c.get("zipo", {}).get("prune_to"), dict):
        x = c["zipo"]; m = x["prune_to"]; dev = next(k for k in m if k != "cpu")
        rows.append(["ZiPo pruned to a fraction with retraining (`tl.zipo(prune_to=0.9)`), PBMC 4k, 1,000 cells x 500 genes", ok("zipo"),
                     f"first layer zero: {f(100 * m['cpu']['sparsity'], 1)}% (CPU), {f(100 * m[dev]['sparsity'], 1)}% (GPU); rel. difference of the "
                     f"validation NLL after the retraining {e(x['rel_nll_diff_prune_to'])} ({m['cpu']['epochs']} and {m[dev]['epochs']} epochs to its early stop)",
                     "", "", ""])
    if isinstance(c.get("zipo", {}).get("refit"), dict):
        x = c["zipo"]; m = x["refit"]; dev = next(k for k in m if k != "cpu")
        rows.append(["ZiPo refitted by least squares (`tl.zipo(proximal=True, refit=True)`), PBMC 4k, 1,000 cells x 500 genes, 3 epochs (times: the fit and the refit)", ok("zipo"),
                     f"kept: {m['cpu']['kept']} (CPU), {m[dev]['kept']} (GPU); rel. difference of the validation NLL after the refit {e(x['rel_nll_diff_refit'])}",
                     f"{f(m['cpu']['seconds'], 1)} s", f"{f(m[dev]['seconds'], 1)} s", ""])
    if "gmm" in c:
        x = c["gmm"]
        rows.append(["The GMVAE's Gaussian-mixture start (`cluster.gmm_diag`, EM in float64), 800,000 points x 10 dimensions, 4 components", ok("gmm"),
                     f"rel. log-lik difference {e(x['rel_loglik_diff']) if x['rel_loglik_diff'] else '0 (equal)'}",
                     f"{f(x['cpu']['seconds'], 2)} s", f"{f(x['gpu']['seconds'], 2)} s", f"{f(x['cpu']['seconds'] / x['gpu']['seconds'], 1)}x"])
    if "transfer" in c:
        x = c["transfer"]
        for k, label, what in (("zinbwave", "ZINB-WaVE (`tl.zinbwave_transform`)", "rel. difference of the new cells' loss"),
                               ("vae", "VAE (`tl.vae_transform`)", "max difference of the latents, relative to their largest value"),
                               ("zipo", "ZiPo (`tl.zipo_transform`)", "max difference of the rates, relative to their largest value")):
            if k not in x: continue
            y = x[k]
            rows.append([f"{label}: fitted on the CPU on {x['cells_fitted']:,} CellBench cells, saved, `tl.load(device=...)`, {x['cells_placed']:,} new cells placed",
                         "passed" if y["ok"] else "**failed**", f"{what} {e(y['rel_diff'])}",
                         f"{f(y['seconds_cpu'], 3)} s", f"{f(y['seconds_device'], 3)} s", f"{f(y['seconds_cpu'] / y['seconds_device'], 1)}x"])
    sweeps = []
    for k, v in c.get("zinbwave", {}).items():
        m = re.fullmatch(r"batch_size_sweep_(\d+)_cells_x_(\d+)_genes_(\d+)_epochs_lr_([\d.]+)", k)
        if m and isinstance(v, dict):
            srows = [[f"{int(bs):,}", ", ".join(f(t, 2) for t in r["sec_per_epoch"]), f(statistics.median(r["sec_per_epoch"]), 2),
                      ", ".join(f(t, 1) for t in r["train_nll"])] for bs, r in sorted(v.items(), key=lambda kv: int(kv[0]))]
            sweeps += ["", f"ZINB-WaVE on the GPU, {int(m[1]):,} simulated cells x {int(m[2]):,} genes, {m[3]} epochs at lr {m[4]} for each minibatch size:", "",
                       table(["cells per minibatch", "s per epoch", "median s / epoch", "training NLL / cell after each epoch"], srows)]
    s = c.get("vae", {}).get("scvi")
    out = [f"{r['when']}, load {load_range([r])}; {r['gpu']} (`{r['device']}`) on a machine with {r['machine']}; torch {r['torch']}; the CPU side ran on the same "
           f"machine with torch's default threads. All checks: **{'passed' if r.get('all_ok') else 'NOT all passed'}** "
           f"(the whole script: {f(r['seconds'], 0)} s).", "",
           table(["check", "result", "GPU vs CPU agreement", "CPU", "GPU", "CPU time / GPU time"], rows)]
    if isinstance(s, dict):
        v = c["vae"]["gpu"]["sec_per_epoch"]
        gm = c.get("gmvae", {}).get("gpu", {}).get("sec_per_epoch")
        out += ["", f"- scvi-tools {s['version']} SCVI on the same GPU and data: {f(s['sec_per_epoch'], 3)} s/epoch (3 epochs, its `train()` call "
                    f"timed as a whole, trainer set-up included) against {f(v, 3)} s/epoch for our VAE (from the fit's history): "
                    f"{ratio(s['sec_per_epoch'], v, 1)}" + (f", and {f(gm, 3)} s/epoch for the GMVAE: {ratio(s['sec_per_epoch'], gm, 1)}" if gm else "")
                + ". Both sides time 3 epochs only, so start-up weighs on both."]
    elif isinstance(s, str): out += ["", f"- SCVI: {s}"]
    return "\n".join(out + sweeps)


ZIPO_METRICS = (("heldout_nll", 1), ("mcv_mse", 2), ("mcv_mse_no_denoising", 2), ("true_mse", 2), ("true_mse_no_denoising", 2), ("kmeans_ari", 3), ("sec_per_epoch", 3), ("sparsity_pruned", 3))


def worst_change(g):
    "What pruning cost: the relative change of the held-out NLL with the largest magnitude over the runs g ('' where none reports it)."
    v = [(r["heldout_nll_pruned"] - r["heldout_nll"]) / r["heldout_nll"] for r in g
         if isinstance(r.get("heldout_nll"), (int, float)) and isinstance(r.get("heldout_nll_pruned"), (int, float))]
    return e(max(v, key=abs)) if v else ""


def _seedwise(groups, ds, ours, peer, key):
    "ZiPo row `ours` against `peer` on score `key` (lower is better) over the seeds both ran on ds: (seeds where ours is lower, seeds, our mean, the peer's); None if none."
    a = {r["seed"]: r.get(key) for r in groups.get((ds, ours), [])}
    b = {r["seed"]: r.get(key) for r in groups.get((ds, peer), [])}
    seeds = sorted(s for s in a if s in b and isinstance(a[s], (int, float)) and isinstance(b[s], (int, float)))
    if not seeds: return None
    return sum(a[s] < b[s] for s in seeds), len(seeds), statistics.mean(a[s] for s in seeds), statistics.mean(b[s] for s in seeds)


# `tl.zipo(likelihood="zinb", library="observed", refine="mcv", posterior=True, prune_to=[0.95, 0.98])`: every score of its file is the pruned model's
ONE_SETTING = "ablation_zinb_lr_1e-3_proximal_observed_posterior_prune_to_0.95_or_0.98_bound"
# the same with `prune_reconstruct=True`: pruned at once and refitted by least squares before the retraining
ONE_SETTING_LS = "ablation_zinb_lr_1e-3_proximal_observed_posterior_prune_to_0.95_or_0.98_reconstruct"
# the same with `prune_scope="layer"`: the fraction shared over the whole first layer, each weight's score relative to its neuron's
ONE_SETTING_LS_LAYER = ONE_SETTING_LS + "_layer"
# `tl.zipo(refit=True)`: the defaults' fit, and the ZINB fit with the observed library read by its posterior, refitted by least squares after the fit
REFIT = "ablation_lr_1e-3_proximal_refit"
REFIT_ZINB = "ablation_zinb_lr_1e-3_proximal_observed_posterior_refit"


def zipo_targets(groups):
    """The ZiPo benchmark's targets, seed by seed on the same held-out cells and the same thinned halves: for each dataset, a
    ZiPo row against a peer on one score (lower is better for every score here), the means and on how many of the seeds both
    ran ZiPo's score is the lower; rows whose ZiPo or peer was not run on that dataset are left out."""
    comps = [("held-out NLL, ZIP family", "heldout_nll", "zipo_lr1e-3_proximal", "zipdca"),
             ("held-out NLL, ZIP family", "heldout_nll", REFIT, "zipdca"),
             *[("held-out NLL, ZINB family", "heldout_nll", ours, peer) for ours in ("zipo_zinb_proximal_posterior", "zipo_zinb_lr1e-3_loglib")
               for peer in ("dca", "dca128", "scvi")],
             *[("held-out NLL, ZINB family", "heldout_nll", "ablation_zinb_lr_1e-3_proximal_observed", peer) for peer in ("dca", "dca128", "scvi")],
             *[("held-out NLL, ZINB family", "heldout_nll", one, peer) for one in (ONE_SETTING, ONE_SETTING_LS, ONE_SETTING_LS_LAYER, REFIT_ZINB) for peer in ("dca", "dca128", "scvi")],
             ("held-out NLL, ZINB family", "heldout_nll", "zipo_zinb_tuned48", "dca"),
             ("held-out NLL, ZINB family", "heldout_nll", "zipo_zinb_tuned48", "dca128"),
             ("held-out NLL, across families", "heldout_nll", "zipo_lr1e-3_proximal", "dca"),
             ("held-out NLL, across families", "heldout_nll", "zipo_lr1e-3_proximal", "scvi"),
             *[("held-out NLL, across families", "heldout_nll", REFIT, peer) for peer in ("dca", "dca128", "scvi")]]
    comps += [("MCV error of rates", "mcv_mse", ours, peer) for ours in ("zipo_lr1e-3_proximal", "zipo_refine_mcv", "zipo_posterior", "zipo_zinb_proximal_posterior", "zipo_zinb_posterior",
                                                             "ablation_zinb_lr_1e-3_proximal_observed_posterior", ONE_SETTING, ONE_SETTING_LS, ONE_SETTING_LS_LAYER, REFIT, REFIT_ZINB)
              for peer in ("dca", "dca128", "zipdca", "scvi", "magic")]
    rows = []
    for ds in sorted({d for d, _ in groups}):
        for what, key, ours, peer in comps:
            c = _seedwise(groups, ds, ours, peer, key)
            if c is None: continue
            wins, n, ma, mb = c
            verdict = "on every seed" if wins == n else ("on average" if ma < mb else "no")
            d = 1 if key == "heldout_nll" else 3
            rows.append([ds, what, f"`{ours}`", f"`{peer}`", f(ma, d), f(mb, d), f"{wins} of {n}", verdict])
    return table(["data", "score", "ZiPo", "peer", "ZiPo's mean", "peer's mean", "seeds where ZiPo is lower", "ZiPo lower"], rows)


def _at_least(sparsity, fraction):
    "A first layer's sparsity at least `fraction`, read from a file that stores it as float32 (exactly 95% reads 0.949999988)."
    return sparsity >= fraction - 1e-6


def _pruning_target(r):
    "A pruned fit's file meets the pruning target: at least 95% of the first layer zero, the held-out NLL within 0.5% of the unpruned fit's."
    return _at_least(r["sparsity_pruned"], 0.95) and (r["heldout_nll"] - r["heldout_nll_dense"]) / r["heldout_nll_dense"] <= 0.005


def zipo_pruning(rs):
    """The pruning target (at least 95% of the first layer's weights zero after `prune(model, 1e-4)`, the held-out NLL within
    0.5% of the unpruned model's): the package's defaults and the same with alpha_w raised, on each dataset; beside it what the
    raised penalty costs the unpruned model, against the defaults' held-out NLL on the same seeds."""
    rows = []
    settings = (("zipo_lr1e-3_proximal", "0.1 (the default)"), ("ablation_lr_1e-3_proximal_alpha_w_0.3", "0.3"),
                ("ablation_lr_1e-3_proximal_alpha_w_1", "1"), ("ablation_lr_1e-3_proximal_alpha_w_3", "3"))
    by = {}
    for r in rs: by.setdefault((r["dataset"], r["method"]), {})[r["seed"]] = r
    for ds in sorted({d for d, _ in by}):
        base = by.get((ds, "zipo_lr1e-3_proximal"), {})
        for m, aw in settings:
            g = by.get((ds, m))
            if not g: continue
            sp = [r["sparsity_pruned"] for r in g.values()]
            ch = [abs(r["heldout_nll_pruned"] - r["heldout_nll"]) / r["heldout_nll"] for r in g.values()]
            common = [s for s in g if s in base]
            cost = (statistics.mean((g[s]["heldout_nll"] - base[s]["heldout_nll"]) / base[s]["heldout_nll"] for s in common)
                    if common and m != "zipo_lr1e-3_proximal" else None)
            rows.append([ds, aw, len(g), mean_pm(sp), f"{sum(_at_least(v, 0.95) for v in sp)} of {len(sp)}", e(max(ch)),
                         "yes" if _at_least(min(sp), 0.95) and max(ch) <= 0.005 else "no", mean_pm([r["heldout_nll"] for r in g.values()], 1),
                         "" if cost is None else f"{cost:+.1%}"])
    return table(["data", "alpha_w", "seeds", "`sparsity_pruned`", "seeds at 0.95 or more", "largest relative NLL change by pruning",
                  "target met on every seed", "`heldout_nll` (unpruned)", "against the defaults' `heldout_nll`, same seeds"], rows)


def _notes(groups, key, body):
    "One line per (dataset, method) group whose every file holds `key`: '- data, `method` (seeds ...): ' and body(files by seed)."
    out = []
    for (ds, m), g in sorted(groups.items()):
        if g and all(key in r for r in g):
            g = sorted(g, key=lambda r: r["seed"])
            out.append(f"- {ds}, `{m}` (seeds {','.join(str(r['seed']) for r in g)}): {body(g)}.")
    return out


def _scvi_draws(rs):
    "SCVI re-run with its prediction both ways: one draw of the latent per cell (scvi-tools' default) and the mean over 25 draws."
    rr = [r for r in rs if r["method"] == "scvi_rerun" and "mcv_mse_averaged" in r]
    if not rr: return []
    by, parts = {}, []
    for r in rr: by.setdefault(r["dataset"], []).append(r)
    for ds, g in sorted(by.items()):
        g = sorted(g, key=lambda r: r["seed"])
        one, avg = [r["mcv_mse"] for r in g], [r["mcv_mse_averaged"] for r in g]
        part = (f"{ds} (seeds {','.join(str(r['seed']) for r in g)}): one draw {mean_pm(one)}, averaged {mean_pm(avg)}, the averaged lower on "
                f"{sum(a < o for a, o in zip(avg, one))} of {len(g)} seeds")
        if all("true_mse_averaged" in r for r in g):
            part += f"; against the true rates {mean_pm([r['true_mse'] for r in g])} and {mean_pm([r['true_mse_averaged'] for r in g])}"
        parts.append(part)
    cpus = sorted({r.get("cpu") or "not recorded" for r in rr}); dates = sorted({r["date"][:10] for r in rr})
    return ["", f"- SCVI fitted again (`scvi_rerun`; {', '.join(cpus)}, {', '.join(dates)}; the same seeds, cells and halves as the `scvi` row), its MCV "
                f"error from its prediction at one draw of the latent per cell (scvi-tools' default, what the `scvi` row scores) and averaged over 25 "
                f"draws (`mcv_mse_averaged`): " + "; ".join(parts) + "."]


def block_zipo():
    rs = [r for _, r in load("zipo_*_seed*.json") if isinstance(r, dict) and "method" in r and "dataset" in r]
    if not rs: return missing("`bench_zipo.py`")
    groups = {}
    abl = [r for r in rs if r["method"].startswith("ablation_")]
    for r in rs:
        if not r["method"].startswith("ablation_"): groups.setdefault((r["dataset"], r["method"]), []).append(r)
    all_groups = {}
    for r in rs: all_groups.setdefault((r["dataset"], r["method"]), []).append(r)
    rows = []
    for (ds, m), g in sorted(groups.items()):
        rows.append([ds, m, len(g)] + [mean_pm([r.get(k) for r in g], d) for k, d in ZIPO_METRICS] + [worst_change(g), load_range(g)])
    out = [table(["data", "method", "seeds"] + [f"`{k}`" for k, _ in ZIPO_METRICS] + ["pruning: largest NLL change", "load"], rows),
           "", "(mean ± 1.64 SEM over seeds; empty: the method does not report it. Pruning: the largest relative change of the held-out "
           "NLL that pruning caused on any seed, (pruned - unpruned) / unpruned.)",
           *_scvi_draws(rs),
           "", "The targets, seed by seed (the same held-out cells and thinned halves for ZiPo and its peer; means over the seeds "
           "both ran; lower is better for both scores; `zipo_lr1e-3_proximal` is `tl.zipo` at its defaults, `zipo_refine_mcv` the same "
           "with `refine=\"mcv\"`, `zipo_zinb_proximal_posterior` `tl.zipo(likelihood=\"zinb\", refine=\"mcv\", posterior=True)` (its held-out NLL is "
           "that of `tl.zipo(likelihood=\"zinb\")`), `zipo_zinb_lr1e-3_loglib` and `zipo_zinb_posterior` the same two without the proximal step, "
           "`ablation_zinb_lr_1e-3_proximal_observed` `tl.zipo(likelihood=\"zinb\", library=\"observed\")`, the cell's total count as its "
           "library as DCA's, `ablation_zinb_lr_1e-3_proximal_observed_posterior` the same with `refine=\"mcv\", posterior=True`, and "
           f"`{ONE_SETTING}` the same with `prune_to=[0.95, 0.98]` too, every score its pruned model's, `{ONE_SETTING_LS}` the same with "
           f"`prune_reconstruct=True` as well, `{ONE_SETTING_LS_LAYER}` the same with `prune_scope=\"layer\"` as well; `{REFIT}` is `tl.zipo(refit=True)` and `{REFIT_ZINB}` "
           "`tl.zipo(likelihood=\"zinb\", library=\"observed\", refine=\"mcv\", posterior=True, refit=True)`, every score the refitted model's "
           "where the refit was kept; SCVI's "
           "held-out NLL is its reconstruction error):", "", zipo_targets(all_groups),
           "", "The pruning target (`prune(model, 1e-4)`; at least 0.95 of the first layer's weights zero, the held-out NLL within 0.5% of "
           "the unpruned model's), at the package's defaults (proximal step, first rate 0.001) and with alpha_w raised (the ablation "
           "rows); the last column is what the raised penalty costs the unpruned model (mean relative change of its held-out NLL "
           "against the defaults' on the same seeds):", "", zipo_pruning(rs)]

    def pct(c):       # a relative change to 0.01%, to 0.001% where that alone would hide which side of the target's 0.5% it is on
        return f"{c:+.3%}" if f"{abs(c):.2%}" == "0.50%" else f"{c:+.2%}"

    def gradual(g):
        ch = [(r["heldout_nll"] - r["heldout_nll_dense"]) / r["heldout_nll_dense"] for r in g]
        return (f"first-layer weights zero {mean_pm([r['sparsity_pruned'] for r in g])} (the fit's own before it "
                f"{mean_pm([r['gradual']['sparsity_before'] for r in g])}); held-out NLL against the same fit before pruning, per seed: "
                f"{', '.join(pct(c) for c in ch)}; within 0.5% on {sum(c <= 0.005 for c in ch)} of {len(ch)} seeds; epochs of "
                f"retraining {'/'.join(str(r['gradual']['epochs']) for r in g)}" + chosen(g) + kept(g) + overfit(g))

    def chosen(g):    # prune_largest: the fraction kept, and what each fraction tried cost on the validation cells
        if g[0]["gradual"].get("road") != "prune_largest": return ""
        bound = all(r["gradual"].get("confidence", 0.5) > 0.5 for r in g)   # the rule: the upper confidence bound of the change within tol
        tried = lambda r: ", ".join(f"{t:.0%} {pct((v - r['gradual']['valid_nll_unpruned']) / r['gradual']['valid_nll_unpruned'])}"
                                    + (f" (bound {pct(b)})" if bound else "")
                                    for t, v, b in zip(r["gradual"]["fractions_tried"], r["gradual"]["valid_nll_tried"],
                                                       r["gradual"].get("valid_change_bound_tried", r["gradual"]["valid_nll_tried"])))
        what = (f"the mean change and its one-sided {g[0]['gradual']['confidence']:.0%} upper bound" if bound else "the mean change")
        return (f"; the fraction kept, per seed: {', '.join(format(r['gradual']['fraction'], '.0%') for r in g)} (the validation NLL of each "
                f"fraction tried against the unpruned fit's on the same cells, {what}: {'; '.join(tried(r) for r in g)})")

    def kept(g):      # prune_gradually's choice among the retrained model, its averaged weights and the fit pruned at once
        if g[0]["gradual"].get("road") not in ("prune_gradually", "prune_largest"): return ""
        ls = all("valid_nll_reconstructed" in r["gradual"] for r in g)   # prune_reconstruct=True: the least-squares refit is a fourth candidate
        ctl = all("unpruned_refitted" in r["gradual"] for r in g)         # the benchmark's control: the same refit without pruning
        ks = ("valid_nll_at_once", "valid_nll_retrained", "valid_nll_averaged") + (("valid_nll_reconstructed", "valid_nll_reconstructed_retrained",
                                                                                      "valid_nll_reconstructed_averaged") if ls else ())
        return (f"; the model kept, per seed: {('; ' if ls else ', ').join(r['gradual']['kept'] for r in g)} (validation NLL of the fit pruned at once / of the "
                f"retrained model / of its weights averaged after the ramp" + (" / of the fit pruned at once and refitted by least squares / of the model "
                "retrained from that refit / of that retraining's averaged weights" if ls else "") + ": "
                f"{', '.join(' / '.join(f(r['gradual'][k], 1) for k in ks) for r in g)})"
                + (f"; the next layer's ridge chosen, per seed: {', '.join(format(r['gradual']['reconstruct_ridge_next'], 'g') for r in g)}" if ls else "")
                + (f"; the unpruned fit refitted by least squares without pruning (the control), its held-out NLL against the same fit's, per seed: "
                   f"{', '.join(pct((r['gradual']['unpruned_refitted']['heldout_nll'] - r['heldout_nll_dense']) / r['heldout_nll_dense']) for r in g)}, "
                   f"so the pruned model against that control: "
                   f"{', '.join(pct((r['heldout_nll'] - r['gradual']['unpruned_refitted']['heldout_nll']) / r['gradual']['unpruned_refitted']['heldout_nll']) for r in g)}"
                   if ctl else "")
                + (f"; seconds of the pruning step (both roads at each fraction tried, and that control), per seed: "
                   f"{'/'.join(f(r['gradual']['seconds'], 0) for r in g)}" if ls and ctl else ""))

    def overfit(g):   # where the retraining goes: the fit's last training against validation NLL, and the validation NLL through the ramp
        if any(r["config"].get("_prune_ramp", 40) != 40 or r["config"].get("_prune_reconstruct") or len(r["gradual"]["valid_nll"]) < 41 or "curve" not in r for r in g): return ""
        span = lambda v: f"{f(min(v), 0)} to {f(max(v), 0)}"
        rise = [r["gradual"]["valid_nll"][39] - min(r["gradual"]["valid_nll"][:5]) for r in g]
        back = [min(r["gradual"]["valid_nll"][40:]) - r["curve"]["valid_nll"][-1] for r in g]
        return (f"; the fit's last epoch: training NLL {span([r['curve']['nll'][-1] for r in g])} against validation NLL "
                f"{span([r['curve']['valid_nll'][-1] for r in g])}; the retraining's validation NLL at the end of the 40-epoch ramp "
                f"against its lowest in the first five epochs {'/'.join(f'{round(v):+,d}' for v in rise)}, its best after the ramp against "
                f"the fit's last {'/'.join(f'{round(b):+,d}' for b in back)}")
    lines = _notes(all_groups, "heldout_nll_dense", gradual)
    if lines:
        out += ["", "The same target by other roads: the defaults' fit pruned to 95% of its first layer (98%, the paper's figure, in the rows "
                "named so) gradually, with retraining (Zhu & "
                "Gupta 2017: the fraction rises over 40 epochs on a cubic schedule at a rate of 0.001, the pruned weights are kept at "
                "zero; early stopping on the fit's validation cells counts only the epochs after the ramp). "
                "`ablation_lr_1e-3_proximal_gradual_0.95` (`gradual_prune` in `bench_zipo.py`): the weights smallest relative to their "
                "neuron's largest go, counted over the whole layer, the ratio penalty kept on, then up to 60 epochs more at the same "
                "rate. `ablation_lr_1e-3_proximal_prune_to_0.95` (the package's `zipo.prune_gradually`, what `tl.zipo(prune_to=0.95)` "
                "does after its fit; `..._prune_to_0.98` the same to 98%): every neuron keeps the same number of weights, the largest by |w| times the root mean square of "
                "the gene's input, the penalty is off while the mask holds the zeros, then up to 120 epochs more with the rate divided "
                "by 10 after 15 epochs without a 0.1% improvement (ZiPo's plateau rule); it then "
                "ends with whichever of the retrained model, the retrained weights averaged over every epoch after the ramp (their "
                "BatchNorm statistics recomputed on the training cells) and the fit pruned at once to the same fraction, without retraining "
                "(each neuron's bias corrected by the mean of what its pruned weights added over the training cells), has the lowest "
                "NLL on the fit's validation cells. `ablation_lr_1e-3_proximal_prune_to_0.95_at_once_1e-4`: "
                "the same, the fraction reached at once (a ramp of one epoch) and the retraining at a rate of 0.0001 "
                "(`zipo.prune_gradually(model, data, 0.95, ramp=1, lr=1e-4)`). `ablation_lr_1e-3_proximal_prune_to_0.95_or_0.98`: "
                "`tl.zipo(prune_to=[0.95, 0.98])` (`zipo.prune_largest`): the fit pruned to 98% as above, kept if the validation NLL of the "
                "model kept is within 0.5% of the unpruned fit's on the same validation cells, otherwise pruned again from the unpruned fit "
                "to 95% (the same minibatches as a run at 95% alone). `ablation_lr_1e-3_proximal_prune_to_0.95_or_0.98_bound`: the same at "
                "the package's default `confidence=0.95`: 98% kept if the one-sided 95% upper confidence bound of its mean change on the "
                "validation cells (from each cell's change, a paired comparison: mean + 1.645 standard errors) is within 0.5% of the unpruned "
                "fit's NLL; the row before it is the same rule at `confidence=0.5`, the mean change alone. "
                f"`{ONE_SETTING}`: the same rule for the ZINB fit with the observed library, read by its posterior "
                "(`tl.zipo(likelihood=\"zinb\", library=\"observed\", refine=\"mcv\", posterior=True, prune_to=[0.95, 0.98])`). "
                f"`{ONE_SETTING_LS[len('ablation_'):]}`: the same with `prune_reconstruct=True` (`zipo.prune_gradually(..., reconstruct=True)`): each "
                "fraction reached at once, the kept weights of each first-layer neuron and the next layer refitted by ridge least squares to "
                "the unpruned fit's pre-activations over the training cells (`zipo.prune_reconstruct`, the next layer's ridge chosen on the "
                "validation cells), the retraining started from there, and the refitted model itself a fourth candidate. "
                f"`{ONE_SETTING_LS_LAYER[len('ablation_'):]}`: the same with `prune_scope=\"layer\"`: the fraction is the whole first layer's, "
                "each weight's score |w| x RMS(input) divided by its neuron's root sum of squares and the layer's largest kept, on every road "
                "(the neurons keep different numbers of genes). "
                "Mean ± 1.64 SEM over the seeds listed:", ""] + lines

    def refitted(g):  # tl.zipo(refit=True): kept or not, and what it changed on the held-out cells, the validation cells and the MCV error
        rel = lambda a, b: pct((a - b) / b)
        after = "mcv_mse_encoder_expected" if all("mcv_mse_encoder_expected" in r for r in g) else "mcv_mse"   # the expected count at the encoder's latents
        line = (f"kept on {sum(r['refit']['kept'] for r in g)} of {len(g)} seeds; held-out NLL against the same fit before the refit, per seed: "
                f"{', '.join(rel(r['heldout_nll'], r['refit']['heldout_nll_before']) for r in g)} (before: "
                f"{', '.join(f(r['refit']['heldout_nll_before'], 1) for r in g)}); on the validation cells that decide: "
                f"{', '.join(rel(r['refit']['valid_nll_after'], r['refit']['valid_nll_before']) for r in g)}; the next layer's ridge chosen: "
                f"{', '.join(format(r['refit']['ridge_next'], 'g') for r in g)}; seconds of the refit {'/'.join(f(r['refit']['seconds'], 0) for r in g)}")
        if all("mcv_mse_expected_before_refit" in r for r in g):
            pairs = [f(r["mcv_mse_expected_before_refit"], 3) + " -> " + f(r[after], 3) for r in g]
            line += f"; MCV error of the expected count at the encoder's latents, before -> after, per seed: {', '.join(pairs)}"
        if after == "mcv_mse" and all("true_mse_expected_before_refit" in r for r in g):
            pairs = [f(r["true_mse_expected_before_refit"], 3) + " -> " + f(r["true_mse"], 3) for r in g]
            line += f"; its error against the true rates, before -> after: {', '.join(pairs)}"
        return line
    lines = _notes(all_groups, "refit", refitted)
    if lines:
        out += ["", "Refitted by least squares after the fit, nothing pruned (`tl.zipo(refit=True)`, `zipo.refit_lstsq`): each first-layer neuron's "
                "nonzero weights and bias refitted by ridge least squares (ridge 0.01 of the inputs' mean variance) to its own pre-activations over "
                "the training cells, then the next layer the same way (its ridge chosen on the validation cells from 0.01, 0.1, 0.3, 1), the "
                "refit kept only where it lowers the validation cells' NLL; the held-out cells below are never seen by the fit or the choice:", ""] + lines
    rs_ = one("zipo_refit_solve.json")
    if rs_:                          # the first layer's solve per neuron: the package's against the two solves on the genes' covariance it replaced
        by_share = {}
        for r in rs_["runs"]: by_share.setdefault(r["share"], []).append(r)
        def part(sh, g):
            lu, ch, pk = (sum(r[k] for r in g) for k in ("seconds_lu", "seconds_cholesky_covariance", "seconds_package"))
            side = {r["side"] for r in g}
            side = "the genes' side" if side == {"genes"} else "the cells' side" if side == {"cells"} else "both sides"
            return (f"{len(g)} neurons keeping {sh:.0%} of the genes ({min(r['genes'] for r in g):,} to {max(r['genes'] for r in g):,}; the package on {side}): "
                    f"LU {f(lu / len(g), 2)} s, Cholesky of the covariance {f(ch / len(g), 2)} s, the package {f(pk / len(g), 2)} s per neuron "
                    f"(**{ratio(lu, pk)}** and **{ratio(ch, pk)}** faster)")
        parts = [part(sh, g) for sh, g in sorted(by_share.items())]
        out += ["", f"- The first layer's solve, one neuron at a time (`results/zipo_refit_solve.json`, `bench_zipo.py refit-solve`; {rs_['cpu']}, "
                f"{rs_['torch_threads']} thread, load {f(rs_['load'], 1)}, {rs_['date']}): on the log1p counts of every gene of {rs_['dataset']} "
                f"({rs_['n_genes']:,} genes, {rs_['n_cells']:,} cells: fewer cells than genes), the package's solve (on the genes' side, Cholesky of the "
                f"kept genes' covariance plus the ridge; where it counts fewer operations, in the cells' space: a Cholesky solve of the cells' size) "
                f"against the two solves before it, both on the genes' covariance formed once (Cholesky, and before it LU), the same neurons "
                f"alternated in one process: " + "; ".join(parts)
                + f"; largest relative difference between the package's solution and LU's {max(r['max_rel_diff'] for r in rs_['runs']):.0e}. "
                f"Formed once per refit: the genes' covariance {f(rs_['seconds_covariance'], 1)} s (where a neuron is solved on the genes' side), "
                f"the cells' H H' {f(rs_['seconds_cells_gram'], 1)} s (where a neuron solved on the cells' side keeps more than half of the genes)."]

    def depth(g):
        line = (f"k-means ARI against the labels {mean_pm([r['kmeans_ari'] for r in g])}; with each cell's log total count regressed "
                f"out of the latent {mean_pm([r['kmeans_ari_depth_out'] for r in g])}; share of the latent's variance that the log total "
                f"count explains {mean_pm([r['latent_depth_r2'] for r in g], 2)}")
        if all("kmeans_ari_technology" in r for r in g):
            line += f"; ARI of the same clusters against the technology {mean_pm([r['kmeans_ari_technology'] for r in g])}"
        return line

    def top(g):
        part = lambda n, key: mean_pm([r[key][str(n)] for r in g], 3)
        return (f"`mcv_mse` {mean_pm([r['mcv_mse'] for r in g], 3)}, of which the most expressed gene {part(1, 'mcv_mse_top_genes')}, "
                f"the 10 most expressed {part(10, 'mcv_mse_top_genes')}, the 100 most expressed {part(100, 'mcv_mse_top_genes')}; no "
                f"denoising: the same genes {part(1, 'mcv_mse_top_genes_no_denoising')}, {part(10, 'mcv_mse_top_genes_no_denoising')}, "
                f"{part(100, 'mcv_mse_top_genes_no_denoising')}")

    def post(g):
        return (f"posterior {mean_pm([r['mcv_mse'] for r in g], 3)}, expected count {mean_pm([r['mcv_mse_expected'] for r in g], 3)}; "
                f"at the encoder's latents: posterior {mean_pm([r['mcv_mse_encoder_posterior'] for r in g], 3)}, expected count "
                f"{mean_pm([r['mcv_mse_encoder_expected'] for r in g], 3)}; steps {'/'.join(str(r['refine_choice']['steps']) for r in g)}")

    for key, body, intro in (
            ("kmeans_ari_depth_out", depth, "What k-means on the latent follows (`depth_diagnostics` in `bench_zipo.py`; mean ± 1.64 SEM over the seeds listed):"),
            ("mcv_mse_top_genes", top, "Where the MCV error comes from (`mcv_mse_top_genes` in the results files): the part of `mcv_mse` that the genes with the "
             "largest mean count in the training half make (their squared errors summed, divided by the number of all entries, so the "
             "parts add up to `mcv_mse`), and the same for no denoising; mean ± 1.64 SEM over the seeds listed:"),
            ("mcv_mse_encoder_posterior", post, "The posterior rows read one fit four ways (`prediction` in their files): the MCV error of the posterior at the refinement "
             "chosen for it (`mcv_mse`, the row's score), of the expected count at the same latents, and of both at the encoder's latents "
             "(no refinement); mean ± 1.64 SEM over the seeds listed, and the refinement steps chosen on each seed:")):
        lines = _notes(groups, key, body)
        if lines: out += ["", intro, ""] + lines
    if abl:
        ag = {}
        for r in abl: ag.setdefault((r["dataset"], r["method"][len("ablation_"):]), []).append(r)
        keys = [(k, d) for k, d in ZIPO_METRICS if not k.endswith("no_denoising") and k != "true_mse"]
        out += ["", "Ablations: ZiPo at the paper's settings with the changes each name says (the `config` in each file; `bench_zipo.py ablation`), "
                "mean ± 1.64 SEM over the seeds listed:", "",
                table(["data", "variant", "seeds"] + [f"`{k}`" for k, _ in keys] + ["pruning: largest NLL change", "epochs", "load"],
                      [[ds, v, ",".join(str(r["seed"]) for r in sorted(g, key=lambda r: r["seed"]))] + [mean_pm([r.get(k) for r in g], d) for k, d in keys]
                       + [worst_change(g), "/".join(str(r.get("epochs", "")) for r in sorted(g, key=lambda r: r["seed"])), load_range(g)]
                       for (ds, v), g in sorted(ag.items())]), ""]
    sp = one("zipo_core_speed.json")
    if sp:
        out.append(f"- Likelihood core, {sp['n_cells']:,} x {sp['n_genes']:,}, median of {sp['reps']} reps ({sp['date']}, load {load_range([sp])}): "
                   + ", ".join(f"{k} {f(v, 3)} s" for k, v in sp["seconds_median"].items()) + ".")
    eq = one("zipo_speed_equal_width.json")
    if eq:
        out.append(f"- Equal width (128 hidden, 10 latent), {eq['n_cells']:,} cells x {eq['n_genes']:,} genes, {eq['epochs']} epochs "
                   f"({eq['date']}, load {load_range([eq])}): " + ", ".join(f"`{k}` {f(v, 2)}" for k, v in eq.items() if k.endswith("sec_per_epoch")) + ".")
    for n, sc in load("zipo_scale_*.json"):
        if not (isinstance(sc, dict) and sc.get("kind") == "scale"): continue
        out += ["", f"Time per epoch as the number of cells grows (`results/{n}`; {sc['runs'][0]['model']}, "
                f"{sc['runs'][0]['n_genes']:,} simulated genes, minibatches of {sc['runs'][0]['batch_size']}, streamed from a backed .h5ad):", "",
                "| cells | seconds per epoch | peak memory | training NLL | measured |", "|---|---|---|---|---|"]
        out += [f"| {r['n_cells']:,} | {f(r['seconds_per_epoch'], 2)} | {f(r['peak_mb'], 0)} MB | {f(r['nll'], 1)} | {r['date']}, load {f(r['load'], 1)} |"
                for r in sc["runs"]]
        out += [""] + [f"- {a['n_cells']:,} -> {b['n_cells']:,} cells (x{b['n_cells'] / a['n_cells']:.0f}): time per epoch "
                       f"x{b['seconds_per_epoch'] / a['seconds_per_epoch']:.1f}; peak memory {f(a['peak_mb'], 0)} -> {f(b['peak_mb'], 0)} MB."
                       for a, b in zip(sc["runs"], sc["runs"][1:])]
    other = [(n, r) for n, r in load("zipo_*.json") if not re.search(r"_seed\d+\.json$", n)
             and n not in ("zipo_core_speed.json", "zipo_speed_equal_width.json", "zipo_refit_solve.json") and not n.startswith("zipo_scale_")]
    if other: out += ["", "Other ZiPo results files, as stored:", "", generic(other)]
    return "\n".join(out)


def _gpu_cluster_label(meth, settings, xs):
    "A row's name from what the run recorded: the optimizer, the cells per minibatch or block (per seed where they differ), defaults or not."
    if meth == "scvi50": return "SCVI, 50 epochs (its defaults otherwise)"
    kw = settings.get(meth, {})
    sizes = ", ".join(f"{v:,}" for v in sorted({x["batch_size"] for x in xs.values()}))
    what = (f"ZINB-WaVE by Newton's steps (`optimizer=\"newton\"`), blocks of {sizes} cells" if kw.get("optimizer") == "newton"
            else f"ZINB-WaVE, Adam, {sizes} cells per minibatch" + (f", lr {kw['lr']}" if "lr" in kw else ""))
    return what + (" (`batch_size` not given: the default of the code that ran)" if "batch_size" not in kw else "")


def _paired_seconds(scvi, xs):
    "(SCVI's summed wall seconds, the method's) over the seeds both ran (dicts seed -> run)."
    paired = [s for s in xs if s in scvi]
    return sum(scvi[s]["seconds"] for s in paired), sum(xs[s]["seconds"] for s in paired)


def block_gpu_cluster():
    "ZINB-WaVE and SCVI (50 epochs) on one GPU: wall time of the fit, held-out NLL, k-means ARI, over seeds."
    rs = load("gpu_cluster_*.json")
    if not rs: return missing("`bench_cluster.py gpu`")
    out = []
    for name, r in rs:
        runs = r["runs"]; seeds = sorted({x["seed"] for x in runs})
        by = {}
        for x in runs: by.setdefault(x["method"], {})[x["seed"]] = x
        scvi, ref = by.get("scvi50", {}), by.get("zinbwave_b256", {})
        def change(xs):   # the best held-out NLL against the same seed's fit with 256 cells per minibatch (the same held-out cells)
            d = [100 * (xs[s]["best_valid_nll"] / ref[s]["best_valid_nll"] - 1) for s in seeds if s in xs and s in ref and xs[s].get("best_valid_nll")]
            return "" if not d or xs is ref else mean_pm(d, 2) + "%"
        rows = []
        for meth, xs in by.items():
            v = [xs[s] for s in seeds if s in xs]
            paired = [s for s in seeds if s in xs and s in scvi]   # the ratio over the seeds both ran
            rows.append([_gpu_cluster_label(meth, r.get("settings", {}), xs), ", ".join(str(s) for s in seeds if s in xs),
                         mean_pm([x["seconds"] for x in v], 1) + " s", mean_pm([x["epochs"] for x in v], 0),
                         mean_pm([x.get("best_valid_nll") for x in v], 1), change(xs), mean_pm([x["kmeans_ARI"] for x in v], 3),
                         "" if meth == "scvi50" or not paired else ratio(*_paired_seconds(scvi, xs), 1)])
        out += [f"`{name}`: {r['dataset']}, {r['n_cells']:,} cells x {r['n_genes']:,} genes, on {r.get('gpu') or r['device']} "
                f"({r['date']}; machine {r['machine']}; {', '.join(f'{k} {v}' for k, v in r['versions'].items())}). {r['timing']}.", "",
                table(["method", "seeds", "fit, wall", "epochs", "best held-out NLL / cell", "its change from 256 cells per minibatch", "k-means ARI",
                       "SCVI-50's time / its time"], rows), "",
                "(mean ± 1.64 SEM over the seeds; the ratio: SCVI's summed wall time over the method's, on the seeds both ran; held-out "
                "NLL: ZINB-WaVE's own held-out cells, the same for every setting of a seed, so the change is paired by seed)"]
    return "\n".join(out)



def _gpu_check_part(check):
    "(results file, the check's part) of `gpu_check.py --only <check>`'s file, or the text to print in their place."
    name = f"gpu_{check}.json"
    r = one(name)
    if r is None: return None, missing(f"`gpu_check.py --only {check}`")
    part = r["checks"][check]
    if "runs" not in part: return None, f"`{name}`: the check failed ({part.get('error', 'no runs recorded')})."
    return r, part


def block_gpu_blocks():
    "ZINB-WaVE's epoch time and peak device memory by cells per minibatch (Adam) and per block (Newton's steps)."
    r, b = _gpu_check_part("blocks")
    if r is None: return b
    rows, J = [], b["genes"]
    for opt in ("adam", "newton"):
        rs = [q for q in b["runs"] if q["optimizer"] == opt]
        for i, q in enumerate(rs):
            step = "" if i == 0 else f((q["peak_mb"] - rs[i - 1]["peak_mb"]) * 2**20 / (q["cells_per_step"] - rs[i - 1]["cells_per_step"]) / J, 0)
            rows.append(["Adam (cells per minibatch)" if opt == "adam" else "Newton's steps (cells per block)", f"{q['cells_per_step']:,}",
                         f(q["sec_per_epoch"], 2), f(q["train_loss"], 1), f(q["peak_mb"], 0), step])
    sl = b.get("memory_slope", {})
    return (f"`gpu_blocks.json`: {r['gpu']} ({r['when']}; torch {r['torch']}), {b['cells']:,} simulated cells x {J:,} genes held on the device, "
            "one epoch from the same start for each size (after a small warm-up fit of each optimizer).\n\n"
            + table(["optimizer", "cells per step", "s for the epoch", "training loss after it", "peak device memory, MB (above the counts)",
                     "added bytes per count from the size above"], rows)
            + "\n\n(a least-squares line through all sizes: " + "; ".join(f"{'Adam' if k == 'adam' else 'Newton'} {f(v['bytes_per_count'], 0)} bytes per count" for k, v in sl.items()) + ")")


def block_gpu_adam_scale():
    "ZINB-WaVE by Adam at several minibatch sizes and learning rates, each given the same wall-clock budget on a GPU."
    r, b = _gpu_check_part("adam_scale")
    if r is None: return b
    marks = [t for t in (5, 10, 20, 30, 60) if t <= b["budget_s"]]
    def at(q, t):   # the held-out NLL of the last epoch finished by time t
        v = [nll for s, nll in zip(q["seconds"], q["valid_nll"]) if s <= t]
        return f(v[-1], 2) if v else "-"
    rows = [[f"{q['cells_per_step']:,}", q["lr"], q["epochs"], f(q["sec_per_epoch"], 2)] + [at(q, t) for t in marks] + [f(q["best_valid_nll"], 2)] for q in b["runs"]]
    return (f"`gpu_adam_scale.json`: {r['gpu']} ({r['when']}; torch {r['torch']}), {b['cells']:,} simulated cells x {b['genes']:,} genes held on the device, "
            f"10% held out, each setting from the same start for {f(b['budget_s'], 0)} s of wall time.\n\n"
            + table(["cells per minibatch", "lr", "epochs", "s per epoch"] + [f"held-out NLL by {t} s" for t in marks] + ["best held-out NLL"], rows))


# ------------------------------------------------------------------ the summary at the top
def _span(v, d=1, unit="x"):
    "min-max of the values as '1.2-3.4x' (one value: '1.2x'), '' for none."
    v = [x for x in v if isinstance(x, (int, float)) and math.isfinite(x)]
    if not v: return ""
    lo, hi = f(min(v), d), f(max(v), d)
    return f"{lo}{unit}" if lo == hi else f"{lo}-{hi}{unit}"


def scvi_best(by, ds):
    "SCVI + k-means on one dataset: the better of its 50-epoch and 400-epoch mean ARI over the seeds (None if neither ran)."
    m = [statistics.mean(x) for x in ([r[k] for r in by.get((ds, "scvi"), []) if k in r] for k in ("epoch50_kmeans_ARI", "kmeans_ARI")) if x]
    return max(m) if m else None


def block_summary():
    "One line per comparison, each figure from the results files of the section it names: where zinb_nb is ahead and where it is behind."
    rows = []
    lz = [r for _, r in load("log_zinb_*.json")]
    if lz:
        fb = [r["passes"]["forward+backward"]["scvi_over_zinb_nb"] for r in lz]; fw = [r["passes"]["forward"]["scvi_over_zinb_nb"] for r in lz]
        acc = next((r["accuracy"] for r in lz if r.get("accuracy")), None)
        rows.append(["ZINB log-likelihood, forward + backward, CPU", "`log_zinb`", "scvi-tools `log_zinb_positive`", "simulated and PBMC 4k counts, float32 and float64",
                     f"**faster**, {_span(fb, 2)} (scvi-tools' time / ours); the forward pass alone {_span(fw, 2)}, **slower** in float32"
                     + (f"; worst relative error of log P {e(acc['worst_rel_error_zinb_nb'])} against scvi-tools' {e(acc['worst_rel_error_scvi_tools'])}" if acc else ""),
                     "Distributions"])
    ln = [r for _, r in load("log_nb_*.json")]
    if ln:
        rows.append(["NB log-likelihood, CPU", "`log_nb`", "scvi-tools `log_nb_positive`", "simulated and PBMC 4k counts, float32",
                     f"**faster**: forward {_span([r['passes']['forward']['scvi_over_zinb_nb'] for r in ln], 2)}, forward + backward "
                     f"{_span([r['passes']['forward+backward']['scvi_over_zinb_nb'] for r in ln], 2)}", "Distributions"])
    zi, nb, below = [], [], 0
    for _, r in load("em_speed_*.json"):
        for sf, lab in (("no_size_factors", "no size factors"), ("size_factors", "size factors")):
            part = r.get(sf)
            if not part: continue
            if "zinb" in part:
                p, o = part["zinb"]["pscl"], part["zinb"]["ours"]; below += p["ours_lower"]
                zi.append(f"{r['data']} ({r['cells']:,} x {r['genes']:,}), {lab}: {ratio(p['fresh_wall_s'], o['fresh_wall_s'])}")
            for mode in ("default", "mle"):
                g = part["nb"][f"glmGamPoi_{mode}"]; nb.append((g["glm_gp_cpu_s"] / part["nb"]["ours"]["warm_cpu_s"], g["ours_lower"]))
    if zi:
        rows.append(["ZINB per gene, every gene, fresh process both", "`fit_zinb_em`", "R pscl `zeroinfl`, one gene at a time", "PBMC 4k; simulation",
                     "**faster**: " + "; ".join(zi) + f"; log-likelihood below pscl's on {below} genes (by > 1e-6 relative). On the simulation most of our time "
                     "is start-up (the interpreter, `import torch`)", "EM"])
    des = [(r[f"glmGamPoi_{m}"]["glm_gp_cpu_s"] / r["ours"]["warm_cpu_s"], r[f"glmGamPoi_{m}"]["ours_lower"]) for _, r in load("em_design_*.json") for m in ("default", "mle")]
    if nb:
        rows.append(["NB per gene (GLM), fit call, CPU", "`fit_zinb_em(dist=\"nb\")`", "glmGamPoi `glm_gp`, default and MLE modes", "PBMC 4k; simulation",
                     f"**faster**: {_span([x for x, _ in nb])} intercept only" + (f", {_span([x for x, _ in des])} with a design matrix and size factors" if des else "")
                     + f"; log-likelihood below glmGamPoi's on {sum(n for _, n in nb + des)} genes", "EM"])
    g = one("glmm.json")
    if g:
        R, o = g.get("r", {}), g["ours_poisson"]
        parts = [f"{peer} {ratio(R[k]['cpu_s'], o['cold_cpu_s'])}" for peer, k in (("lme4", "lme4"), ("glmmTMB", "glmmTMB")) if k in R]
        if "glmmTMB_nb" in R and "ours_nb_fresh" in g: parts.append(f"NB: glmmTMB `nbinom2` {ratio(R['glmmTMB_nb']['cpu_s'], g['ours_nb_fresh']['cpu_s'])} (our NB fit alone in a fresh process)")
        rows.append(["GLMM, one fit, CPU time", "`glmm`", "lme4 `glmer`, glmmTMB", f"{g['cells']:,} simulated cells (`{g['model']}`)",
                     "**faster**, Poisson against our first call of a process: " + "; ".join(parts), "GLMM"])
    rz = [r for _, r in load("rzinbwave_*.json") if r.get("r_zinbwave")]
    if rz:
        parts, spd, below = [], [], []
        for r in rz:
            R, mine = r["r_zinbwave"], [(o, r[f"ours_{o}"]) for o in ("adam", "lbfgs", "newton") if f"ours_{o}" in r]
            spd += [R["seconds_cpu"] / x["seconds_cpu"] for _, x in mine]; below += [f"{r['dataset']} by {'L-BFGS' if o == 'lbfgs' else o}" for o, x in mine if x["loglik_per_cell"] < R["loglik_per_cell"]]
            parts.append(f"{r['dataset']}, {'one dispersion per gene' if R.get('commondispersion') is False else 'one dispersion for all genes (its default)'}: "
                         + ", ".join(f"{'Newton' if o == 'newton' else 'L-BFGS' if o == 'lbfgs' else 'Adam'} {ratio(R['seconds_cpu'], x['seconds_cpu'])}" for o, x in mine))
        rows.append(["ZINB-WaVE, whole fit, CPU time", "`tl.zinbwave` (Adam, L-BFGS, Newton's steps)", "R zinbwave `zinbFit`",
                     "; ".join(sorted({f"{r['dataset']} ({r['cells']:,} x {r['genes']:,}, K = {r['k']})" for r in rz})),
                     ("**faster**: " if min(spd) > 1 else "**slower** on some: ") + "; ".join(parts)
                     + ("; training log-likelihood above zinbFit's in every fit" if not below else f"; training log-likelihood above zinbFit's except **below** it on {', '.join(below)}"), "R zinbwave"])
    cl = [r for _, r in load("cluster_*_seed*.json")]
    if cl:
        by = {}
        for r in cl: by.setdefault((r["dataset"], r["method"]), []).append(r)
        dss = sorted({r["dataset"] for r in cl})
        nseed = len({r["seed"] for r in cl})
        sp_d, sp_n = ([t[0] / t[1] for ds in dss if (t := _vs_scvi50(by, ds, m))] for m in ("zinbwave", "zinbwave_newton"))
        gpu, tenx, devs = [], [], set()
        for _, gc in load("gpu_cluster_*.json"):   # every dataset run on a GPU against SCVI-50 in the same process (not the smoke test's)
            if gc.get("quick"): continue
            gb = {}
            for x in gc["runs"]: gb.setdefault(x["method"], {})[x["seed"]] = x
            sc = gb.pop("scvi50", {})
            if not sc or not gb: continue
            devs.add(gc.get("gpu") or gc["device"])
            speed = {m: (lambda a, b: a / b if b else None)(*_paired_seconds(sc, xs)) for m, xs in gb.items()}
            newt = sorted((gc["settings"][m]["batch_size"], speed[m]) for m in gb
                          if gc["settings"].get(m, {}).get("optimizer") == "newton" and "batch_size" in gc["settings"][m])
            gpu.append(f"{gc['dataset']}: " + ", ".join(([f"{f(speed['zinbwave'], 1)}x at the defaults"] if "zinbwave" in gb else [])
                                                        + (["by Newton's steps " + ", ".join(f"{f(x, 1)}x (blocks of {b:,} cells)" for b, x in newt)] if newt else [])))
            ari = lambda xs: round(statistics.mean(x["kmeans_ARI"] for x in xs.values()), 3)
            ok = [m for m in gb if ari(gb[m]) >= ari(sc)]   # settings at SCVI-50's ARI or above (means over the seeds, to three digits)
            if ok:
                m = max(ok, key=lambda m: speed[m])
                tenx.append((speed[m] >= 10, f"{gc['dataset']} {f(speed[m], 1)}x at ARI {f(ari(gb[m]), 3)} vs {f(ari(sc), 3)}"))
            else:
                m = max(gb, key=lambda m: ari(gb[m]))
                tenx.append((False, f"{gc['dataset']}: no setting at SCVI-50's ARI (best {f(ari(gb[m]), 3)} vs {f(ari(sc), 3)}, {f(speed[m], 1)}x)"))
        dev = " / ".join(sorted(devs))
        rows.append(["ZINB-WaVE, fit time to a clustering", "`tl.zinbwave`", "scvi-tools SCVI trained for 50 epochs", f"{len(sp_d)} labelled datasets, {nseed} seeds",
                     f"**faster**: on a CPU {_span(sp_d)} at the defaults, {_span(sp_n)} by Newton's steps (one thread each)"
                     + (f"; on one {dev}, " + "; ".join(gpu) if gpu else ""), "Clustering; GPU"])
        if tenx:
            met = [t for ok, t in tenx if ok]; miss = [t for ok, t in tenx if not ok]
            rows.append(["ZINB-WaVE, at least 10x SCVI-50's fit time at a k-means ARI at least SCVI-50's", "`tl.zinbwave`, the fastest setting at SCVI-50's ARI",
                         "scvi-tools SCVI trained for 50 epochs, the same GPU and run", f"{len(tenx)} labelled dataset{'s' if len(tenx) > 1 else ''} on one {dev}",
                         f"met on {len(met)} of {len(tenx)}" + (f" ({'; '.join(met)})" if met else "") + ("; **missed** on " + "; ".join(miss) if miss else ""), "GPU"])
        kauto = "`tl.zinbwave(optimizer=\"newton\", n_latent=\"auto\", epsilon_W=\"auto\")` (K and the ridge on W chosen on held-out cells), k-means on `X_zinbwave_mu`"
        for lab, m, k in (("ZINB-WaVE at its defaults, k-means on W (`X_zinbwave`)", "zinbwave", "kmeans_ARI"),
                          ("ZINB-WaVE at its defaults, k-means on `X_zinbwave_mu` (the coordinates `tl.zinbwave` gives for distances)", "zinbwave", "kmeans_ARI_mu"),
                          (kauto, "zinbwave_newton_kauto", "kmeans_ARI_mu"),
                          ("GMVAE at its defaults, argmax q(y|x)", "gmvae", "argmax_ARI"), ("GMVAE, start chosen without labels, argmax q(y|x)", "gmvae_auto", "argmax_ARI")):
            ahead, behind = [], []
            for ds in dss:
                a, b = [r[k] for r in by.get((ds, m), []) if k in r], scvi_best(by, ds)
                if a and b is not None: (ahead if round(statistics.mean(a), 3) >= round(b, 3) else behind).append(f"{ds} {f(statistics.mean(a), 3)} vs {f(b, 3)}")
            if ahead or behind:
                cost = ""
                if m == "zinbwave_newton_kauto":   # six fits: its time against SCVI's, both runs on one machine (the clustering section's note)
                    t50 = [t[0] / t[1] for ds in dss if (t := _vs_scvi50(by, ds, m))]
                    t400 = [t[0] / t[1] for ds in dss if (t := _vs_scvi50(by, ds, m, "scvi"))]
                    cost = (f"; its six fits against SCVI's time: **slower** than 50 epochs ({_span(t50)})" if t50 else "") + (f", faster than 400 epochs ({_span(t400)})" if t400 else "")
                rows.append([f"Clustering: k-means ARI against the labels", lab, "SCVI + k-means, the better of 50 and 400 epochs", f"{len(ahead) + len(behind)} labelled datasets, {nseed} seeds",
                             f"at or above SCVI's on {len(ahead)} of {len(ahead) + len(behind)}; **behind** on " + (", ".join(behind) if behind else "none") + cost, "Clustering"])
    zp = [r for _, r in load("zipo_*_seed*.json") if isinstance(r, dict) and "method" in r and "dataset" in r]
    if zp:
        groups = {}
        for r in zp: groups.setdefault((r["dataset"], r["method"]), []).append(r)
        def verdicts(ours, peer, key):   # datasets where ZiPo's score is lower on every seed both ran / on average only / not
            out = {"every": [], "average": [], "no": []}
            for ds in sorted({d for d, _ in groups}):
                c = _seedwise(groups, ds, ours, peer, key)
                if c: out["every" if c[0] == c[1] else "average" if c[2] < c[3] else "no"].append(ds)
            return out
        zds = sorted({d for d, _ in groups})
        nseeds = max(len(g) for (d, m), g in groups.items() if m == "zipo_lr1e-3_proximal")
        def say(v):
            n = sum(len(x) for x in v.values())
            return (f"lower on every seed on {len(v['every'])} of {n}" + (f", on average on {', '.join(v['average'])}" if v["average"] else "")
                    + (f", **not** on {', '.join(v['no'])}" if v["no"] else ""))
        for what, key, ours, label, peers in (
                ("held-out NLL per cell", "heldout_nll", "zipo_lr1e-3_proximal", "`tl.zipo` at its defaults (ZIP)", (("zipDCA", "zipdca"), ("the DCA configuration (ZINB)", "dca"), ("SCVI (ZINB)", "scvi"))),
                ("held-out NLL per cell", "heldout_nll", "zipo_zinb_proximal_posterior", "`tl.zipo(likelihood=\"zinb\")`", (("the DCA configuration", "dca"), ("SCVI", "scvi"))),
                ("held-out NLL per cell", "heldout_nll", "ablation_zinb_lr_1e-3_proximal_observed", "`tl.zipo(likelihood=\"zinb\", library=\"observed\")`", (("the DCA configuration", "dca"), ("SCVI", "scvi"))),
                ("MCV error of rates", "mcv_mse", "zipo_lr1e-3_proximal", "`tl.zipo` at its defaults", (("the DCA configuration", "dca"), ("SCVI", "scvi"), ("MAGIC", "magic"))),
                ("MCV error of rates", "mcv_mse", "zipo_zinb_proximal_posterior", "`tl.zipo(likelihood=\"zinb\", refine=\"mcv\", posterior=True)`", (("MAGIC", "magic"),)),
                ("held-out NLL per cell", "heldout_nll", REFIT, "`tl.zipo(refit=True)` (ZIP)", (("zipDCA", "zipdca"), ("the DCA configuration (ZINB)", "dca"), ("SCVI (ZINB)", "scvi"))),
                ("MCV error of rates", "mcv_mse", REFIT, "`tl.zipo(refit=True)`", (("the DCA configuration", "dca"), ("SCVI", "scvi"), ("MAGIC", "magic"))),
                ("held-out NLL per cell", "heldout_nll", REFIT_ZINB, "`tl.zipo(likelihood=\"zinb\", library=\"observed\", refit=True)`", (("the DCA configuration", "dca"), ("its 128-64-128 variant", "dca128"), ("SCVI", "scvi"))),
                ("MCV error of rates", "mcv_mse", REFIT_ZINB, "`tl.zipo(likelihood=\"zinb\", library=\"observed\", refine=\"mcv\", posterior=True, refit=True)`", (("MAGIC", "magic"),))):
            parts = [f"against {p}: {say(v)}" for p, peer in peers if any((v := verdicts(ours, peer, key)).values())]
            dso, nso = sorted({d for d, m in groups if m == ours}), sorted({len(g) for (d, m), g in groups.items() if m == ours})   # where this row ran, and its seeds
            if parts: rows.append([f"Denoising: {what}", label, ", ".join(p for p, _ in peers), f"{', '.join(dso)}; {nso[0]}{'' if len(nso) == 1 else f' to {nso[-1]}'} seeds", "; ".join(parts), "ZiPo"])
        pr = [r for (d, m), g in groups.items() if m == "ablation_lr_1e-3_proximal_prune_to_0.95_or_0.98_bound" for r in g]
        if pr:
            ok = [_pruning_target(r) for r in pr]
            rows.append(["Sparsity: first-layer weights pruned", "`tl.zipo(prune_to=[0.95, 0.98])` (the validation cells choose the fraction)", "(ZiPo's own unpruned fit)",
                         f"{', '.join(sorted({r['dataset'] for r in pr}))}; {len(pr)} fits", f"at least 95% of the weights zero and the held-out NLL within 0.5% of the unpruned fit's "
                         f"on {sum(ok)} of {len(ok)} fits (98% kept on {sum(_at_least(r['sparsity_pruned'], 0.98) for r in pr)})", "ZiPo"])
        for setting, extra in ((ONE_SETTING, ""), (ONE_SETTING_LS, ", prune_reconstruct=True"), (ONE_SETTING_LS_LAYER, ", prune_reconstruct=True, prune_scope=\"layer\"")):
            pr1 = sorted({d for d, m in groups if m == setting})
            if pr1:          # every target by one setting: its pruned model against the peers, and against its own unpruned fit
                def every(peer, key): return verdicts(setting, peer, key)["every"]   # datasets where its score is lower on every seed both ran
                runs = [r for ds in pr1 for r in groups[(ds, setting)]]
                ok = [_pruning_target(r) for r in runs]
                nll = [p for p, peer in (("the DCA configuration", "dca"), ("its 128-64-128 variant", "dca128"), ("SCVI", "scvi")) if len(every(peer, "heldout_nll")) < len(pr1)]
                mcv = [p for p, peer in (("the DCA configuration", "dca"), ("SCVI", "scvi"), ("MAGIC", "magic")) if len(every(peer, "mcv_mse")) < len(pr1)]
                n_nll = sum(all(ds in every(peer, "heldout_nll") for peer in ("dca", "dca128", "scvi")) for ds in pr1)
                n_mcv = sum(all(ds in every(peer, "mcv_mse") for peer in ("dca", "scvi", "magic")) for ds in pr1)
                seeds = sorted({len(groups[(ds, setting)]) for ds in pr1})
                rows.append(["Denoising, every target by one setting: held-out NLL, MCV error, pruning",
                             f"`tl.zipo(likelihood=\"zinb\", library=\"observed\", refine=\"mcv\", posterior=True, prune_to=[0.95, 0.98]{extra})`, the pruned model",
                             "the DCA configuration and its 128-64-128 variant, SCVI; MAGIC (MCV error only)",
                             f"{', '.join(pr1)}; {seeds[0]}{'' if len(seeds) == 1 else f' to {seeds[-1]}'} seeds", f"held-out NLL lower than every peer's on every seed on {n_nll} of {len(pr1)}"
                             + (f" (**not** always below {', '.join(nll)})" if nll else "") + f"; MCV error lower than every peer's on every seed on {n_mcv} of {len(pr1)}"
                             + (f" (**not** always below {', '.join(mcv)})" if mcv else "") + f"; at least 95% of the weights zero and the held-out NLL within 0.5% of the "
                             f"unpruned fit's on {sum(ok)} of {len(ok)} fits (98% kept on {sum(_at_least(r['sparsity_pruned'], 0.98) for r in runs)})", "ZiPo"])
        eq = one("zipo_speed_equal_width.json")
        if eq and eq.get("scvi_128_10_sec_per_epoch"):
            t = eq["scvi_128_10_sec_per_epoch"]
            rows.append(["ZiPo, time per epoch at equal width (128 hidden, 10 latent), CPU", "`zinb_nb.zipo.ZiPo`", "scvi-tools SCVI",
                         f"{eq['n_cells']:,} cells x {eq['n_genes']:,} genes", f"**faster**: {ratio(t, eq['zipo_zip_128_10_sec_per_epoch'])} (ZIP), "
                         f"{ratio(t, eq['zipo_zinb_128_10_sec_per_epoch'])} (ZINB)", "ZiPo"])
    sc = [s for n, s in load("zinbwave_scale_*.json") if isinstance(s, list) and s and "mode" in s[0] and n.startswith("zinbwave_scale_1") and "before" not in n]
    if sc:
        st = sorted((r for r in sc[0] if r["mode"] == "store"), key=lambda r: r["n_cells"])
        if st: rows.append(["Scale", "`tl.zinbwave` on a backed `.h5ad`, per-cell state in files", "(no peer run at this size)", f"simulated, {st[-1]['n_genes']:,} genes, one CPU thread",
                            "; ".join(f"{r['n_cells']:,} cells: {f(r['seconds_per_epoch'], 1)} s per epoch, peak {f(r['peak_mb'], 0)} MB" for r in st), "Scale"])
    if not rows: return missing("any benchmark")
    return table(["comparison", "zinb_nb", "peer", "data", "where zinb_nb stands", "section"], rows)


BLOCKS = dict(log_zinb=block_log_zinb, em_pscl=block_em_pscl, em_speed=block_em_speed, glmm=block_glmm, vae=block_vae,
              zinbwave=block_zinbwave, scale=block_scale, rzinbwave=block_rzinbwave, gpu=block_gpu, gpu_cluster=block_gpu_cluster, gpu_blocks=block_gpu_blocks, zipo=block_zipo, cluster=block_cluster,
              summary=block_summary, gpu_adam_scale=block_gpu_adam_scale)
USES = dict(log_zinb=["log_zinb_*.json", "log_nb_*.json"], em_pscl=["em_pscl.json"], em_speed=["em_speed_*.json", "em_design_*.json", "em_pooled_*.json"], glmm=["glmm.json"],
            vae=["vae_*_seed*.json"], zinbwave=["zinbwave_pbmc_*.json", "zinbwave_cellbench_*.json"],
            scale=["zinbwave_scale_*.json"], rzinbwave=["rzinbwave_*.json"], gpu=["gpu_check.json"], gpu_cluster=["gpu_cluster_*.json"], gpu_blocks=["gpu_blocks.json"], gpu_adam_scale=["gpu_adam_scale.json"],
            zipo=["zipo_*.json"], cluster=["cluster_*_seed*.json", "confusion_*_seed*.json"],
            summary=["log_zinb_*.json", "log_nb_*.json", "em_speed_*.json", "em_design_*.json", "glmm.json", "cluster_*_seed*.json", "gpu_cluster_*.json", "zipo_*.json",
                     "zinbwave_scale_*.json"])


def block_files():
    "Every file in results/, the table that reads it, its date and load."
    used = {}
    for b, pats in USES.items():
        for p in pats:
            for q in RESULTS.glob(p): used.setdefault(q.name, b)
    groups = {}   # one row per file, except one per method for files of one method over several seeds
    for p in sorted(RESULTS.iterdir()):
        if not p.name.startswith("."): groups.setdefault(re.sub(r"_seed\d+\.json$", "_seed*.json", p.name), []).append(p)
    rows = []
    for key, ps in groups.items():
        name = f"`{key}`" + (f" ({len(ps)} files)" if len(ps) > 1 else "")
        if key.endswith(".log"):
            rows.append([name, "none: the text output of an earlier EM run that wrote no results file", "", ""]); continue
        ds = []
        for p in ps:
            try: d = json.loads(p.read_text())
            except ValueError: rows.append([f"`{p.name}`", "unreadable", "", ""]); continue
            xs = [x for x in (d if isinstance(d, list) else [d]) if isinstance(x, dict)]
            ds += xs + [r for x in xs for r in x.get("runs", []) if isinstance(r, dict)]   # files of several runs date each run
        date = sorted({str(x.get("date") or x.get("when") or "")[:10] for x in ds} - {""})
        rows.append([name, used.get(ps[0].name, "**none**"), ", ".join(date) or "not recorded", cpus(ds), load_range(ds)])
    return table(["file", "table", "date (UTC)", "CPU", "load"], rows)


def cpus(ds):
    "The CPU models the runs ds record (a `cpu` field, or the model that opens a `machine` field), or 'not recorded'."
    def one(x):
        if x.get("cpu"): return str(x["cpu"])
        m = str(x.get("machine") or "").split(",")[0].strip()
        return m if any(w in m for w in ("Intel", "AMD", "EPYC", "Xeon", "ARM", "Apple")) else ""
    return ", ".join(sorted({one(x) for x in ds} - {""})) or "not recorded"


BLOCKS["files"] = block_files


# ------------------------------------------------------------------ README rewriting
def generate(text):
    "The README with every generated block replaced; unknown block names raise."
    def sub(m):
        name = m.group(1)
        if name not in BLOCKS: raise KeyError(f"README has a generated block {name!r} that report.py does not know")
        return f"{BEGIN.format(name)}\n{BLOCKS[name]()}\n{END.format(name)}"
    pat = re.compile(r"<!-- begin generated: (\w+) -->.*?<!-- end generated: \1 -->", re.S)
    return pat.sub(sub, text)


# ------------------------------------------------------------------ the prose check
NUM = re.compile(r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?(?!(?!x(?:\W|$))\w)")
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
TIME = re.compile(r"\b\d{2}:\d{2}\b")
VERSION = re.compile(r"(?<![\w.])\d+\.\d+\.\d+(?:\+\w+)?")


def prose(text):
    "The README without generated blocks, code (fenced and inline), HTML comments, link targets and citation years."
    text = re.sub(r"<!-- begin generated: (\w+) -->.*?<!-- end generated: \1 -->", " ", text, flags=re.S)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"(et al\.,?\s*\(?)\d{4}", r"\1", text)
    return text


def _values(x, out, strings):
    if isinstance(x, bool) or x is None: return
    if isinstance(x, (int, float)):
        if math.isfinite(x): out.append(x)
    elif isinstance(x, str): strings.append(x)
    elif isinstance(x, dict):
        for k, v in x.items(): strings.append(str(k)); _values(v, out, strings)
    elif isinstance(x, list):
        if len(x) <= 20 or not all(isinstance(v, (int, float)) for v in x):   # long numeric lists (training curves) are not figures
            for v in x: _values(v, out, strings)


def allowed(generated_text):
    """What prose may quote: the number tokens of the generated blocks and of every string in the results files (as
    written, thousands separators aside), and every integer value stored in a results file."""
    vals, strings = [], [generated_text]
    for p in RESULTS.glob("*.json"):
        try: _values(json.loads(p.read_text()), vals, strings)
        except ValueError: pass
    blob = "\n".join(strings)
    tokens = {m[0].replace(",", "") for m in NUM.finditer(blob)}
    tokens |= {str(v) for v in vals if isinstance(v, int)}   # JSON integers; a float that happens to be whole is not one
    return tokens, blob


def check_prose(text, generated_text):
    "Numbers, dates, times and versions of the prose that no results file or generated block holds."
    tokens, blob = allowed(generated_text)
    p = prose(text)
    bad = []
    for pat in (VERSION, DATE, TIME):
        for m in pat.finditer(p):
            if m[0] not in blob: bad.append(m[0])
        p = pat.sub(" ", p)
    for m in NUM.finditer(p):
        if m[0].replace(",", "") not in tokens: bad.append(m[0])
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when the README is not what the results give")
    ap.add_argument("--readme", default=str(README))
    a = ap.parse_args(argv)
    text = Path(a.readme).read_text()
    new = generate(text)
    gen = "\n".join(m[0] for m in re.finditer(r"<!-- begin generated: (\w+) -->.*?<!-- end generated: \1 -->", new, flags=re.S))
    if not a.check:
        Path(a.readme).write_text(new)
        print(f"rewrote {a.readme}: {len(re.findall('<!-- begin generated', new))} generated blocks")
        bad = check_prose(new, gen)
        if bad: print(f"numbers in the prose found in no results file: {bad}", file=sys.stderr); return 1
        return 0
    ok = True
    if new != text:
        import difflib
        print("benchmarks/README.md differs from what the results give (run `python benchmarks/report.py`):", file=sys.stderr)
        sys.stderr.writelines(list(difflib.unified_diff(text.splitlines(True), new.splitlines(True), "README.md", "generated", n=1))[:60])
        ok = False
    bad = check_prose(text, gen)
    if bad:
        print(f"numbers in the prose of {a.readme} found in no results file nor generated table: {bad}", file=sys.stderr)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

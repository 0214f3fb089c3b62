"""Every model of zinb_nb on a CUDA GPU: each fit checked against the same fit on the CPU, and timed.

    python benchmarks/gpu_check.py                      # on a machine with CUDA: writes benchmarks/results/gpu_check.json
    python benchmarks/gpu_check.py --device cpu --quick # a smoke test of the script itself on a CPU (small sizes, no results file)

Checks (each: the CUDA result against the CPU result on the same data, to the tolerance of the package's tests):
- EM: `fit_zinb_em` (float64) on every gene of the bundled PBMC 4k (2,000 genes): per-gene log-likelihoods equal to 1e-8
  relative; time for all genes (first call, and warm).
- EM with a design: `fit_zinb_em(design=...)` (float64) on PBMC 4k with its size factors: the NB on `~ label` (a design of
  groups, 2,000 genes) and the ZINB on an intercept, a random condition and a normal covariate (200 genes): per-gene
  log-likelihoods equal to 1e-8 relative; time (first call, and warm).
- GLMM: `glmm_genes` (Poisson, float64) on genes simulated on the 68,627 cells of `simulate_glmm_table`: fixed effects equal to
  1e-6; time, first call and warm, with each of the two ways of computing the Hessian on an accelerator.
- NB GLMM: `glmm_genes(family="nb")` on NB genes simulated on the same cells: fixed effects and log theta equal to 1e-6;
  time, first call and warm (the CPU reference on the first genes only).
- ZINB-WaVE: `tl.zinbwave` on PBMC 4k, 3 epochs, same seed: training NLL per epoch equal to 1e-3 relative (float32, reductions in
  another order), by Adam and by Newton's steps (`optimizer="newton"`, its training loss per epoch); seconds per epoch at
  100,000 and 1,000,000 simulated cells x 1,000 genes (counts generated on the GPU and held there: this times the model and
  the loop, not disk reads), by Adam and by Newton's steps (blocks of 16,384 cells).
- VAE and GMVAE: `CountVAE` (ZINB) on PBMC 4k, 3 epochs: the held-out negative ELBO close to the CPU's (different random streams:
  to 2%); seconds per epoch, against scvi-tools' SCVI on the same GPU and data when scvi-tools is installed there.
- ZiPo, when the package has it: the same as the VAE, and `tl.zipo(refine="mcv")` on each device (the thinning by a
  seeded generator on the device, the grid of refinements): finite scores, the unrefined one within 5% of the CPU's; and
  `tl.zipo(prune_to=0.9)` on 1,000 cells x 500 genes (pruning to a fraction with retraining): exactly 90% of the first layer
  zero on each device, the validation NLL after the retraining within 5% of the CPU's; and `tl.zipo(proximal=True, refit=True)`
  on the same cells (the least-squares refit on the device): its validation NLL within 5% of the CPU's; and the same on fewer cells
  than genes (300 x 500), where neurons keeping most of the genes are solved in the cells' space.
- The GMVAE's Gaussian-mixture start (`cluster.gmm_diag`, EM in float64) on 4 x 200,000 points: the same log-likelihood
  as on the CPU to 1e-6, and its time on each.
- Batches: `tl.vae(batch_key=)` and `tl.zipo(covariate_keys=)` on CellBench (the technology as the batch), 3 epochs: the
  held-out loss close to the CPU's (to 2%), so the one-hot covariates reach the device with the counts.
- Models kept in files: `tl.zinbwave`, `tl.vae` and `tl.zipo` fitted on the CPU (CellBench, its technology as the batch),
  written by `tl.save`, read onto the device by `tl.load(device=...)`, and new cells (every other cell) placed there by
  `tl.zinbwave_transform`, `tl.vae_transform` and `tl.zipo_transform`: the latents and rates equal to the CPU's
  placement to 1e-3 (ZINB-WaVE: the new cells' loss to 1e-4 relative, an optimisation on each device).
- Blocks (`--only blocks`, run on its own: `--out results/gpu_blocks.json`): one epoch of ZINB-WaVE on 1,000,000 simulated
  cells x 1,000 genes held on the device at 1,024 to 65,536 cells per minibatch (Adam) or per block (Newton's steps): the
  time, the training loss, and the peak device memory, whose growth per cell sets the default block of Newton's steps.
- Adam's minibatch at equal wall time (`--only adam_scale`, run on its own: `--out results/gpu_adam_scale.json`): ZINB-WaVE
  by Adam on the same 1,000,000 x 1,000 simulated cells with 10% held out, each setting of cells per minibatch and
  learning rate given the same wall-clock budget (30 s): the held-out NLL per cell after each epoch against the time,
  which says whether a minibatch that grows with the number of cells (fewer, cheaper steps per epoch on an accelerator)
  reaches a given held-out NLL sooner than the default 1,024.
Timings use torch.cuda.synchronize(); every figure goes to the results file with the machine, versions and date.
The GPU machine needs zinb_nb's dependencies: anndata and fastcore are not in every CUDA image; carry them as wheels.
"""
import argparse, json, math, os, platform, sys, time
from pathlib import Path
import numpy as np

HERE = Path(__file__).resolve().parent


def _sync(dev):
    import torch
    if dev.type == "cuda": torch.cuda.synchronize()


def _timed(f, dev):
    _sync(dev); t = time.perf_counter(); out = f(); _sync(dev)
    return out, time.perf_counter() - t


def check_em(dev, quick):
    from zinb_nb.datasets import pbmc4k
    from zinb_nb.em import fit_zinb_em
    a = pbmc4k()
    x = a[:, :200].X if quick else a.X
    cpu, t_cpu = _timed(lambda: fit_zinb_em(x, device="cpu", progress=False), dev)
    gpu, t_first = _timed(lambda: fit_zinb_em(x, device=dev, progress=False), dev)
    _, t_warm = _timed(lambda: fit_zinb_em(x, device=dev, progress=False), dev)
    rel = float(np.max(np.abs(gpu.loglik - cpu.loglik) / np.maximum(np.abs(cpu.loglik), 1.)))
    return dict(genes=int(x.shape[1]), cells=int(x.shape[0]), max_rel_loglik_diff=rel, ok=rel < 1e-8,
                seconds_cpu=t_cpu, seconds_first=t_first, seconds_warm=t_warm)


def check_em_design(dev, quick):
    from zinb_nb.datasets import pbmc4k
    from zinb_nb.em import fit_zinb_em, design_matrix
    a = pbmc4k()
    a = a[:, :200].copy() if quick else a
    s = np.asarray(a.X.sum(1)).ravel(); s = s / s.mean()
    rng = np.random.default_rng(0)
    general = np.c_[np.ones(a.n_obs), rng.integers(0, 2, a.n_obs), rng.normal(0, 1, a.n_obs)]
    out = {}
    for name, dist, design, genes in (("nb_label", "nb", design_matrix("~ label", a.obs)[0], a.n_vars), ("zinb_general", "zinb", general, min(200, a.n_vars))):
        x = a.X[:, :genes]
        cpu, t_cpu = _timed(lambda: fit_zinb_em(x, s, dist, design=design, device="cpu", progress=False), dev)
        gpu, t_first = _timed(lambda: fit_zinb_em(x, s, dist, design=design, device=dev, progress=False), dev)
        _, t_warm = _timed(lambda: fit_zinb_em(x, s, dist, design=design, device=dev, progress=False), dev)
        rel = float(np.max(np.abs(gpu.loglik - cpu.loglik) / np.maximum(np.abs(cpu.loglik), 1.)))
        out[name] = dict(genes=int(genes), cells=int(a.n_obs), columns=int(design.shape[1]), max_rel_loglik_diff=rel, ok=rel < 1e-8,
                         seconds_cpu=t_cpu, seconds_first=t_first, seconds_warm=t_warm)
    return dict(out, ok=all(v["ok"] for v in out.values()))


def check_glmm(dev, quick):
    import zinb_nb.glmm as G
    from zinb_nb.data import simulate_glmm_genes
    a = simulate_glmm_genes(n_genes=10 if quick else 200, seed=3)
    f = "~ 0 + cell_group + offset(log(total_count)) + (1|patient)"
    sub = a[:, :10 if quick else 20].copy()           # the CPU reference on the first genes only (it is the slow side)
    run = lambda d, x: G.glmm_genes(x, formula=f, device=d, progress=False)
    cpu, t_cpu = _timed(lambda: run("cpu", sub), dev)
    # the Hessian on an accelerator: torch.func's batched pass (the default there; its first call imports TorchDynamo),
    # or one backward pass per parameter (the CPU's way); each path's first call, then warm
    batched = G._value_grad_hess_batched
    G._value_grad_hess_batched = G._value_grad_hess_loop
    try:
        loop, t_loop_first = _timed(lambda: run(dev, a), dev)
        _, t_loop_warm = _timed(lambda: run(dev, a), dev)
    finally: G._value_grad_hess_batched = batched
    gpu, t_first = _timed(lambda: run(dev, a), dev)
    _, t_warm = _timed(lambda: run(dev, a), dev)
    est = lambda r: r.fixef[r.fixef.gene.isin(sub.var_names)].estimate.to_numpy()
    d = float(max(np.max(np.abs(est(gpu) - cpu.fixef.estimate.to_numpy())), np.max(np.abs(est(loop) - cpu.fixef.estimate.to_numpy()))))
    return dict(genes=int(a.n_vars), genes_cpu=int(sub.n_vars), cells=int(a.n_obs), max_abs_estimate_diff=d, ok=d < 1e-6,
                seconds_cpu_for_genes_cpu=t_cpu, seconds=t_first, seconds_warm=t_warm,
                seconds_loop_hessian_first=t_loop_first, seconds_loop_hessian_warm=t_loop_warm)


def check_glmm_nb(dev, quick):
    "The NB GLMM (per row: its derivatives summed per stratum by an autograd Function; the Hessian by one backward pass per parameter on every device)."
    import zinb_nb.glmm as G
    from zinb_nb.data import simulate_glmm_genes
    a = simulate_glmm_genes(n_genes=3 if quick else 100, family="nb", seed=3)
    f = "~ 0 + cell_group + offset(log(total_count)) + (1|patient)"
    sub = a[:, :3 if quick else 10].copy()
    run = lambda d, x: G.glmm_genes(x, formula=f, family="nb", device=d, progress=False)
    cpu, t_cpu = _timed(lambda: run("cpu", sub), dev)
    gpu, t_first = _timed(lambda: run(dev, a), dev)
    _, t_warm = _timed(lambda: run(dev, a), dev)
    est = gpu.fixef[gpu.fixef.gene.isin(sub.var_names)].estimate.to_numpy()
    d = float(np.max(np.abs(est - cpu.fixef.estimate.to_numpy())))
    dt = float(np.max(np.abs(np.log(gpu.theta[sub.var_names].to_numpy()) - np.log(cpu.theta.to_numpy()))))
    return dict(genes=int(a.n_vars), genes_cpu=int(sub.n_vars), cells=int(a.n_obs), max_abs_estimate_diff=d, max_abs_log_theta_diff=dt,
                ok=d < 1e-6 and dt < 1e-6, converged=int(gpu.converged.sum()), seconds_cpu_for_genes_cpu=t_cpu, seconds=t_first, seconds_warm=t_warm)


def check_zinbwave(dev, quick):
    import torch
    from zinb_nb.datasets import pbmc4k
    from zinb_nb import tl
    from zinb_nb.zinbwave import ZINBWaVE
    from zinb_nb.train import fit
    from zinb_nb.data import CellBatches
    a = pbmc4k()
    if quick: a = a[:500, :300].copy()
    kw = dict(max_epochs=3, patience=None, progress=False, seed=0, batch_size=256)   # the same minibatches on both (the default differs by device)
    h_cpu = tl.zinbwave(a.copy(), device="cpu", **kw).history
    h_gpu = tl.zinbwave(a.copy(), device=dev, **kw).history
    rel = float(np.max(np.abs(h_gpu.nll.to_numpy() - h_cpu.nll.to_numpy()) / h_cpu.nll.to_numpy()))
    out = dict(nll_cpu=h_cpu.nll.tolist(), nll_gpu=h_gpu.nll.tolist(), max_rel_nll_diff=rel, ok=rel < 1e-3,
               sec_per_epoch_pbmc_cpu=float(h_cpu.seconds.iloc[-1] / 3), sec_per_epoch_pbmc=float(h_gpu.seconds.iloc[-1] / 3))
    kw_n = dict(kw, optimizer="newton")                                 # the alternating Newton steps: no minibatch noise, the same path on both
    n_cpu, n_gpu = (tl.zinbwave(a.copy(), device=d, **kw_n).history for d in ("cpu", dev))
    rel_n = float(np.max(np.abs(n_gpu.loss.to_numpy() - n_cpu.loss.to_numpy()) / n_cpu.loss.to_numpy()))
    out["newton"] = dict(loss_cpu=n_cpu.loss.tolist(), loss_gpu=n_gpu.loss.tolist(), max_rel_loss_diff=rel_n, ok=rel_n < 1e-3,
                         sec_per_epoch_pbmc_cpu=float(n_cpu.seconds.iloc[-1] / 3), sec_per_epoch_pbmc=float(n_gpu.seconds.iloc[-1] / 3))
    out["ok"] = out["ok"] and out["newton"]["ok"]
    for n in ((2_000,) if quick else (100_000, 1_000_000)):
        J = 100 if quick else 1_000
        x = _sim_counts(dev, n, J)
        m = ZINBWaVE(n, J, 10)
        h = fit(m, CellBatches(x, batch_size=1024, seed=0, device=dev, validate=False), max_epochs=2, lr=0.05, early_stopping=None, progress=False)
        out[f"sec_per_epoch_{n}_cells_x_{J}_genes"] = float(h.seconds.iloc[-1] - h.seconds.iloc[0])   # the second epoch (warm)
        m = ZINBWaVE(n, J, 10)
        h = fit(m, CellBatches(x, batch_size=16384, seed=0, device=dev, validate=False), optimizer="newton", max_epochs=2, early_stopping=None, progress=False)
        out[f"newton_sec_per_epoch_{n}_cells_x_{J}_genes_blocks_16384"] = float(h.seconds.iloc[-1] - h.seconds.iloc[0])
        if n == max((2_000,) if quick else (100_000, 1_000_000)):
            # a step of this model is launch-bound on a GPU: larger minibatches cost about the same per step
            sweep = {}
            for bs in ((256, 1024) if quick else (1024, 4096, 16384)):
                m = ZINBWaVE(n, J, 10)
                h = fit(m, CellBatches(x, batch_size=bs, seed=0, device=dev, validate=False), max_epochs=3, lr=0.05, early_stopping=None, progress=False)
                sweep[str(bs)] = dict(sec_per_epoch=h.seconds.diff().fillna(h.seconds).tolist(), train_nll=h.nll.tolist())
            out[f"batch_size_sweep_{n}_cells_x_{J}_genes_3_epochs_lr_0.05"] = sweep
        del x, m
    return out


def check_vae(dev, quick, n_components=None):
    import torch
    from zinb_nb.datasets import pbmc4k
    from zinb_nb.vae import CountVAE
    from zinb_nb.train import fit, split_cells
    from zinb_nb.data import CellBatches
    a = pbmc4k()
    X = a.X.toarray()[:600] if quick else a.X.toarray()
    res = {}
    for d in ("cpu", dev):
        torch.manual_seed(0)
        m = CountVAE(X.shape[1], likelihood="zinb", n_components=n_components)
        if n_components: m.mixture_active = False
        h = fit(m, CellBatches(X, batch_size=128, seed=0, device=d), valid=split_cells(len(X), 0.1), max_epochs=3, early_stopping=None, progress=False)
        res[str(d)] = dict(valid_nelbo=float(h.valid_nll.iloc[-1]), sec_per_epoch=float(h.seconds.iloc[-1] / 3))
    c, g = res["cpu"], res[str(dev)]
    rel = abs(g["valid_nelbo"] - c["valid_nelbo"]) / c["valid_nelbo"]
    out = dict(cpu=c, gpu=g, rel_valid_nelbo_diff=rel, ok=rel < 0.02)
    if not quick and n_components is None: out["scvi"] = _scvi_epoch(a, dev)
    return out


def _scvi_epoch(a, dev):
    try: import scvi
    except Exception as e: return f"scvi-tools could not be imported on this machine ({type(e).__name__}: {e}): no SCVI timing"
    try:
        b = a.copy(); scvi.model.SCVI.setup_anndata(b)
        m = scvi.model.SCVI(b, n_latent=10)
        t = time.perf_counter(); m.train(max_epochs=3, accelerator="gpu", enable_progress_bar=False)
        return dict(version=scvi.__version__, sec_per_epoch=(time.perf_counter() - t) / 3)
    except Exception as e: return f"SCVI failed on this machine ({type(e).__name__}: {e})"


def check_batches(dev, quick):
    from zinb_nb.datasets import cellbench
    from zinb_nb import tl
    a = cellbench(min_cells=10)
    if quick: a = a[:, :300].copy()
    r = {}
    for name, f in (("vae", lambda b, d: tl.vae(b, batch_key="batch", device=d, max_epochs=3, patience=None, progress=False, seed=0)),
                    ("zipo", lambda b, d: tl.zipo(b, covariate_keys="batch", device=d, max_epochs=3, progress=False, seed=0))):
        v = {str(d): float(f(a.copy(), d).history.valid_nll.iloc[-1]) for d in ("cpu", dev)}
        r[name] = dict(valid_nll=v, rel_diff=abs(v[str(dev)] - v["cpu"]) / abs(v["cpu"]))
    return dict(cells=int(a.n_obs), genes=int(a.n_vars), **r, ok=all(x["rel_diff"] < 0.02 for x in r.values()))


ALONE = ("blocks", "adam_scale")   # left out of a plain run on a device (each takes minutes); the CPU smoke test (--quick) runs them too

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test of the script (no results file)")
    ap.add_argument("--out", help="results file (default: results/gpu_check.json for a full run; a run with --only must name its own)")
    ap.add_argument("--only", nargs="*", help="run only these checks (em em_design glmm glmm_nb zinbwave vae gmvae gmm batches transfer zipo blocks adam_scale); without it every check but blocks and adam_scale, which run on their own")
    a = ap.parse_args()
    if a.out is None:
        if a.only and not a.quick:
            print("gpu_check: --only runs part of the checks; name its results file with --out (results/gpu_check.json holds the full run)", file=sys.stderr)
            return 2
        a.out = str(HERE / "results" / "gpu_check.json")
    import torch
    sys.path.insert(0, str(HERE)); from _common import versions
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (torch.cuda.is_available() is False); it needs a GPU. "
              "To exercise the script on a CPU: --device cpu --quick", file=sys.stderr)
        return 2
    from zinb_nb.data import resolve_device
    dev = resolve_device(a.device)
    torch.set_num_threads(1 if dev.type == "cpu" else torch.get_num_threads())
    checks = dict(em=check_em, em_design=check_em_design, glmm=check_glmm, glmm_nb=check_glmm_nb, zinbwave=check_zinbwave, vae=check_vae,
                  gmvae=lambda d, q: check_vae(d, q, n_components=8), gmm=check_gmm, batches=check_batches, transfer=check_transfer, blocks=check_blocks,
                  adam_scale=check_adam_scale)
    try:
        import zinb_nb.zipo  # noqa: F401
        from zinb_nb import tl
        if hasattr(tl, "zipo"): checks["zipo"] = _check_zipo
    except ImportError: pass
    res = dict(machine=f"{platform.machine()}, {os.cpu_count()} cores", device=str(dev),
               gpu=torch.cuda.get_device_name(dev) if dev.type == "cuda" else None, torch=torch.__version__,
               when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), quick=a.quick, load_before=os.getloadavg()[0],
               versions=versions(["torch", "numpy", "scvi-tools"]),
               timing="one process, wall time (perf_counter with torch.cuda.synchronize) of each call; CPU side with torch's "
                      "default threads on the same machine; EM and GLMM CPU calls are the first of their kind in the process",
               checks={})
    t0 = time.perf_counter()
    if a.only: checks = {k: v for k, v in checks.items() if k in a.only}
    elif not a.quick: checks = {k: v for k, v in checks.items() if k not in ALONE}   # minutes each on a million cells: each runs on its own (--only)
    for name, f in checks.items():
        try: r = f(dev, a.quick)
        except Exception as e: r = dict(ok=False, error=f"{type(e).__name__}: {e}")   # recorded, and the other checks still run
        res["checks"][name] = r
        print(f"{name}: {'ok' if r.get('ok', True) else 'MISMATCH'} {json.dumps({k: v for k, v in r.items() if not isinstance(v, (list, dict))})}", flush=True)
        res["seconds"] = time.perf_counter() - t0
        res["all_ok"] = all(r.get("ok", True) for r in res["checks"].values())
        if not a.quick:   # written after every check, so a run cut short keeps what it measured
            Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1))
    if not a.quick: print(f"wrote {a.out}")
    print("all checks ok" if res["all_ok"] else "SOME CHECKS FAILED")
    return 0 if res["all_ok"] else 1


def _check_zipo(dev, quick):
    from zinb_nb.datasets import pbmc4k
    from zinb_nb import tl
    a = pbmc4k()
    if quick: a = a[:500, :300].copy()
    r = {}
    for proximal in (False, True):   # proximal=True: the proximal step after each Adam step (exact zeros in the first layer)
        for d in ("cpu", dev):
            m = tl.zipo(a.copy(), device=d, max_epochs=3, progress=False, proximal=proximal)
            r[f"{d}{'_proximal' if proximal else ''}"] = dict(history_nll=m.history.nll.tolist(), sec_per_epoch=float(m.history.seconds.iloc[-1] / len(m.history)))
    diff = lambda k: abs(r[f"{dev}{k}"]["history_nll"][-1] - r[f"cpu{k}"]["history_nll"][-1]) / abs(r[f"cpu{k}"]["history_nll"][-1])
    mcv = {}   # refine="mcv": the thinning (a seeded torch Generator on the device) and the grid of refinements, on each device
    for d in ("cpu", dev):
        b = a.copy(); tl.zipo(b, device=d, max_epochs=3, progress=False, refine="mcv", refine_cells=200 if quick else 2000)
        mcv[str(d)] = dict(steps=int(b.uns["zipo"]["refine_steps"]), mse=[float(v) for v in b.uns["zipo"]["refine_mcv"]["mse"]])
    mcv_diff = abs(mcv[str(dev)]["mse"][0] - mcv["cpu"]["mse"][0]) / mcv["cpu"]["mse"][0]
    mcv_ok = all(math.isfinite(v) for m in mcv.values() for v in m["mse"]) and mcv_diff < 0.05
    pr = {}   # prune_to: gradual pruning with retraining (the inputs' norms, the masks and the plateau schedule on the device)
    small = a if quick else a[:1000, :500].copy()
    for d in ("cpu", dev):
        b = small.copy(); m = tl.zipo(b, device=d, max_epochs=3, progress=False, prune_to=0.9)
        u = b.uns["zipo"]
        pr[str(d)] = dict(sparsity=float(u["sparsity"]), valid_nll_before=float(u["valid_nll_before_pruning"]),
                          valid_nll_after=float(u["valid_nll_after_pruning"]), epochs=int(len(m.prune_history)))
    pr_diff = abs(pr[str(dev)]["valid_nll_after"] - pr["cpu"]["valid_nll_after"]) / pr["cpu"]["valid_nll_after"]
    pr_ok = all(abs(v["sparsity"] - 0.9) < 1e-6 and math.isfinite(v["valid_nll_after"]) for v in pr.values()) and pr_diff < 0.05
    def refit_on(data):   # refit=True: the least-squares refit (the inputs' covariance or, with fewer cells than genes, the centred inputs; each neuron's Cholesky solve; the next layer's ridge grid) on the device
        out = {}
        for d in ("cpu", dev):
            b = data.copy(); t0 = time.perf_counter(); tl.zipo(b, device=d, max_epochs=3, progress=False, proximal=True, refit=True)
            u = b.uns["zipo"]
            out[str(d)] = dict(kept=bool(u["refit_kept"]), valid_nll_before=float(u["refit_valid_nll_before"]),
                               valid_nll_after=float(u["refit_valid_nll_after"]), sparsity=float(u["sparsity"]), seconds=time.perf_counter() - t0)
        dif = abs(out[str(dev)]["valid_nll_after"] - out["cpu"]["valid_nll_after"]) / out["cpu"]["valid_nll_after"]
        return out, dif, all(math.isfinite(v["valid_nll_after"]) for v in out.values()) and dif < 0.05
    rf, rf_diff, rf_ok = refit_on(small)
    rc, rc_diff, rc_ok = refit_on(a[:150, :300].copy() if quick else a[:300, :500].copy())   # fewer cells than genes: the neurons keeping most genes take the cells' side
    return dict(cpu=r["cpu"], gpu=r[str(dev)], cpu_proximal=r["cpu_proximal"], gpu_proximal=r[f"{dev}_proximal"],
                rel_nll_diff=diff(""), rel_nll_diff_proximal=diff("_proximal"), refine_mcv=mcv, rel_mcv_diff_unrefined=mcv_diff,
                prune_to=pr, rel_nll_diff_prune_to=pr_diff, refit=rf, rel_nll_diff_refit=rf_diff, refit_cells=rc, rel_nll_diff_refit_cells=rc_diff,
                ok=diff("") < 0.02 and diff("_proximal") < 0.02 and mcv_ok and pr_ok and rf_ok and rc_ok)


def check_transfer(dev, quick):
    "Models fitted on the CPU, saved, loaded onto the device, and new cells placed there: the same as on the CPU."
    import tempfile, torch
    from zinb_nb.datasets import cellbench
    from zinb_nb import tl
    a = cellbench(min_cells=10)
    if quick: a = a[:, :300].copy()
    ref, new = a[::2].copy(), a[1::2].copy()
    fits = dict(zinbwave=lambda: tl.zinbwave(ref, batch_key="batch", max_epochs=3, device="cpu", progress=False),
                vae=lambda: tl.vae(ref, batch_key="batch", max_epochs=3, patience=None, device="cpu", progress=False),
                zipo=lambda: tl.zipo(ref, covariate_keys="batch", max_epochs=3, device="cpu", progress=False))
    place = dict(zinbwave=lambda b, m, d: float(tl.zinbwave_transform(b, m, batch_key="batch", device=d).history.loss.iloc[-1]),
                 vae=lambda b, m, d: tl.vae_transform(b, m, device=d).obsm["X_vae"],
                 zipo=lambda b, m, d: tl.zipo_transform(b, m, device=d).layers["zipo_rate"])
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, f in fits.items():
            path = Path(tmp) / f"{name}.pt"; tl.save(f(), path)
            got = {str(d): _timed(lambda: place[name](new.copy(), tl.load(path, device=d), d), torch.device(d)) for d in ("cpu", str(dev))}
            (c, tc), (g, tg) = got["cpu"], got[str(dev)]
            rel = abs(g - c) / abs(c) if name == "zinbwave" else float(np.abs(g - c).max() / np.abs(c).max())
            out[name] = dict(rel_diff=rel, seconds_cpu=tc, seconds_device=tg, ok=rel < (1e-4 if name == "zinbwave" else 1e-3))
    return dict(cells_fitted=int(ref.n_obs), cells_placed=int(new.n_obs), genes=int(a.n_vars), **out, ok=all(v["ok"] for v in out.values()))


def check_gmm(dev, quick):
    "The GMVAE's Gaussian-mixture start (`cluster.gmm_diag`, EM in float64) on the device against the CPU, on the same points."
    import torch
    from zinb_nb.cluster import gmm_diag
    g = torch.Generator().manual_seed(0)
    n = 2000 if quick else 200_000
    z = torch.cat([torch.randn(n, 10, generator=g) * s + 4 * j for j, s in enumerate((0.5, 1., 2., 1.5))])
    out = {}
    for d in ("cpu", dev):
        t = time.perf_counter(); f = gmm_diag(z.to(d), 4, n_init=2)
        if str(d).startswith("cuda"): torch.cuda.synchronize()
        out[str(d)] = dict(loglik=f["loglik"], seconds=time.perf_counter() - t)
    rel = abs(out[str(dev)]["loglik"] - out["cpu"]["loglik"]) / abs(out["cpu"]["loglik"])
    return dict(cpu=out["cpu"], gpu=out[str(dev)], rel_loglik_diff=rel, ok=rel < 1e-6)



def _sim_counts(dev, n, J):
    "Poisson counts of n cells x J genes on a 5-dimensional log-linear latent, generated on the device (seeded) and held there."
    import torch
    g = torch.Generator(device=dev).manual_seed(0)
    return torch.poisson(torch.exp(torch.randn(n, 5, device=dev, generator=g) @ (0.3 * torch.randn(5, J, device=dev, generator=g))), generator=g)


def check_blocks(dev, quick):
    """ZINB-WaVE's time for one epoch and its peak device memory by cells per minibatch (Adam) and per block (Newton's
    steps), on simulated counts held on the device: what a default size on an accelerator can afford. The slope of the
    peak against the size is the memory a cell of a minibatch or block costs."""
    import torch
    from zinb_nb.zinbwave import ZINBWaVE
    from zinb_nb.train import fit
    from zinb_nb.data import CellBatches
    n, J = (3_000, 100) if quick else (1_000_000, 1_000)
    x = _sim_counts(dev, n, J)
    cuda = dev.type == "cuda"
    for opt in ("adam", "newton"):   # warm-up: the kernels of both optimizers loaded before anything is timed
        fit(ZINBWaVE(500, J, 10), CellBatches(x[:500], batch_size=256, seed=0, device=dev, validate=False), optimizer=opt, max_epochs=1, early_stopping=None, progress=False)
    runs = []
    for opt in ("adam", "newton"):
        for bs in ((256, 1024) if quick else (1024, 4096, 16384, 65536)):
            if cuda: torch.cuda.synchronize(dev); torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev) if cuda else 0
            m = ZINBWaVE(n, J, 10)
            h = fit(m, CellBatches(x, batch_size=bs, seed=0, device=dev, validate=False), optimizer=opt, max_epochs=1, lr=0.05, early_stopping=None, progress=False)
            runs.append(dict(optimizer=opt, cells_per_step=bs, sec_per_epoch=float(h.seconds.iloc[-1]), train_loss=float(h.loss.iloc[-1] if "loss" in h else h.nll.iloc[-1]),
                             peak_mb=(torch.cuda.max_memory_allocated(dev) - base) / 2**20 if cuda else None))
            print(f"  {opt} {bs}: {runs[-1]}", flush=True)
            del m
    slope = {}
    for opt in ("adam", "newton"):
        r = [q for q in runs if q["optimizer"] == opt and q["peak_mb"] is not None]
        if len(r) > 1:   # least squares of peak on cells per step: bytes per cell, and per count of a cell
            b = np.polyfit([q["cells_per_step"] for q in r], [q["peak_mb"] * 2**20 for q in r], 1)[0]
            slope[opt] = dict(bytes_per_cell=float(b), bytes_per_count=float(b / J))
    del x
    return dict(cells=n, genes=J, runs=runs, memory_slope=slope, ok=all(math.isfinite(q["train_loss"]) for q in runs))


ADAM_SCALE = ((1024, 0.05), (4096, 0.05), (4096, 0.1), (16384, 0.1), (16384, 0.2), (65536, 0.2), (65536, 0.4))   # (cells per minibatch, lr)


def check_adam_scale(dev, quick, budget_s=None):
    """ZINB-WaVE by Adam at several (cells per minibatch, learning rate), each for the same wall-clock budget on the same
    simulated counts held on the device, 10% of the cells held out: the held-out NLL per cell after each epoch and the
    time it was reached. A setting is better when its curve is lower at equal time."""
    import torch
    from zinb_nb.zinbwave import ZINBWaVE
    from zinb_nb.train import fit, Callback, split_cells
    from zinb_nb.data import CellBatches
    n, J = (3_000, 100) if quick else (1_000_000, 1_000)
    budget_s = budget_s or (1.0 if quick else 30.0)
    x = _sim_counts(dev, n, J)
    valid = split_cells(n, 0.1, 0)

    fit(ZINBWaVE(500, J, 10), CellBatches(x[:500], batch_size=256, seed=0, device=dev, validate=False), max_epochs=1, early_stopping=None, progress=False)   # warm-up
    runs = []
    for bs, lr in (ADAM_SCALE[:3] if quick else ADAM_SCALE):
        bs = min(bs, n)
        if dev.type == "cuda": torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        class Stop(Callback):   # stop after the epoch that reaches the budget
            def after_epoch(self, run):
                if dev.type == "cuda": torch.cuda.synchronize(dev)
                return time.perf_counter() - t0 >= budget_s
        h = fit(ZINBWaVE(n, J, 10), CellBatches(x, batch_size=bs, seed=0, device=dev, validate=False), valid=valid, optimizer="adam", lr=lr,
                max_epochs=100_000, early_stopping=None, callbacks=[Stop()], progress=False)
        t = np.cumsum(h.seconds.to_numpy())
        runs.append(dict(cells_per_step=bs, lr=lr, epochs=int(len(h)), seconds=[float(v) for v in t], valid_nll=[float(v) for v in h.valid_nll],
                         best_valid_nll=float(np.nanmin(h.valid_nll)), sec_per_epoch=float(np.median(h.seconds))))
        print(f"  adam {bs} lr {lr}: {runs[-1]['epochs']} epochs, best held-out NLL {runs[-1]['best_valid_nll']:.3f}", flush=True)
    del x
    return dict(cells=n, genes=J, budget_s=budget_s, runs=runs, ok=all(math.isfinite(r["best_valid_nll"]) for r in runs))


if __name__ == "__main__":
    sys.exit(main())

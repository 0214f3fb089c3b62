"""ZiPo (zinb_nb.zipo) side by side with DCA's configuration of the same code, scvi-tools SCVI and MAGIC.

Run in the benchmark venv (scvi-tools and magic-impute installed, zinb_nb installed editable), one method per process
(its own peak memory), timed runs under the benchmark lock:

    . .venv-bench/bin/activate
    flock /tmp/bench.lock python benchmarks/bench_zipo.py run --dataset pbmc4k --method zipo --seed 0
    python benchmarks/bench_zipo.py all --dataset cellbench --seeds 0 1 2 3 4   # every method, each in its own process, each under the lock
    python benchmarks/bench_zipo.py table                                         # mean +- 1.64 SEM over seeds of results/zipo_*.json
    flock /tmp/bench.lock python benchmarks/bench_zipo.py core                    # log-sigmoid form vs the package's core: speed
    flock /tmp/bench.lock python benchmarks/bench_zipo.py speed                   # time per epoch at equal width vs SCVI
    python benchmarks/bench_zipo.py scale --n-cells 10000 100000 1000000          # time per epoch streaming a backed .h5ad (each size under the lock)
    python benchmarks/bench_zipo.py ablation --dataset pbmc4k                     # the paper's ablations at this machine's size (each under the lock)
    python benchmarks/bench_zipo.py ablation --dataset pbmc3k_allgenes --epochs 60 --seed 0 --names lr_1e-3_proximal_alpha_w_0.3 lr_1e-3_proximal_alpha_w_1
                                                                                  # pruning on every gene: the proximal step from 0.001 with alpha_w raised
    python benchmarks/bench_zipo.py ablation --dataset pbmc4k --seed 0 --names lr_1e-3_proximal_alpha_w_1 lr_1e-3_proximal_alpha_w_3
                                                                                  # the same on 2,000 selected genes (also cellbench, sim)
    python benchmarks/bench_zipo.py ablation --dataset pbmc4k --seed 0 --names lr_1e-3_proximal_latent_32 lr_1e-3_proximal_latent_10
                                                                                  # the default's latent narrowed to DCA's and SCVI's widths
    python benchmarks/bench_zipo.py ablation --dataset cellbench --seed 0 --names zinb_lr_1e-3_proximal_observed zinb_lr_1e-3_proximal_cp10k
                                                                                  # the ZINB fit given DCA's library and DCA's input
    python benchmarks/bench_zipo.py ablation --dataset pbmc3k_allgenes --epochs 60 --names lr_1e-3_proximal_refit
                                                                                  # the defaults refitted by least squares after the fit (`tl.zipo(refit=True)`; every dataset)
    flock /tmp/bench.lock python benchmarks/bench_zipo.py refit-solve              # that refit's solve per neuron on every gene of PBMC 3k: the package's against LU

Data. pbmc4k (4,271 cells x 2,000 genes, 8 cell groups), pbmc3k_allgenes (the 2,638 labelled cells of PBMC 3k and every gene
detected in >= 3 of them, 13,656: no selection of variable genes, for the pruning question), cellbench (499 cells, 3 cell lines, 2 technologies; genes detected in
>= 10 cells of each technology, then the 2,000 most variable log-CP10k, as benchmarks/bench_zinbwave.py) and a simulation with
known rates (zinb_nb.data.simulate_zinb: 2,000 cells x 500 genes, 5 clusters, simulation seed 0). No method is given covariates,
except "zipo_batch" (cellbench only): ZiPo with the technology, one-hot, as the paper's known covariate appended to the latent.

Molecular cross-validation (Batson et al. 2019). For seed k the counts are split by binomial thinning with p = 0.5 into a
training half x' and a test half x'' (numpy Generator seeded k). Every method is fitted on x' of 90% of the cells (the other 10%,
`zinb_nb.train.split_cells(n, 0.1, k)`, are never seen in training or model selection). Then
- held-out NLL per cell: -log p(x'_c) of the held-out cells. ZiPo and the DCA configurations are deterministic autoencoders, so
  this is a plug-in likelihood (the law the network predicts from the cell's own counts); for SCVI the comparable plug-in number
  is its reconstruction error -E_q log p(x|z) (`get_reconstruction_error`), and its importance-sampled marginal NLL
  (`get_marginal_ll`, 100 samples) is reported beside it. The marginal NLL is never below the plug-in one for the same model.
- MCV MSE: mean over all entries (every cell, every gene) of (prediction from x' - x'')^2, the prediction scaled by the
  thinning ((1 - p) / p = 1 here). Predictions: ZiPo / DCA configurations: the expected count (1 - pi) l rho (`predict`);
  SCVI: `get_normalized_expression(library_size=1)` times the cell's total count in x', as its documentation computes rates;
  MAGIC: MAGIC (default settings) on x' scaled to the median total count, scaled back by each cell's total. Beside it the score
  of no denoising, MSE(x', x''). On the simulation also the MSE against the true expected count of x', (1 - pi) mu / 2.
  Where it comes from (`mcv_mse_top_genes`): the part of that mean made by the 1, 10 and 100 genes with the largest mean
  count in x' (their squared errors summed over cells, divided by the number of all entries), and the same for no denoising.
- sparsity: fraction of ZiPo's first-layer weights that are zero after `prune(model, 1e-4)`, and the held-out NLL after it.
- clustering: `zinb_nb.cluster.kmeans` (k = number of labels, 20 restarts) on the latent of every cell (from x'): ARI, NMI. Beside
  them what the clusters follow: the R^2 of the latent on each cell's log total count, the ARI of k-means on the latent with
  that fit subtracted, and on CellBench the ARI of the clusters against the technology (`depth_diagnostics`).
- seconds per epoch of the fit, and the process's peak resident memory (ru_maxrss); every file records the CPU model (`cpu`).
DCA itself cannot be installed next to this package (it pins tensorflow < 2.5), so "DCA" here is DCA's documented default
configuration run with this package's code: encoder 64 -> bottleneck 32 -> decoder 64, ReLU, BatchNorm, ZINB with per-cell theta
and pi, input log1p of library-normalised counts, the observed library as the mean's scale, no penalties, Adam (DCA: RMSprop)
at lr 1e-3, minibatches of 32, ReduceLROnPlateau after 10 and early stopping after 15 epochs without improvement, at most 300
epochs. "DCA-128" is the same with 128-64-128, "zipDCA" the 64-32-64 configuration with the ZIP likelihood.
ZiPo: the paper's settings (hidden 256, latent 128, sigmoid, alpha_z = alpha_w = 0.1, added to the NLL per entry as in the
chapter), minibatches of 128, its schedule
(`ZiPoSchedule`), early stopping after 30 epochs without improvement, at most `--epochs` (default 150) epochs; "zipo_gelu" is the
same with GELU activations (the chapter shows why a sigmoid saturates after Adam's first step at the paper's first rate),
"zipo_zinb" the same with the ZINB likelihood, "zipo_lr1e-3" the same started at 0.001 (the paper's schedule without
its decay phase), "zipo_proximal" and "zipo_lr1e-3_proximal" the same two with `proximal=True` (the L1 part of the ratio penalty
taken by a proximal step after each Adam step, which leaves exact zeros; "zipo_lr1e-3_proximal" is `tl.zipo` at its defaults), "zipo_observed" the same with the observed total count as the library instead of the predicted one, "zipo_refined" the defaults with each cell's latent refined by 50 Adam steps on its own likelihood before the outputs (`ZiPo.refine`; its held-out NLL is the encoder's, as the defaults'), "zipo_refine_mcv" the same with the number of steps chosen by molecular cross-validation inside x' (`ZiPo.choose_refine` on 2,000 cells drawn with the seed, as `tl.zipo(refine="mcv")`; the pruned copy is refined by the same count), "zipo_posterior" the defaults with the refinement chosen for, and the prediction
scored being, each count's posterior mean given the cell's own counts of x' (`ZiPo.predict`'s `posterior`, the expected count of
a replicate measurement; `tl.zipo(refine="mcv", posterior=True)`), and "zipo_zinb_posterior" the same for the ZINB likelihood with
the log library term (the "zipo_zinb_lr1e-3_loglib" fit, without the proximal step), and "zipo_zinb_proximal_posterior" the same
with the proximal step, which is `tl.zipo(likelihood="zinb", refine="mcv", posterior=True)` (its held-out NLL is that of
`tl.zipo(likelihood="zinb")` at its defaults, and its expected count at the encoder's latents is that call's `zipo_rate`); their files also hold the MCV error of the same fit's expected count
(`mcv_mse_expected`) and of both predictions at the encoder's latents (`mcv_mse_encoder_posterior`, `mcv_mse_encoder_expected`), "zipo_batch" the same
given CellBench's technology as a covariate (its k-means ARI is on the latent U, which the covariate is appended to);
"zipo_zinb_lr1e-3" the ZINB likelihood started at 0.001, and "zipo_zinb_lr1e-3_nolib" the same without the library term
alpha_library E[(l - total count)^2] (alpha_library = 0), which on deeply sequenced cells outweighs the NLL per entry,
and "zipo_zinb_lr1e-3_loglib" the same with the term on the log scale, 0.1 E[(log l - log total count)^2] (the package's
default since it was measured; the rows with the paper's term pass library_scale="counts"). "zipo_zinb_tuned" is the loglib row with
its encoder (blocks, widths, residuals, latent width) and alpha_z, alpha_w chosen by the package's Optuna search (`tl.zipo_search`,
16 trials of at most 60 epochs, the paper's search space at this machine's widths) on the training cells, each trial scored on
the same 10% of them that early stopping uses, so the held-out cells play no part in the choice; then the chosen model is fitted
as the other rows (the search's trials, time and choice are in the file under `search`); "zipo_zinb_tuned48" the same with 48 trials.
SCVI: its defaults (n_latent 10, n_hidden 128, ZINB), max_epochs its own heuristic (400 at these sizes), with its
`early_stopping=True` on a 10% validation split of the training cells (as ZiPo holds out 10% of its training cells).
All methods run with torch.set_num_threads(1) (2 shared cores).
"""
import argparse, copy, json, os, platform, resource, subprocess, sys, time
from pathlib import Path
import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
METHODS = ("zipo", "zipo_proximal", "zipo_gelu", "zipo_lr1e-3", "zipo_lr1e-3_proximal", "zipo_observed", "zipo_zinb", "zipo_batch",
           "zipo_zinb_lr1e-3", "zipo_zinb_lr1e-3_nolib", "zipo_zinb_lr1e-3_loglib", "zipo_zinb_tuned", "zipo_zinb_tuned48", "zipo_refined", "zipo_refine_mcv", "zipo_posterior", "zipo_zinb_posterior", "zipo_zinb_proximal_posterior", "dca", "dca128", "zipdca", "scvi", "magic")
DATASETS = ("pbmc4k", "cellbench", "sim", "pbmc3k_allgenes")


# ---------------------------------------------------------------- data
def load(dataset):
    "Counts (dense float32 cells x genes), labels, and the true expected counts for the simulation (else None)."
    if dataset == "pbmc4k":
        from zinb_nb.datasets import pbmc4k
        a = pbmc4k(); return a.X.toarray().astype(np.float32), a.obs["label"].astype(str).to_numpy(), None
    if dataset == "cellbench":
        from zinb_nb.datasets import cellbench
        a = cellbench(min_cells=10); X = a.X.toarray()
        l = np.log1p(X / X.sum(1, keepdims=True) * 1e4)
        g = np.sort(np.argsort(-l.var(0))[:2000])
        return X[:, g].astype(np.float32), a.obs["label"].astype(str).to_numpy(), None
    if dataset == "pbmc3k_allgenes":
        import scipy.sparse as sp
        from zinb_nb.datasets import pbmc3k
        a = pbmc3k(labelled_only=True); X = sp.csc_matrix(a.X)
        keep = np.asarray((X > 0).sum(0)).ravel() >= 3
        return X[:, keep].toarray().astype(np.float32), a.obs["cell_type"].astype(str).to_numpy(), None
    if dataset == "sim":
        from zinb_nb.data import simulate_zinb
        a = simulate_zinb(2000, 500, n_latent=5, n_clusters=5, seed=0)
        return a.X.astype(np.float32), a.obs["label"].astype(str).to_numpy(), (1 - a.layers["true_pi"]) * a.layers["true_mu"]
    raise ValueError(dataset)


def covariates(dataset):
    "One-hot known covariates of every cell: CellBench's technology (the only data set here with a batch)."
    if dataset != "cellbench": raise ValueError(f"zipo_batch needs a data set with batches: cellbench, not {dataset}")
    from zinb_nb.datasets import cellbench
    b = cellbench(min_cells=10).obs["batch"].astype("category")
    return np.eye(len(b.cat.categories), dtype=np.float32)[b.cat.codes.to_numpy()]


def thin(X, seed, p=0.5):
    "Binomial thinning: (x', x'') with x' ~ Binomial(x, p), x'' = x - x'."
    rng = np.random.default_rng(seed)
    x1 = rng.binomial(X.astype(np.int64), p).astype(np.float32)
    return x1, X - x1


def peak_mb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine():
    import torch, zinb_nb
    from _common import cpu_name
    return dict(machine=f"{platform.machine()}, {os.cpu_count()} cores", cpu=cpu_name(), torch=torch.__version__, torch_threads=torch.get_num_threads(), zinb_nb=zinb_nb.__version__,
                python=platform.python_version(), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))


# ---------------------------------------------------------------- zinb_nb models
ZIPO = dict(likelihood="zip")
CONFIGS = {
    "zipo": dict(likelihood="zip"),
    "zipo_gelu": dict(likelihood="zip", activation="gelu"),
    "zipo_zinb": dict(likelihood="zinb", alpha_library=0.1, library_scale="counts"),  # the paper's library term, E[(l - total count)^2]
    "zipo_lr1e-3": dict(likelihood="zip", _lr0=1e-3),            # the schedule from a first rate of 0.001 (no decay phase)
    "zipo_proximal": dict(likelihood="zip", proximal=True),       # the ratio's L1 part by a proximal step after each Adam step
    "zipo_lr1e-3_proximal": dict(likelihood="zip", proximal=True, _lr0=1e-3),
    "zipo_observed": dict(likelihood="zip", library="observed"),  # the cell's total count as its library (DCA's choice)
    "zipo_batch": dict(likelihood="zip"),                          # with the technology as a known covariate (cellbench)
    "zipo_zinb_lr1e-3": dict(likelihood="zinb", _lr0=1e-3, alpha_library=0.1, library_scale="counts"),  # ZINB from 0.001, the paper's library term
    "zipo_zinb_lr1e-3_nolib": dict(likelihood="zinb", _lr0=1e-3, alpha_library=0.),  # the same without the library term
    "zipo_zinb_lr1e-3_loglib": dict(likelihood="zinb", _lr0=1e-3, alpha_library=0.1, library_scale="log"),  # the term on the log scale
    "zipo_refined": dict(likelihood="zip", proximal=True, _lr0=1e-3, _refine=50),  # the defaults, each cell's latent refined 50 steps (`ZiPo.refine`)
    "zipo_refine_mcv": dict(likelihood="zip", proximal=True, _lr0=1e-3, _refine="mcv"),  # the same, the steps chosen by `ZiPo.choose_refine` as `tl.zipo(refine="mcv")` does
    "zipo_posterior": dict(likelihood="zip", proximal=True, _lr0=1e-3, _refine="mcv", _output="posterior"),  # the defaults, refined for and predicting the posterior (`tl.zipo(refine="mcv", posterior=True)`)
    "zipo_zinb_posterior": dict(likelihood="zinb", _lr0=1e-3, alpha_library=0.1, library_scale="log", _refine="mcv", _output="posterior"),  # the loglib row, the same
    "zipo_zinb_proximal_posterior": dict(likelihood="zinb", proximal=True, _lr0=1e-3, alpha_library=0.1, library_scale="log", _refine="mcv", _output="posterior"),  # the same with the proximal step: `tl.zipo(likelihood="zinb", refine="mcv", posterior=True)`
    "zipo_zinb_tuned": dict(likelihood="zinb", _lr0=1e-3, alpha_library=0.1, library_scale="log", _search=16),  # the loglib row, its encoder and alphas chosen by `tl.zipo_search` (16 trials) on the training cells
    "zipo_zinb_tuned48": dict(likelihood="zinb", _lr0=1e-3, alpha_library=0.1, library_scale="log", _search=48),  # the same with 48 trials
    "dca": dict(likelihood="zinb", hidden=(64,), n_latent=32, decoder_hidden=(64,), activation="relu", library="observed",
                input="log1p_cp10k", alpha_z=0., alpha_w=0., alpha_theta=0., alpha_library=0.),
    "dca128": dict(likelihood="zinb", hidden=(128,), n_latent=64, decoder_hidden=(128,), activation="relu", library="observed",
                   input="log1p_cp10k", alpha_z=0., alpha_w=0., alpha_theta=0., alpha_library=0.),
    "zipdca": dict(likelihood="zip", hidden=(64,), n_latent=32, decoder_hidden=(64,), activation="relu", library="observed",
                   input="log1p_cp10k", alpha_z=0., alpha_w=0., alpha_theta=0., alpha_library=0.),
}


def fit_ours(x_train, seed, config, dca=False, epochs=150, C_train=None):
    "Fit a ZiPo (or a DCA configuration) on the training cells' x' (with their covariates C_train, if any); returns the model and its history."
    import torch
    from zinb_nb.zipo import ZiPo, ZiPoConfig, ZiPoSchedule, init_library
    from zinb_nb.train import fit, split_cells, EarlyStopping, LRSchedule
    from zinb_nb.data import CellBatches
    config = dict(config); lr0 = config.pop("_lr0", 0.0212)     # "_lr0": the first rate of ZiPo's schedule (an ablation)
    config.pop("_refine", None)                                  # "_refine": steps of `ZiPo.refine` for the outputs, not a setting of the fit
    config.pop("_output", None)                                  # "_output": which prediction is scored ("posterior": `ZiPo.predict`'s posterior), not a setting of the fit
    config.pop("_gradual", None)                                 # "_gradual": a fraction to prune to after the fit, with retraining (`gradual_prune`)
    config.pop("_prune_to", None)                                # "_prune_to": the same by the package's `zipo.prune_gradually` (`tl.zipo(prune_to=...)`)
    config.pop("_prune_ramp", None); config.pop("_prune_lr", None)   # "_prune_ramp", "_prune_lr": `prune_gradually`'s ramp and rate, if not its defaults
    config.pop("_prune_confidence", None)                        # "_prune_confidence": `prune_largest`'s confidence, if not its default
    config.pop("_prune_reconstruct", None)                       # "_prune_reconstruct": `prune_gradually(reconstruct=True)` (`tl.zipo(prune_reconstruct=True)`)
    config.pop("_prune_scope", None)                             # "_prune_scope": `prune_gradually(scope=...)` (`tl.zipo(prune_scope=...)`)
    config.pop("_refit", None)                                   # "_refit": `zipo.refit_lstsq` after the fit (`tl.zipo(refit=True)`)
    n_trials, search = config.pop("_search", 0), None                # "_search": trials of `tl.zipo_search` on these cells before the fit
    if n_trials:
        search = zipo_search_settings(x_train, seed, config, lr0, n_trials)
        config.update(search["settings"])
    torch.manual_seed(seed)
    model = init_library(ZiPo(x_train.shape[1], 0 if C_train is None else C_train.shape[1], config=ZiPoConfig(**config)), x_train.sum(1))
    if C_train is not None: model.set_covariates(C_train)
    valid = split_cells(len(x_train), 0.1, seed)      # early stopping on 10% of the training cells
    if dca:
        sched = LRSchedule(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.1, patience=10))
        h = fit(model, CellBatches(x_train, batch_size=32, seed=seed, device="cpu"), valid=valid, lr=1e-3, max_epochs=300,
                early_stopping=EarlyStopping(15), callbacks=[sched], progress=False)
    else:
        h = fit(model, CellBatches(x_train, batch_size=128, seed=seed, device="cpu"), valid=valid, lr=lr0, max_epochs=epochs,
                early_stopping=EarlyStopping(30), callbacks=[ZiPoSchedule(lr0=lr0, lr_min=min(lr0, 1e-3))], progress=False)
    model.search = search
    return model, h


def gradual_prune(model, x_train, seed, fraction, ramp=40, after=60, lr=1e-3, patience=30):
    """Gradual magnitude pruning with retraining (Zhu & Gupta 2017), after the fit, by the measure `prune` uses: the package's
    `zipo.GradualPruning` schedule (over `ramp` epochs the fraction of zero first-layer weights rises on a cubic schedule from the
    fit's own to `fraction`, the zeros restored after every Adam step), but at the end of each epoch the weights smallest relative
    to their neuron's largest |w| go, counted over the whole layer, and the ratio penalty stays on; then up to `after` epochs more.
    Early stopping on the same 10% of the training cells as the fit counts only the epochs after the ramp, and ends with the best
    of them. Returns the history of this phase. (`zipo.prune_gradually` is the package's road: `tl.zipo(prune_to=...)`.)"""
    import torch
    from zinb_nb.zipo import GradualPruning
    from zinb_nb.train import fit, split_cells, EarlyStopping
    from zinb_nb.data import CellBatches

    def prune_to(W, f):                  # zero the fraction f of W's weights that are smallest relative to their neuron's largest
        r = W.abs() / W.abs().amax(1, keepdim=True).clamp_min(torch.finfo(W.dtype).tiny)
        k = int(round(f * r.numel()))
        if k: W[r <= r.reshape(-1).kthvalue(k).values] = 0.

    class Relative(GradualPruning):
        def after_epoch(self, run):
            if run.epoch > self.ramp: return
            W = run.model.first_layer.weight
            with torch.no_grad(): prune_to(W, self.target(run.epoch))
            self.mask = (W != 0).to(W.dtype)

    valid = split_cells(len(x_train), 0.1, seed)
    return fit(model, CellBatches(x_train, batch_size=128, seed=seed, device="cpu"), valid=valid, lr=lr, max_epochs=ramp + after,
               early_stopping=EarlyStopping(patience, warmup=ramp), callbacks=[Relative(fraction, ramp)], progress=False)


def zipo_search_settings(x_train, seed, config, lr0, n_trials):
    """`tl.zipo_search` on the training cells (its trials scored on the same 10% of them that the fit's early stopping uses; the
    held-out cells are never seen), 60 epochs per trial; the best trial's encoder and alphas as `ZiPoConfig` settings."""
    import anndata as ad, optuna, scipy.sparse as sp
    from zinb_nb import tl
    from zinb_nb.tl import _zipo_trial_settings
    t0 = time.perf_counter()
    study = tl.zipo_search(ad.AnnData(sp.csr_matrix(x_train)), n_trials=n_trials, likelihood=config["likelihood"], max_epochs=60, lr=lr0,
                           proximal=config.get("proximal", False), valid_frac=0.1, seed=seed, device="cpu")
    settings = _zipo_trial_settings(optuna.trial.FixedTrial(study.best_params))
    return dict(settings=settings, best_params=dict(study.best_params), best_value=float(study.best_value),
                values=[t.value for t in study.trials], seconds=time.perf_counter() - t0)


def ours_outputs(model, x, C=None, refine=0):
    "Latent, expected count and rate of every cell, in evaluation mode, 512 cells at a time (each latent refined `refine` steps)."
    import torch
    cov = lambda a: None if C is None else torch.as_tensor(C[a:a + 512])
    outs = [model.predict(torch.as_tensor(x[a:a + 512]), cov(a), refine=refine) for a in range(0, len(x), 512)]
    return {k: torch.cat([o[k] for o in outs]).numpy() for k in ("latent", "expected", "rate", "library", "posterior")}


def nll_ours(model, x, C=None):
    "Mean per-cell NLL in evaluation mode (what `loss(held_out=True)` records), 512 cells at a time."
    import torch
    was = model.training; model.eval()
    with torch.no_grad():
        out = [model.nll(torch.as_tensor(x[a:a + 512]), None if C is None else torch.as_tensor(C[a:a + 512])).numpy() for a in range(0, len(x), 512)]
    model.train(was)
    return float(np.mean(np.concatenate(out)))


def run_ours(method, x1, held, seed, epochs, config=None, C=None):
    config = dict(CONFIGS[method] if config is None else config)
    t0 = time.perf_counter()
    model, h = fit_ours(x1[~held], seed, config, dca=method.startswith(("dca", "zipdca")), epochs=epochs, C_train=None if C is None else C[~held])
    secs, search = time.perf_counter() - t0, getattr(model, "search", None)
    if search is not None: secs -= search["seconds"]                  # the fit alone; the search's time is recorded with it
    from zinb_nb.zipo import prune, sparsity
    dense, gradual, refit = None, None, None
    if config.get("_refit"):             # what tl.zipo(refit=True) does after its fit, before any pruning: the least-squares refit, kept where the validation cells' NLL falls
        import torch
        from zinb_nb.zipo import refit_lstsq
        from zinb_nb.train import split_cells
        from zinb_nb.data import CellBatches
        before, pre = nll_ours(model, x1[held], None if C is None else C[held]), ours_outputs(model, x1, C, 0)["expected"]   # the fit's held-out NLL and expected count before the refit
        t3 = time.perf_counter()
        r = refit_lstsq(model, CellBatches(x1[~held], batch_size=128, seed=seed, device="cpu"), torch.as_tensor(split_cells(int((~held).sum()), 0.1, seed)))
        refit = dict(kept=r["kept"], ridge_next=r["ridge_next"], valid_nll_before=r["valid_nll_before"], valid_nll_after=r["valid_nll_after"],
                     valid_nll={str(k): v for k, v in r["valid_nll"].items()}, heldout_nll_before=before, seconds=time.perf_counter() - t3)
    if config.get("_gradual") or config.get("_prune_to"):   # pruned to that fraction with retraining: every score below is the pruned model's
        several = isinstance(config.get("_prune_to"), (list, tuple))   # tl.zipo(prune_to=[...]): the largest fraction within 0.5% on the validation cells (at `_prune_confidence`, else the package's default)
        dense, sp0, t2 = nll_ours(model, x1[held], None if C is None else C[held]), sparsity(model), time.perf_counter()
        if config.get("_gradual"): hg = gradual_prune(model, x1[~held], seed, config["_gradual"])
        else:                            # what tl.zipo(prune_to=...) does after its fit: the same validation cells, the defaults of prune_gradually
            from zinb_nb.zipo import prune_gradually, prune_largest
            from zinb_nb.train import split_cells
            from zinb_nb.data import CellBatches
            data_t, valid_t = CellBatches(x1[~held], batch_size=128, seed=seed, device="cpu"), split_cells(int((~held).sum()), 0.1, seed)
            if config.get("_prune_reconstruct"):   # the control: the same least-squares refit without pruning (fraction 0), so the pruning's own cost can be read off
                import torch
                from zinb_nb.zipo import prune_reconstruct
                m0 = copy.deepcopy(model); v0 = torch.as_tensor(valid_t)
                r0 = prune_reconstruct(m0, data_t, 0., cells=~v0, valid=v0)
                control = dict(heldout_nll=nll_ours(m0, x1[held], None if C is None else C[held]), ridge_next=r0["ridge_next"])
                del m0
            hg = (prune_largest if several else prune_gradually)(model, data_t, config["_prune_to"], valid=valid_t, progress=False,
                                 **{k: config[f"_prune_{k}"] for k in ("ramp", "lr", "confidence", "reconstruct", "scope") if f"_prune_{k}" in config})
        gradual = dict(fraction=config.get("_gradual") or config["_prune_to"], sparsity_before=sp0, epochs=int(len(hg)),
                       seconds=time.perf_counter() - t2, valid_nll=hg.valid_nll.tolist(), road="gradual_prune" if config.get("_gradual") else "prune_largest" if several else "prune_gradually")
        gradual.update(hg.attrs)         # prune_gradually: which model it kept and each candidate's held-out NLL; prune_largest: also the fraction kept, every one tried and its validation NLL
        if config.get("_prune_reconstruct"): gradual["unpruned_refitted"] = control   # the held-out NLL of the unpruned fit refitted by least squares (fraction 0)
    refine, choice, output = config.get("_refine", 0), None, config.get("_output", "expected")
    t1 = time.perf_counter()
    if refine == "mcv":                  # as `tl.zipo(refine="mcv")`: 2,000 cells of x' drawn with the seed, thinned again inside
        import torch
        train_cells = np.flatnonzero(~held)                          # the choice reads training cells only (the rows stored before this line drew from every cell)
        pick = np.sort(np.random.default_rng(seed).choice(train_cells, min(2000, len(train_cells)), replace=False))
        choice = model.choose_refine(torch.as_tensor(x1[pick]), None if C is None else torch.as_tensor(C[pick]), seed=seed, output=output)
        refine = choice["steps"]
    o = ours_outputs(model, x1, C, refine); out_secs = time.perf_counter() - t1
    res = dict(fit_seconds=secs, output_seconds=out_secs, epochs=int(len(h)), sec_per_epoch=secs / len(h),
               **({"search": search, "search_seconds": search["seconds"]} if search is not None else {}), heldout_nll=nll_ours(model, x1[held], None if C is None else C[held]),
               heldout_nll_kind="plug-in: -log p(x' | parameters the network predicts from x')", config={k: list(v) if isinstance(v, tuple) else v for k, v in config.items()},
               curve=dict(valid_nll=h.valid_nll.tolist(), nll=h.nll.tolist()), sparsity_trained=sparsity(model),
               objective="NLL per entry + penalties (zinb_nb.zipo.ZiPo.loss)")
    if choice is not None: res["refine_choice"] = choice       # the grid, its inner scores and the steps taken (also for the pruned copy)
    if dense is not None: res.update(heldout_nll_dense=dense, gradual=gradual)
    if refit is not None: res["refit"] = refit       # heldout_nll (and every score) is the refitted model's where kept; refit.heldout_nll_before the fit's
    if model.config.library == "predicted":          # does the library the model predicts follow the observed total count?
        tot = x1.sum(1); keep = tot > 0
        res["library_log_corr"] = float(np.corrcoef(np.log(o["library"][keep]), np.log(tot[keep]))[0, 1])
    pruned = copy.deepcopy(model); res["sparsity_pruned"] = prune(pruned, 1e-4)
    res["heldout_nll_pruned"] = nll_ours(pruned, x1[held], None if C is None else C[held])
    po = ours_outputs(pruned, x1, C, refine)
    extra = dict(rate=o["rate"], expected_pruned=po[output])
    if refit is not None: extra["expected_before_refit"] = pre
    if output == "posterior":            # the same fit read the other ways: its expected count here, and both at the encoder's latents
        res["prediction"] = "posterior: E[replicate count | x'] (`ZiPo.predict`)"
        o0 = ours_outputs(model, x1, C, 0) if refine else o
        extra.update(expected=o["expected"], encoder_posterior=o0["posterior"], encoder_expected=o0["expected"])
    return res, o["latent"], o[output], extra


# ---------------------------------------------------------------- peers
def run_scvi(x1, held, seed):
    import torch, scvi, anndata as ad
    scvi.settings.seed = seed; torch.set_num_threads(1)
    tr = ad.AnnData(x1[~held].copy()); scvi.model.SCVI.setup_anndata(tr)
    m = scvi.model.SCVI(tr)
    t0 = time.perf_counter()
    m.train(accelerator="cpu", enable_progress_bar=False, early_stopping=True, train_size=0.9)
    secs = time.perf_counter() - t0
    n_ep = int(m.history["elbo_train"].shape[0])
    te = ad.AnnData(x1[held].copy()); scvi.model.SCVI.setup_anndata(te)
    rec = m.get_reconstruction_error(te)
    rec = float(list(rec.values())[0]) if isinstance(rec, dict) else float(rec)
    mll = float(np.mean(-np.asarray(m.get_marginal_ll(te, n_mc_samples=100, return_mean=False))))
    full = ad.AnnData(x1.copy()); scvi.model.SCVI.setup_anndata(full)
    Z = m.get_latent_representation(full)
    rate = m.get_normalized_expression(full, library_size=1.0, return_numpy=True) * x1.sum(1, keepdims=True)   # scvi-tools' default: one draw of z per cell
    averaged = m.get_normalized_expression(full, library_size=1.0, n_samples=25, return_mean=True, return_numpy=True) * x1.sum(1, keepdims=True)   # the mean over 25 draws
    res = dict(fit_seconds=secs, epochs=n_ep, sec_per_epoch=secs / n_ep, heldout_nll=rec,
               heldout_nll_kind="reconstruction error -E_q log p(x'|z), one draw of z per cell", heldout_marginal_nll=mll, scvi_version=scvi.__version__)
    return res, Z, rate, {"averaged": averaged}


def run_magic(x1, held, seed):
    import magic
    lib = x1.sum(1, keepdims=True); med = np.median(lib)
    t0 = time.perf_counter()
    D = magic.MAGIC(random_state=seed, verbose=0, n_jobs=1).fit_transform(x1 / np.maximum(lib, 1) * med)
    secs = time.perf_counter() - t0
    return dict(fit_seconds=secs, magic_version=magic.__version__), None, np.asarray(D) / med * lib, {}


# ---------------------------------------------------------------- one run
def depth_diagnostics(Z, x1, labels, k, seed, lab, dataset):
    """What the latent's clusters follow: the share of the latent's variance that each cell's log total count explains (R^2 of
    a least-squares fit), the k-means ARI once that fit is subtracted, and on CellBench the ARI of the k-means clusters
    against the technology (CEL-seq2 or Drop-seq) instead of the cell line."""
    import torch
    from zinb_nb.cluster import kmeans, adjusted_rand_index
    Z = np.asarray(Z, dtype=np.float64); lt = np.log(np.maximum(x1.sum(1), 1.)).astype(np.float64)
    B = np.c_[np.ones_like(lt), lt]; resid = Z - B @ np.linalg.lstsq(B, Z, rcond=None)[0]
    zc = Z - Z.mean(0)
    out = dict(latent_depth_r2=float(1 - (resid ** 2).sum() / (zc ** 2).sum()),
               kmeans_ari_depth_out=adjusted_rand_index(labels, kmeans(torch.as_tensor(resid.astype(np.float32)), k, seed=seed)[1].numpy()))
    if dataset == "cellbench":
        from zinb_nb.datasets import cellbench
        out["kmeans_ari_technology"] = adjusted_rand_index(cellbench(min_cells=10).obs["batch"].astype(str).to_numpy(), lab)
    return out


def run_one(dataset, method, seed, epochs=150, config=None, tag=None):
    import torch
    torch.set_num_threads(1)
    from zinb_nb.train import split_cells
    from zinb_nb.cluster import kmeans, adjusted_rand_index, normalized_mutual_info
    X, labels, truth = load(dataset)
    x1, x2 = thin(X, seed)
    held = split_cells(len(X), 0.1, seed)
    r = dict(dataset=dataset, method=tag or method, seed=seed, n_cells=int(X.shape[0]), n_genes=int(X.shape[1]), n_heldout=int(held.sum()),
             load_before=os.getloadavg()[0], **machine())
    t0 = time.perf_counter()
    if method == "scvi": res, Z, pred, extra = run_scvi(x1, held, seed)
    elif method == "magic": res, Z, pred, extra = run_magic(x1, held, seed)
    else: res, Z, pred, extra = run_ours(method, x1, held, seed, epochs, config, C=covariates(dataset) if method == "zipo_batch" else None)
    r.update(res, load_after=os.getloadavg()[0], total_seconds=time.perf_counter() - t0)
    mse = lambda p, q: float(np.mean((p - q) ** 2))
    r.update(mcv_mse=mse(pred, x2), mcv_mse_heldout_cells=mse(pred[held], x2[held]), mcv_mse_no_denoising=mse(x1, x2))
    # where the MCV error comes from: the part of mcv_mse (a sum over all entries / their number) that the n genes with the
    # largest mean count in the training half make, for the prediction and for no denoising
    order = np.argsort(-x1.mean(0), kind="stable")
    part = lambda p, n: float(((p[:, order[:n]] - x2[:, order[:n]]) ** 2).sum() / x2.size)
    r.update(mcv_mse_top_genes={n: part(pred, n) for n in (1, 10, 100)}, mcv_mse_top_genes_no_denoising={n: part(x1, n) for n in (1, 10, 100)})
    if "rate" in extra: r["mcv_mse_rate"] = mse(extra["rate"], x2)
    if "averaged" in extra:   # SCVI: its denoised expression averaged over 25 draws of the latent, beside its default of one draw
        r["mcv_mse_averaged"] = mse(extra["averaged"], x2)
        if truth is not None: r["true_mse_averaged"] = mse(extra["averaged"], truth / 2)
    if "expected_pruned" in extra: r["mcv_mse_pruned"] = mse(extra["expected_pruned"], x2)
    if "expected_before_refit" in extra:   # the same fit's expected count before the least-squares refit (at the encoder's latents)
        r["mcv_mse_expected_before_refit"] = mse(extra["expected_before_refit"], x2)
        if truth is not None: r["true_mse_expected_before_refit"] = mse(extra["expected_before_refit"], truth / 2)
    for k in ("expected", "encoder_posterior", "encoder_expected"):   # the posterior rows: the same fit's other predictions
        if k in extra: r[f"mcv_mse_{k}"] = mse(extra[k], x2); r[f"mcv_mse_{k}_top_genes"] = {n: part(extra[k], n) for n in (1, 10, 100)}
    if truth is not None:
        r.update(true_mse=mse(pred, truth / 2), true_mse_no_denoising=mse(x1, truth / 2))
        if "rate" in extra: r["true_mse_rate"] = mse(extra["rate"], truth / 2)
    if Z is not None:
        k = len(np.unique(labels))
        lab = kmeans(torch.as_tensor(np.asarray(Z, dtype=np.float32)), k, seed=seed)[1].numpy()
        r.update(kmeans_ari=adjusted_rand_index(labels, lab), kmeans_nmi=normalized_mutual_info(labels, lab))
        r.update(depth_diagnostics(Z, x1, labels, k, seed, lab, dataset))
    r["peak_mb"] = peak_mb()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"zipo_{dataset}_{tag or method}_seed{seed}.json"
    out.write_text(json.dumps(r, indent=1))
    print(json.dumps({k: v for k, v in r.items() if k != "curve"}), flush=True)


# ---------------------------------------------------------------- table
def table():
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("zipo_*_seed*.json"))]
    cols = ["heldout_nll", "heldout_marginal_nll", "mcv_mse", "mcv_mse_no_denoising", "true_mse", "kmeans_ari", "kmeans_nmi",
            "sparsity_pruned", "heldout_nll_pruned", "sec_per_epoch", "epochs", "peak_mb"]
    def ms(v):
        v = np.asarray(v, float)
        if len(v) == 0: return ""
        e = 1.64 * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.nan
        f = (lambda a: f"{a:.4g}")
        return f"{f(v.mean())} ± {f(e)}" if len(v) > 1 else f(v.mean())
    for ds in DATASETS:
        rs = [r for r in rows if r["dataset"] == ds]
        if not rs: continue
        print(f"\n### {ds} (mean ± 1.64 SEM over seeds)\n")
        print("| method | seeds | " + " | ".join(cols) + " |"); print("|---|---|" + "---|" * len(cols))
        for m in sorted({r["method"] for r in rs if not r["method"].startswith("ablation_")}, key=lambda m: (METHODS + (m,)).index(m)):
            g = [r for r in rs if r["method"] == m]
            print(f"| {m} | {len(g)} | " + " | ".join(ms([r[c] for r in g if c in r]) for c in cols) + " |")
        abl = [r for r in rs if r["method"].startswith("ablation_")]
        if abl:
            print(f"\n{ds}: ablations (seed {abl[0]['seed']}; one seed each)\n")
            print("| variant | held-out NLL | MCV MSE | k-means ARI | sparsity pruned | held-out NLL pruned | epochs | s/epoch |"); print("|---|---|---|---|---|---|---|---|")
            for r in abl: print(f"| {r['method'][9:]} | {r['heldout_nll']:.2f} | {r['mcv_mse']:.4g} | {r.get('kmeans_ari', float('nan')):.3f} | "
                                f"{r['sparsity_pruned']:.1%} | {r['heldout_nll_pruned']:.2f} | {r['epochs']} | {r['sec_per_epoch']:.2f} |")
        # paired differences to ZiPo, same seeds
        print()
        for base in ("zipo", "zipo_gelu", "zipo_lr1e-3"):
            z = {r["seed"]: r for r in rs if r["method"] == base}
            for m in ("dca", "dca128", "zipdca", "scvi", "magic") + (("zipo_zinb", "zipo_gelu", "zipo_lr1e-3", "zipo_observed", "zipo_batch") if base == "zipo" else ()):
                g = {r["seed"]: r for r in rs if r["method"] == m}
                s = sorted(set(z) & set(g))
                for c in ("heldout_nll", "mcv_mse"):
                    d = [z[k][c] - g[k][c] for k in s if c in z[k] and c in g[k]]
                    if len(d) > 1: print(f"{ds}: {base} - {m}, {c}: {np.mean(d):+.4g} ± {1.64 * np.std(d, ddof=1) / np.sqrt(len(d)):.2g} ({len(d)} seeds, paired)")


# ---------------------------------------------------------------- the likelihood core
def core(n_cells=4096, n_genes=2000, reps=7):
    "Log-sigmoid form vs the package's zero-inflated core on a real-sized minibatch: forward + backward seconds (float32, 1 thread)."
    import torch, torch.nn.functional as F
    from zinb_nb.distributions import log_zinb, log_zip, log_poisson, _log_nb_terms, _count_plan
    torch.set_num_threads(1)
    def form(x, lp0, lpx, r): return F.logsigmoid(-r) + torch.where(x == 0, r - F.logsigmoid(r - lp0), lpx)
    g = torch.Generator().manual_seed(0)
    mu = torch.rand(n_cells, n_genes, generator=g) * 5 + 1e-3; th = torch.rand(n_genes, generator=g) * 5 + 0.1
    r = torch.randn(n_cells, n_genes, generator=g) - 2; x = torch.poisson(mu)
    fns = {"zinb core": lambda m, t, z: log_zinb(x, m, t, z), "zinb log-sigmoid": lambda m, t, z: form(x, *_log_nb_terms(x, m, t, _count_plan(x, t)), z),   # same count terms as the core
           "zip core": lambda m, t, z: log_zip(x, m, z), "zip log-sigmoid": lambda m, t, z: form(x, -m, log_poisson(x, m), z)}
    times = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            ps = [v.clone().requires_grad_() for v in (mu, th, r)]
            t0 = time.perf_counter(); f(*ps).sum().backward(); times[k].append(time.perf_counter() - t0)
    res = dict(n_cells=n_cells, n_genes=n_genes, zeros=float((x == 0).float().mean()), reps=reps,
               seconds_median={k: float(np.median(v)) for k, v in times.items()}, load=os.getloadavg()[0], **machine())
    res["ratio_logsigmoid_over_core"] = {l: res["seconds_median"][f"{l} log-sigmoid"] / res["seconds_median"][f"{l} core"] for l in ("zinb", "zip")}
    (RESULTS / "zipo_core_speed.json").write_text(json.dumps(res, indent=1)); print(json.dumps(res))


# ---------------------------------------------------------------- the least-squares refit's solve, per neuron
def refit_solve(dataset="pbmc3k_allgenes", shares=(0.05, 0.25, 0.35, 0.5, 0.65, 0.9, 1.0), neurons=6, seed=0):
    """The first layer's solve in `zipo.prune_reconstruct` / `zipo.refit_lstsq`, one neuron at a time, on the log1p counts (what
    ZiPo's first layer reads) of the training half of every gene of PBMC 3k, where the cells are fewer than the genes: the
    package's solve (Cholesky of the kept genes' covariance plus the ridge, or, where `zipo._cells_side` finds it costs fewer
    operations, a Cholesky solve of the cells' size from the centred inputs) against the two it replaced, both on the genes'
    covariance formed once (Cholesky always; before that LU, `torch.linalg.solve`), the same neurons alternated in one
    process, one thread. Each neuron keeps a random `share` of the genes and reads the same genes (as `refit_lstsq` with
    `keep_zeros=True`, where a neuron's kept genes are its nonzero ones); the first-layer weights are random (the time does not
    depend on them); two neurons at the shares above 0.35. Seconds per neuron, the largest relative difference between the
    solutions, the side the package took, and the one-time work of each road (forming the genes' covariance; H H', which the
    package forms for the first neuron solved in the cells' space that keeps more than half of the genes)."""
    import torch
    from zinb_nb.zipo import _refit_rows, _refit_rows_cells, _cells_side
    torch.set_num_threads(1)
    X, _, _ = load(dataset); x1, _ = thin(X, seed)
    h = torch.log1p(torch.as_tensor(x1, dtype=torch.float64)); n = len(h)
    m = h.mean(0); h -= m
    t0 = time.perf_counter(); C = h.T @ h / n; t_cov = time.perf_counter() - t0
    t0 = time.perf_counter(); K = h @ h.T; t_k = time.perf_counter() - t0    # H H', formed once per fit: its time is seconds_cells_gram, not a neuron's
    G, g = C.shape[0], torch.Generator().manual_seed(seed)
    def lu(A, B, ridge):             # the first solve: LU on the same matrix
        lam = ridge * A.diagonal().mean().clamp_min(torch.finfo(A.dtype).tiny)
        return torch.linalg.solve(A + lam * torch.eye(len(A), dtype=A.dtype), B)
    runs, rows = [], torch.zeros(1, dtype=torch.long)
    for share in shares:
        for k in range(neurons if share <= 0.35 else 2):
            S = (torch.rand(G, generator=g) < share).nonzero().squeeze(1)
            w = torch.zeros(1, G, dtype=torch.float64); w[0, S] = torch.randn(len(S), generator=g, dtype=torch.float64)
            t0 = time.perf_counter(); a = lu(C[S][:, S], C[S] @ w.T, 1e-2); t_lu = time.perf_counter() - t0
            t0 = time.perf_counter(); b = _refit_rows(C, w, S, rows, 1e-2).T; t_ch = time.perf_counter() - t0
            cells = _cells_side(len(S), n, G, 1e-2)
            cache = {"K": K} if 2 * len(S) > G else {}                   # as prune_reconstruct's cache after its first such neuron
            z = h @ w.T                                                   # the old pre-activations: formed once for every neuron in prune_reconstruct
            t0 = time.perf_counter()                                      # what prune_reconstruct runs
            c = _refit_rows_cells(h, z, S, rows, 1e-2, cache).T if cells else _refit_rows(C, w, S, rows, 1e-2).T
            t_pk = time.perf_counter() - t0
            runs.append(dict(share=share, genes=int(len(S)), side="cells" if cells else "genes", seconds_lu=t_lu, seconds_cholesky_covariance=t_ch,
                             seconds_package=t_pk, max_rel_diff=float((a - c).abs().max() / a.abs().max()),
                             max_rel_diff_cholesky=float((a - b).abs().max() / a.abs().max())))
            print(runs[-1], flush=True)
    res = dict(dataset=dataset, n_genes=G, n_cells=n, seed=seed, seconds_covariance=t_cov, seconds_cells_gram=t_k, runs=runs,
               load=os.getloadavg()[0], **machine())
    (RESULTS / "zipo_refit_solve.json").write_text(json.dumps(res, indent=1))


# ---------------------------------------------------------------- time per epoch at equal width
def speed(epochs=10, seed=0):
    "ZiPo with SCVI's width (one hidden block of 128, latent 10, ZINB) vs SCVI defaults on PBMC 4k: seconds per epoch, batch 128."
    import torch, anndata as ad, scvi
    from zinb_nb.zipo import ZiPo, init_library
    from zinb_nb.train import fit
    from zinb_nb.data import CellBatches
    torch.set_num_threads(1)
    X, _, _ = load("pbmc4k")
    out = dict(epochs=epochs, n_cells=len(X), n_genes=X.shape[1], load_before=os.getloadavg()[0], **machine())
    for lik in ("zinb", "zip"):
        torch.manual_seed(seed)
        m = init_library(ZiPo(X.shape[1], likelihood=lik, hidden=(128,), n_latent=10), X.sum(1))
        t0 = time.perf_counter(); fit(m, CellBatches(X, batch_size=128, seed=seed, device="cpu"), lr=1e-3, max_epochs=epochs, early_stopping=None, progress=False)
        out[f"zipo_{lik}_128_10_sec_per_epoch"] = (time.perf_counter() - t0) / epochs
    a = ad.AnnData(X.copy()); scvi.model.SCVI.setup_anndata(a); scvi.settings.seed = seed; torch.set_num_threads(1)
    s = scvi.model.SCVI(a)
    t0 = time.perf_counter(); s.train(max_epochs=epochs, train_size=1.0, accelerator="cpu", enable_progress_bar=False, batch_size=128)
    out["scvi_128_10_sec_per_epoch"] = (time.perf_counter() - t0) / epochs
    out["load_after"] = os.getloadavg()[0]; out["scvi_version"] = scvi.__version__
    (RESULTS / "zipo_speed_equal_width.json").write_text(json.dumps(out, indent=1)); print(json.dumps(out))


# ---------------------------------------------------------------- scale
def scale(n_cells_list, n_genes=1000, workdir="/tmp/zipo_scale"):
    "One epoch of ZiPo streaming a backed .h5ad per size, each size in a fresh process; the files are written first."
    sys.path.insert(0, str(HERE)); from bench_zinbwave import write_sim
    Path(workdir).mkdir(exist_ok=True)
    out = []
    for n in n_cells_list:
        p = Path(workdir) / f"sim_{n}x{n_genes}.h5ad"
        if not p.exists(): write_sim(p, n, n_genes)
        r = subprocess.run(["flock", "/tmp/bench.lock", sys.executable, __file__, "scale-one", "--n-cells", str(n), "--workdir", workdir], check=True, capture_output=True, text=True)
        out.append(json.loads(r.stdout.strip().splitlines()[-1])); print(json.dumps(out[-1]), flush=True)
    for a, b in zip(out, out[1:]):
        print(f"{a['n_cells']:,} -> {b['n_cells']:,} cells: time per epoch x{b['seconds_per_epoch'] / a['seconds_per_epoch']:.1f}; peak RSS {a['peak_mb']:.0f} -> {b['peak_mb']:.0f} MB")
    (RESULTS / f"zipo_scale_{'_'.join(map(str, n_cells_list))}.json").write_text(json.dumps(dict(kind="scale", runs=out), indent=1))


def scale_one(n, workdir, n_genes=1000, batch_size=256):
    import torch
    from zinb_nb.zipo import ZiPo
    from zinb_nb.train import fit
    from zinb_nb.data import CellBatches
    torch.set_num_threads(1)
    dl = CellBatches(str(Path(workdir) / f"sim_{n}x{n_genes}.h5ad"), batch_size=batch_size, seed=0, device="cpu")
    torch.manual_seed(0); m = ZiPo(n_genes)
    with torch.no_grad(): m.library_head[-1].bias.fill_(float(np.log(500.)))
    t0 = time.perf_counter()
    h = fit(m, dl, lr=0.0212, max_epochs=1, early_stopping=None, progress=False)
    r = dict(n_cells=n, n_genes=n_genes, batch_size=batch_size, seconds_per_epoch=time.perf_counter() - t0, peak_mb=peak_mb(),
             nll=float(h.nll.iloc[-1]), load=os.getloadavg()[0], model="ZiPo defaults (ZIP, hidden 256, latent 128)", **machine())
    print(json.dumps(r))


# ---------------------------------------------------------------- ablations
ABLATIONS = {
    "paper": {},
    "width_64": dict(hidden=(64,)), "width_1024": dict(hidden=(1024,)),
    "latent_16": dict(n_latent=16), "latent_512": dict(n_latent=512),
    "two_blocks": dict(hidden=(256, 256)), "two_blocks_residual": dict(hidden=(256, 256), residual=True),
    "no_batchnorm": dict(batchnorm=False),
    "alpha_z_0": dict(alpha_z=0.), "alpha_z_1": dict(alpha_z=1.),
    "alpha_w_0": dict(alpha_w=0.), "alpha_w_1": dict(alpha_w=1.),
    "zinb": dict(likelihood="zinb", alpha_library=0.1, library_scale="counts"), "deep_decoder": dict(decoder_hidden=(256,)),
    "gelu": dict(activation="gelu"), "relu": dict(activation="relu"), "lr_1e-3": dict(_lr0=1e-3),
    # the pruning question (on every gene, pbmc3k_allgenes, and on the other three): method zipo_lr1e-3_proximal (alpha_w = 0.1) with alpha_w raised
    "lr_1e-3_proximal_alpha_w_0.3": dict(_lr0=1e-3, proximal=True, alpha_w=0.3),
    "lr_1e-3_proximal_alpha_w_1": dict(_lr0=1e-3, proximal=True, alpha_w=1.),
    "lr_1e-3_proximal_alpha_w_3": dict(_lr0=1e-3, proximal=True, alpha_w=3.),     # (PBMC 4k, CellBench, the simulation: whether 95% is reached there)
    # why the default (zipo_lr1e-3_proximal) clusters PBMC 4k below DCA and SCVI: its latent narrowed to DCA's 32 and to SCVI's 10
    "lr_1e-3_proximal_latent_32": dict(_lr0=1e-3, proximal=True, n_latent=32),
    "lr_1e-3_proximal_latent_10": dict(_lr0=1e-3, proximal=True, n_latent=10),
    # where the default's MCV error comes from: the same with the cell's observed total count as its library (as DCA and SCVI)
    "lr_1e-3_proximal_observed": dict(_lr0=1e-3, proximal=True, library="observed"),
    # where the ZINB fit at the defaults (`tl.zipo(likelihood="zinb")`) loses held-out NLL to the DCA configuration (CellBench): the
    # observed total count as the library, as DCA's; and the encoder reading log1p of counts per 10,000, as DCA's
    "zinb_lr_1e-3_proximal_observed": dict(likelihood="zinb", _lr0=1e-3, proximal=True, alpha_library=0.1, library_scale="log", library="observed"),
    "zinb_lr_1e-3_proximal_cp10k": dict(likelihood="zinb", _lr0=1e-3, proximal=True, alpha_library=0.1, library_scale="log", input="log1p_cp10k"),
    # the posterior of that observed-library fit: `tl.zipo(likelihood="zinb", library="observed", refine="mcv", posterior=True)`
    "zinb_lr_1e-3_proximal_observed_posterior": dict(likelihood="zinb", _lr0=1e-3, proximal=True, alpha_library=0.1, library_scale="log",
                                                     library="observed", _refine="mcv", _output="posterior"),
    # the pruning target by another road: the defaults' fit pruned to 95% of the first layer gradually, with retraining (`gradual_prune`)
    "lr_1e-3_proximal_gradual_0.95": dict(_lr0=1e-3, proximal=True, _gradual=0.95),
    # the same target by the package's road: `tl.zipo(prune_to=0.95)` (`zipo.prune_gradually`: each neuron the same share, weights
    # scored by |w| times the RMS of their gene's input, the ratio penalty off while retraining)
    "lr_1e-3_proximal_prune_to_0.95": dict(_lr0=1e-3, proximal=True, _prune_to=0.95),
    "lr_1e-3_proximal_prune_to_0.98": dict(_lr0=1e-3, proximal=True, _prune_to=0.98),   # the paper's 98%
    # `tl.zipo(prune_to=[0.95, 0.98])` (`zipo.prune_largest`): 98% where its validation NLL is within 0.5% of the unpruned fit's, else 95%;
    # here by the mean change on the validation cells alone (`confidence=0.5`, the rule before the confidence bound) ...
    "lr_1e-3_proximal_prune_to_0.95_or_0.98": dict(_lr0=1e-3, proximal=True, _prune_to=[0.95, 0.98], _prune_confidence=0.5),
    # ... and at the package's default, the one-sided 95% upper bound of the mean change within 0.5%
    "lr_1e-3_proximal_prune_to_0.95_or_0.98_bound": dict(_lr0=1e-3, proximal=True, _prune_to=[0.95, 0.98]),
    # the same fraction pruned at once (a ramp of one epoch) and retrained at 1e-4: on every gene of PBMC 3k the default
    # retraining at 1e-3 overfits (`zipo.prune_gradually(model, data, 0.95, ramp=1, lr=1e-4)`)
    "lr_1e-3_proximal_prune_to_0.95_at_once_1e-4": dict(_lr0=1e-3, proximal=True, _prune_to=0.95, _prune_ramp=1, _prune_lr=1e-4),
    # the same for the ZINB fit of `tl.zipo(likelihood="zinb", prune_to=0.95)`, on CellBench where that fit trails DCA's held-out NLL
    "zinb_lr_1e-3_proximal_prune_to_0.95": dict(likelihood="zinb", _lr0=1e-3, proximal=True, alpha_library=0.1, library_scale="log", _prune_to=0.95),
    # every target at once, by one setting: `tl.zipo(likelihood="zinb", library="observed", refine="mcv", posterior=True, prune_to=[0.95, 0.98])`,
    # the pruned model's held-out NLL and posterior scored against the peers
    "zinb_lr_1e-3_proximal_observed_posterior_prune_to_0.95_or_0.98_bound": dict(likelihood="zinb", _lr0=1e-3, proximal=True, alpha_library=0.1,
                                     library_scale="log", library="observed", _refine="mcv", _output="posterior", _prune_to=[0.95, 0.98]),
    # the same, pruned at once and refitted by least squares before the retraining: `tl.zipo(..., prune_to=[0.95, 0.98], prune_reconstruct=True)`
    "zinb_lr_1e-3_proximal_observed_posterior_prune_to_0.95_or_0.98_reconstruct": dict(likelihood="zinb", _lr0=1e-3, proximal=True, alpha_library=0.1,
                                     library_scale="log", library="observed", _refine="mcv", _output="posterior", _prune_to=[0.95, 0.98], _prune_reconstruct=True),
    # the same, the fraction shared over the whole first layer (each weight's score relative to its neuron's), not alike in every neuron: `prune_scope="layer"`
    "zinb_lr_1e-3_proximal_observed_posterior_prune_to_0.95_or_0.98_reconstruct_layer": dict(likelihood="zinb", _lr0=1e-3, proximal=True, alpha_library=0.1,
                                     library_scale="log", library="observed", _refine="mcv", _output="posterior", _prune_to=[0.95, 0.98], _prune_reconstruct=True,
                                     _prune_scope="layer"),
    # the least-squares refit after the fit, nothing pruned (`tl.zipo(refit=True)`, `zipo.refit_lstsq`): the defaults, and the ZINB fit with the observed library read by its posterior
    "lr_1e-3_proximal_refit": dict(_lr0=1e-3, proximal=True, _refit=True),
    "zinb_lr_1e-3_proximal_observed_posterior_refit": dict(likelihood="zinb", _lr0=1e-3, proximal=True, alpha_library=0.1, library_scale="log",
                                                           library="observed", _refine="mcv", _output="posterior", _refit=True),
}


def ablation(dataset, seed=0, epochs=150, names=None):
    for name in names or ABLATIONS:
        cfg = dict(CONFIGS["zipo"], **ABLATIONS[name])
        subprocess.run(["flock", "/tmp/bench.lock", sys.executable, __file__, "run-config", "--dataset", dataset, "--seed", str(seed), "--epochs", str(epochs),
                        "--tag", f"ablation_{name}", "--config", json.dumps(cfg)], check=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run", "run-config", "all", "table", "core", "speed", "scale", "scale-one", "ablation", "refit-solve"])
    ap.add_argument("--dataset", default="pbmc4k", choices=DATASETS)
    ap.add_argument("--method", default="zipo", choices=METHODS)
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--epochs", type=int, default=150, help="ZiPo: max epochs (early stopping after 30 without improvement)")
    ap.add_argument("--n-cells", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--workdir", default="/tmp/zipo_scale")
    ap.add_argument("--tag"); ap.add_argument("--config"); ap.add_argument("--names", nargs="+")
    ap.add_argument("--skip-existing", action="store_true", help="all: skip runs whose result file exists")
    a = ap.parse_args()
    if a.cmd == "run": run_one(a.dataset, a.method, a.seed, a.epochs, tag=a.tag)   # --tag: the row's own name (e.g. a peer re-run beside its stored row)
    elif a.cmd == "run-config": run_one(a.dataset, "zipo", a.seed, a.epochs, config=json.loads(a.config), tag=a.tag)
    elif a.cmd == "all":
        for s in a.seeds:
            for m in a.methods:
                if a.skip_existing and (RESULTS / f"zipo_{a.dataset}_{m}_seed{s}.json").exists(): continue
                subprocess.run(["flock", "/tmp/bench.lock", sys.executable, __file__, "run", "--dataset", a.dataset, "--method", m,
                                "--seed", str(s), "--epochs", str(a.epochs)], check=True)
        table()
    elif a.cmd == "table": table()
    elif a.cmd == "core": core()
    elif a.cmd == "speed": speed()
    elif a.cmd == "refit-solve": refit_solve(seed=a.seed)
    elif a.cmd == "scale": scale(a.n_cells, workdir=a.workdir)
    elif a.cmd == "scale-one": scale_one(a.n_cells[0], a.workdir)
    else: ablation(a.dataset, a.seed, a.epochs, a.names)

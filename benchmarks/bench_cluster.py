"""Clustering on every labelled dataset bundled with zinb_nb: ZINB-WaVE and the GMVAE against SCVI + k-means.

    python benchmarks/bench_cluster.py run --dataset pbmc4k --seed 0     # all methods, one dataset, one seed
    python benchmarks/bench_cluster.py run --dataset all --seed 0        # the seven datasets in turn
    python benchmarks/bench_cluster.py gpu                               # on a CUDA machine: ZINB-WaVE and SCVI-50 on PBMC 4k, seeds 0-2
    python benchmarks/bench_cluster.py gpu --dataset pbmc3k cellbench --settings zinbwave zinbwave_newton_b16384   # two datasets, two settings

`gpu` writes benchmarks/results/gpu_cluster_<dataset>.json per dataset named (the settings of GPU_ZINBWAVE named by `--settings`, all by default, and SCVI for 50 epochs, on one GPU).
Each (dataset, method, seed) of `run` writes benchmarks/results/cluster_<dataset>_<method>_seed<seed>.json; `report.py` builds the
README table from them. Datasets: PBMC 4k, PBMC 3k (the 2,638 labelled cells), human kidney, mouse bladder, worm
neurons, CellBench (CEL-seq2 + Drop-seq, three cell lines), CellBench's five cell lines on three CEL-seq2 plates
(every cell, doublet calls included, as the loaders return them). Every method sees the same cells and genes: datasets with
more than 2,500 genes keep the 2,000 most variable by scanpy's `highly_variable_genes(flavor="seurat_v3")` on the
counts (the selection scvi-tools recommends; where its loess fit fails, as on the very sparse worm neurons, with a wider
`span`, recorded as `hvg_span`); genes or cells left with no count are dropped. k = the number of labels.

- ZINB-WaVE: `zinb_nb.tl.zinbwave` at its defaults (K = 10 latents, the latent started from an SVD of the
  log-normalised counts, 100 epochs, early stopping); k-means on W (and on X_zinbwave_mu, below). Run only when named: `zinbwave10`, the same
  stopped after 10 epochs (`max_epochs=10`); `zinbwave_random`, the same from a random latent (`init="random"`, the
  default of earlier versions); `zinbwave_newton`, the same objective from the same start fitted by alternating Newton
  steps per gene and per cell (`optimizer="newton"`, stopped at its default `tol`); `zinbwave_newton_auto` and
  `zinbwave_auto`, Newton and Adam with the ridge on W chosen on held-out cells (`epsilon_W="auto"`: the default
  epsilon/n and ten times it, each fitted from the same start, the one with the lower NLL by molecular cross-validation on
  the held-out cells kept; the time is that of both fits and scores; the candidates' MCV and best held-out NLLs in
  `epsilon_W_search`); `zinbwave_newton_kauto`, Newton's steps with the number of latent dimensions chosen too
  (`n_latent="auto"`: 10, 20 and 30, each with both ridges, six fits, the lowest MCV NLL kept; `epsilon_W_search` then
  lists every candidate with its `n_latent`). Each records its best held-out NLL
  per cell (`best_valid_nll`; a seed's held-out cells are the same for all four), the spread of the cells' own
  zero-inflation intercepts (`gamma_pi_sd`), the correlation of |W_i| with the log library size (`corr_W_norm_log_library`)
  and the two ridges on W and the loadings per training cell at the end, beside their minimum over the invertible maps
  W B, B^-1 alpha that leave the likelihood unchanged (`ridge_pair_per_cell`, `ridge_pair_min_per_cell`); and the
  same scores for k-means on `obsm["X_zinbwave_mu"]` (the principal components of W alpha_mu, whose distances do not
  depend on that map: `kmeans_ARI_mu`, `kmeans_NMI_mu`, `silhouette_mu`).
- GMVAE: `zinb_nb.tl.vae(likelihood="nb", n_components=k)` at its defaults (400 epochs with early stopping, half of
  them with the N(0, I) prior, then the mixture started by k-means on the latent means); scored both by
  argmax q(y|x) and by k-means on the latent means. `gmvae_warmup` (run only when named): the same with SCVI's
  schedule, the KL weight rising over all 400 epochs and no early stopping. `gmvae_gmm` (run only when named): the
  defaults with the mixture started from a diagonal Gaussian mixture fitted by EM to the latent means
  (`mixture_init="gmm"`). `gmvae_auto` (run only when named): the start `cluster.choose_start` picks between the
  two without labels (`mixture_init="auto"`; the choice and its agreements in `mixture_start`). All four record the one-sample negative ELBO
  per held-out cell of the mixture stage (`valid_nll_last`, `valid_nll_best`): a seed's held-out cells are the same
  for all, so they can be compared within a seed.
- SCVI (scvi-tools): its defaults (n_latent=10, one hidden layer of 128, ZINB, KL warm-up over 400 epochs, no early
  stopping), max_epochs by its own rule min(round(20000 / n_cells * 400), 400) = 400 on every dataset here;
  `batch_key="batch"` where a dataset has more than one batch (CellBench: the technology; its five-cell-line plates: the plate; ZINB-WaVE gets the same batch covariate,
  the GMVAE the same `batch_key`, read by its decoder as SCVI's is). k-means on the latent means after 50 epochs and at the end: neither the KL warm-up (400
  epochs) nor the learning rate depends on max_epochs and there is no early stopping, so the latent after epoch 50
  of this run is the latent of a 50-epoch run (checked: `scvi50_check`).

`confusion` (run only when named; writes results/confusion_<dataset>_seed<seed>.json): which labels each method's clusters
merge or split. It fits ZINB-WaVE at its defaults (k-means on W and on X_zinbwave_mu), the GMVAE at its defaults and from the
Gaussian-mixture start (its own clusters, argmax q(y|x)) and SCVI for 50 epochs (k-means) as in their columns, and stores for each the
labels x clusters counts of the k-means run whose ARI is the median (`tables`), with the mean log total count of the
largest label's cells in the clusters it leads and in the others, and each label's (`log_total_by_label`); where the data
carry doublet calls (CellBench's `demuxlet_cls`), how many cells fall in a cluster led by another label and how many of
those are called doublets (`misplaced`); its ARIs should
equal the columns' files (the GMVAE's only on the machine that ran its column).

k-means: scikit-learn KMeans(k, n_init=10), median ARI/NMI over random_state 0, 1, 2 (`_common.cluster_metrics`).
One torch thread per process; times are wall seconds of each fit in a warm process (imports and data loading excluded).
"""
import argparse, json, os, sys, time
from pathlib import Path
import numpy as np, torch
from _common import cluster_metrics, kmeans_runs, meta, save, RESULTS

DATASETS = ("pbmc4k", "pbmc3k", "human_kidney", "mouse_bladder", "worm_neuron", "cellbench", "cellbench_5cl")
METHODS = ("zinbwave", "gmvae", "scvi")
EXTRA = ("confusion", "gmvae_warmup", "gmvae_gmm", "gmvae_auto", "scvi50", "zinbwave10", "zinbwave_random", "zinbwave_newton", "zinbwave_newton_auto", "zinbwave_auto", "zinbwave_newton_kauto")   # run only when named: the GMVAE with SCVI's KL schedule;
                                                   # SCVI trained for 50 epochs alone; ZINB-WaVE stopped after 10 epochs; ZINB-WaVE from a random latent


def load(name):
    "The dataset as AnnData with obs['label'] (and obs['batch']), on the genes every method sees."
    import scipy.sparse as sp
    from zinb_nb import datasets
    a = datasets.pbmc3k(labelled_only=True) if name == "pbmc3k" else getattr(datasets, name)()
    a.X = sp.csr_matrix(a.X, dtype=np.float32)
    a = a[:, np.asarray(a.X.sum(0)).ravel() > 0].copy()
    a.uns["hvg_span"] = None
    if a.n_vars > 2500:
        import scanpy as sc
        for span in (0.3, 0.5, 1.0):   # scanpy's default span first; its loess fails on very sparse data (worm neurons)
            try: sc.pp.highly_variable_genes(a, n_top_genes=2000, flavor="seurat_v3", span=span); break
            except ValueError as e: print(f"  seurat_v3 with span {span}: {e}; trying a wider span", flush=True)
        else: raise RuntimeError(f"{name}: seurat_v3 gene selection failed at every span")
        a.uns["hvg_span"] = span
        a = a[:, a.var["highly_variable"].to_numpy()].copy()
    a = a[np.asarray(a.X.sum(1)).ravel() > 0].copy()
    a.obs["label"] = a.obs["label"].astype(str).astype("category")
    a.obs["batch"] = a.obs["batch"].astype(str).astype("category") if "batch" in a.obs else "0"
    return a


def scores(z, labels):
    m = cluster_metrics(z, labels)
    return dict(kmeans_ARI=m["ari"], kmeans_NMI=m["nmi"], silhouette=m["asw"])


def ridge_balance(m, valid_cells):
    "The ridges on W and the loadings per training cell at the end of the fit, and after the gauge step (`ZINBWaVE.rebalance`): their minimum at the same W alpha."
    import copy
    train = np.ones(m.W.shape[0], bool); train[np.asarray(valid_cells, int)] = False; train = torch.from_numpy(train)
    def pair(q):
        e = q.epsilon
        return float(e["W"] / 2 * q.W.detach().double()[train].pow(2).sum()
                     + e["alpha"] / 2 * (q.alpha_mu.detach().double().pow(2).sum() + q.alpha_pi.detach().double().pow(2).sum())) / int(train.sum())
    balanced = copy.deepcopy(m); balanced.rebalance(train)
    return dict(ridge_pair_per_cell=pair(m), ridge_pair_min_per_cell=pair(balanced))


def run_zinbwave(a, seed, batch, max_epochs=None, init=None, optimizer=None, epsilon_W=None, n_latent=None, batch_size=None, lr=None, tol=None, device="cpu"):
    from zinb_nb import tl
    kw = {k: v for k, v in dict(max_epochs=max_epochs, init=init, optimizer=optimizer, epsilon_W=epsilon_W, n_latent=n_latent,
                                batch_size=batch_size, lr=lr, tol=tol).items() if v is not None}
    t = time.perf_counter()
    m = tl.zinbwave(a, batch_key=batch, seed=seed, device=device, progress=False, **kw)
    secs = time.perf_counter() - t
    m = m.to("cpu")   # the scores below on the CPU, whichever device fitted
    log_lib = np.log(np.asarray(a.X.sum(1)).ravel())
    return dict(seconds=secs, epochs=len(m.history), batch_size=int(a.uns["zinbwave"]["params"]["batch_size"]), n_latent=int(m.W.shape[1]), init=a.uns["zinbwave"]["params"]["init"], optimizer=a.uns["zinbwave"]["params"]["optimizer"],
                best_valid_nll=a.uns["zinbwave"]["best_valid_nll"], epsilon_W=a.uns["zinbwave"]["epsilon"]["W"],
                **({"epsilon_W_search": {k: v.tolist() for k, v in a.uns["zinbwave"]["search"].items()}} if "search" in a.uns["zinbwave"] else {}),
                gamma_pi_sd=float(a.obsm["zinbwave_gamma_pi"][:, 0].std()),    # spread of the cells' own zero-inflation intercepts
                corr_W_norm_log_library=float(np.corrcoef(np.linalg.norm(a.obsm["X_zinbwave"], axis=1), log_lib)[0, 1]),
                **ridge_balance(m, a.uns["zinbwave"]["valid_cells"]),
                **scores(a.obsm["X_zinbwave"], a.obs["label"].to_numpy()),
                **{f"{k}_mu": v for k, v in scores(a.obsm["X_zinbwave_mu"], a.obs["label"].to_numpy()).items()})   # the same fit, k-means on X_zinbwave_mu


def run_gmvae(a, seed, batch, warmup=False, mixture_init="kmeans"):
    from zinb_nb import tl
    from sklearn.metrics import adjusted_rand_score as ARI, normalized_mutual_info_score as NMI
    k = a.obs["label"].nunique(); y = a.obs["label"].to_numpy()
    kw = {}
    if warmup:   # SCVI's schedule: the KL weight rises over all 400 epochs, no early stopping
        steps = -(-round(a.n_obs * 0.9) // 128)
        kw = dict(patience=None, kl_warmup=400 * steps)
    t = time.perf_counter()
    m = tl.vae(a, likelihood="nb", n_components=k, batch_key=batch, seed=seed, device="cpu", progress=False, mixture_init=mixture_init, **kw)
    secs = time.perf_counter() - t
    c = a.obs["gmvae_cluster"].to_numpy()
    h = m.history[m.history.stage == "mixture"]
    return dict(seconds=secs, epochs=len(m.history), n_components=k, n_used_components=int(len(np.unique(c))),
                valid_nll_last=float(h.valid_nll.iloc[-1]), valid_nll_best=float(h.valid_nll.min()),
                argmax_ARI=float(ARI(y, c)), argmax_NMI=float(NMI(y, c)), **scores(a.obsm["X_vae"], y),
                **({"mixture_start": a.uns["vae"]["mixture_start"]} if "mixture_start" in a.uns["vae"] else {}))


def _scvi(a, seed, batch):
    "SCVI at its defaults on the dataset's counts (and batch), seeded: (model, its AnnData)."
    import scvi, anndata
    scvi.settings.seed = seed; torch.set_num_threads(1)
    d = anndata.AnnData(a.X.copy(), obs=a.obs[["batch"]].copy())
    scvi.model.SCVI.setup_anndata(d, batch_key=batch)
    return scvi.model.SCVI(d), d


def run_scvi(a, seed, batch, snapshot=50):
    import scvi, lightning.pytorch as pl
    m, d = _scvi(a, seed, batch)
    epochs = min(round(20000 / d.n_obs * 400), 400)
    snap = {}

    class Snapshot(pl.Callback):  # the latent means after epoch `snapshot`, in eval mode, without touching the RNG
        def on_train_epoch_end(self, trainer, module):
            if trainer.current_epoch + 1 == snapshot:
                t = time.perf_counter(); was = module.module.training; module.module.eval(); m.is_trained_ = True
                with torch.no_grad(): snap["z"] = m.get_latent_representation(d)
                module.module.train(was); m.is_trained_ = False; snap["seconds"] = time.perf_counter() - t

    t = time.perf_counter()
    m.train(max_epochs=epochs, accelerator="cpu", enable_progress_bar=False, callbacks=[Snapshot()])
    secs = time.perf_counter() - t - snap.get("seconds", 0.0)
    y = a.obs["label"].to_numpy()
    out = dict(scvi_version=scvi.__version__, epochs=epochs, seconds=secs, **scores(m.get_latent_representation(d), y))
    if "z" in snap: out.update({f"epoch{snapshot}_{k}": v for k, v in scores(snap["z"], y).items()},
                               **{f"epoch{snapshot}_seconds": secs * snapshot / epochs})
    return out


def scvi_version():
    import scvi
    return scvi.__version__


def scvi50_check(a, seed, batch, accelerator="cpu"):
    "SCVI trained for 50 epochs on its own: its k-means ARI should equal the epoch-50 snapshot's; its wall time is a 50-epoch fit's."
    m, d = _scvi(a, seed, batch)
    t = time.perf_counter()
    m.train(max_epochs=50, accelerator=accelerator, enable_progress_bar=False)
    secs = time.perf_counter() - t
    return dict(scvi_version=scvi_version(), epochs=50, seconds=secs, **scores(m.get_latent_representation(d), a.obs["label"].to_numpy()))


def confusion(z, labels, log_total, doublet=None):
    "The k-means run of `kmeans_runs` (as `cluster_metrics`) whose ARI is the median: its ARI and what `table_of` records of it."
    runs, aris, _ = kmeans_runs(z, labels)
    return dict(ari=float(np.median(aris)), **table_of(runs[int(np.argsort(aris)[len(aris) // 2])], labels, sorted(set(labels)), log_total, doublet))


def table_of(clusters, labels, names, log_total, doublet=None):
    "Labels x clusters counts (clusters in order of their codes); the mean log total count of the largest label's cells in the clusters it leads and in the others; with doublet calls, how many cells sit in a cluster led by another label and how many of those are called doublets."
    codes = sorted(set(clusters.tolist()))
    counts = np.array([[int(((labels == l) & (clusters == j)).sum()) for j in codes] for l in names])
    lead = dict(zip(codes, (names[i] for i in counts.argmax(0))))           # the label with most cells in each cluster
    lead_of = np.array([lead[c] for c in clusters.tolist()])
    big = names[int(counts.sum(1).argmax())]
    cells, led, away = labels == big, lead_of == big, lead_of != labels
    extra = {} if doublet is None else dict(misplaced=dict(cells=int(away.sum()), doublets=int((away & doublet).sum()),
                                                           all_doublets=int(doublet.sum()), all_cells=int(len(labels))))
    return dict(labels=names, counts=counts.tolist(), **extra,
                largest_group_log_total=dict(group=big, in_its_clusters=float(log_total[cells & led].mean()),
                                             in_other_clusters=float(log_total[cells & ~led].mean()) if (cells & ~led).any() else None))


def run_confusion(a, seed, batch):
    "Which cell types each method's clusters merge or split: ZINB-WaVE at its defaults (k-means on W and on X_zinbwave_mu), the GMVAE at its defaults and from the Gaussian-mixture start (its own clusters) and SCVI after 50 epochs (k-means), each fitted as in its column."
    from zinb_nb import tl
    y = a.obs["label"].to_numpy().astype(str); names = sorted(set(y))
    lt = np.log(np.asarray(a.X.sum(1)).ravel())
    dbl = (a.obs["demuxlet_cls"].astype(str) == "DBL").to_numpy() if "demuxlet_cls" in a.obs else None   # CellBench's SNP calls
    b = a.copy(); tl.zinbwave(b, batch_key=batch, seed=seed, device="cpu", progress=False)
    out = {"zinbwave_W": confusion(b.obsm["X_zinbwave"], y, lt, dbl), "zinbwave_mu": confusion(b.obsm["X_zinbwave_mu"], y, lt, dbl)}
    from sklearn.metrics import adjusted_rand_score
    for key, start in (("gmvae_argmax", "kmeans"), ("gmvae_gmm_argmax", "gmm")):
        b = a.copy(); torch.set_num_threads(1)
        tl.vae(b, likelihood="nb", n_components=len(names), batch_key=batch, seed=seed, device="cpu", progress=False, mixture_init=start)
        c = b.obs["gmvae_cluster"].to_numpy()
        out[key] = dict(ari=float(adjusted_rand_score(y, c)), **table_of(c, y, names, lt, dbl))
    m, d = _scvi(a, seed, batch)
    m.train(max_epochs=50, accelerator="cpu", enable_progress_bar=False)
    out["scvi50"] = confusion(m.get_latent_representation(d), y, lt, dbl)
    return dict(tables=out, log_total_by_label={l: float(lt[y == l].mean()) for l in names})


def run(args):
    torch.set_num_threads(1)
    for name in (DATASETS if args.dataset == "all" else [args.dataset]):
        a = load(name)
        batch = "batch" if a.obs["batch"].nunique() > 1 else None
        info = dict(dataset=name, seed=args.seed, n_cells=a.n_obs, n_genes=a.n_vars, n_labels=int(a.obs["label"].nunique()),
                    batch_key=batch, hvg_span=a.uns["hvg_span"])
        print(f"{name}: {a.n_obs} cells x {a.n_vars} genes, {info['n_labels']} labels, batch {batch}", flush=True)
        for method in (METHODS if args.method == "all" else [args.method]):
            out = RESULTS / (f"confusion_{name}_seed{args.seed}.json" if method == "confusion" else f"cluster_{name}_{method}_seed{args.seed}.json")
            if out.exists() and not args.force: print(f"  {method}: stored"); continue
            torch.set_num_threads(1)   # loading a dataset after another (scanpy's gene selection) can leave torch's OpenMP team at every core
            m = meta("one dataset after another in one process, one torch thread; seconds: wall time of the fit call "
                     "(warm process; imports, data loading and k-means excluded)",
                     packages=["torch", "numpy", "scikit-learn", "scanpy", "scvi-tools"])
            run_one = {"zinbwave": run_zinbwave, "gmvae": run_gmvae, "scvi": run_scvi, "scvi50": scvi50_check,
                       "gmvae_warmup": lambda *q: run_gmvae(*q, warmup=True),
                       "gmvae_gmm": lambda *q: run_gmvae(*q, mixture_init="gmm"), "gmvae_auto": lambda *q: run_gmvae(*q, mixture_init="auto"), "zinbwave10": lambda *q: run_zinbwave(*q, max_epochs=10),
                       "zinbwave_random": lambda *q: run_zinbwave(*q, init="random"), "zinbwave_newton": lambda *q: run_zinbwave(*q, optimizer="newton"),
                       "zinbwave_newton_auto": lambda *q: run_zinbwave(*q, optimizer="newton", epsilon_W="auto"),
                       "zinbwave_auto": lambda *q: run_zinbwave(*q, epsilon_W="auto"),
                       "zinbwave_newton_kauto": lambda *q: run_zinbwave(*q, optimizer="newton", epsilon_W="auto", n_latent="auto"),
                       "confusion": run_confusion}[method]
            r = run_one(a.copy(), args.seed, batch)
            print(f"  {method}: " + ", ".join(f"{k}={v:.3f}" for k, v in r.items() if isinstance(v, float)), flush=True)
            save(out.stem, {**m, **info, "method": method, **r})


# ZINB-WaVE on one GPU, in the order run: Adam at its defaults (1,024 cells per minibatch on an accelerator), at the CPU's default
# of 256 and at 4,096 (every training cell of PBMC 4k in one step); Newton's steps at their defaults (on an accelerator the block
# that a quarter of the free memory holds), in blocks of 256 and of 16,384. Each run records the size it used.
GPU_ZINBWAVE = {"zinbwave": {}, "zinbwave_b256": dict(batch_size=256), "zinbwave_b4096": dict(batch_size=4096),
                "zinbwave_newton": dict(optimizer="newton"), "zinbwave_newton_b256": dict(optimizer="newton", batch_size=256),
                "zinbwave_newton_b16384": dict(optimizer="newton", batch_size=16384)}


def gpu(args):
    """ZINB-WaVE (each setting of GPU_ZINBWAVE named in --settings) and SCVI for 50 epochs on the same GPU, the same cells and genes as
    the CPU columns, seed after seed in one warm process; one results file per dataset, written after every fit so that a run cut short
    keeps what it measured."""
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("bench_cluster gpu: no CUDA device here (torch.cuda.is_available() is False); --device cpu --quick runs it on a CPU")
    names = list(DATASETS) if "all" in args.dataset else list(dict.fromkeys(args.dataset))
    if len(names) > 1 and "{dataset}" not in args.out:
        sys.exit("bench_cluster gpu: --out must contain {dataset} when more than one dataset is named")
    settings = {k: GPU_ZINBWAVE[k] for k in (args.settings or GPU_ZINBWAVE)}
    dev = torch.device(args.device)
    torch.set_num_threads(1)
    ep = dict(max_epochs=2) if args.quick else {}
    acc = "gpu" if dev.type == "cuda" else "cpu"
    from zinb_nb import tl
    try: import scvi  # noqa: F401
    except ImportError:
        if not args.quick: raise
        scvi = None   # the smoke test on a machine without scvi-tools: ZINB-WaVE's settings only
    warm = False
    for name in names:
        a = load(name)
        if args.quick: a = a[np.sort(np.random.default_rng(0).choice(a.n_obs, min(400, a.n_obs), replace=False))].copy()   # cells of every kind, not the file's first
        batch = "batch" if a.obs["batch"].nunique() > 1 else None
        if not warm:   # once per process: CUDA's context and kernels, scvi-tools' and lightning's first call
            small = a[:300].copy()
            tl.zinbwave(small.copy(), device=dev, max_epochs=1, progress=False)
            tl.zinbwave(small.copy(), device=dev, max_epochs=1, progress=False, optimizer="newton")
            if scvi: m, d = _scvi(small, 0, batch); m.train(max_epochs=1, accelerator=acc, enable_progress_bar=False)
            warm = True
        res = dict(meta("one process, one torch thread on the CPU side; seconds: wall time of each fit call in a warm process (CUDA and "
                        "both packages warmed up by a small fit first; imports, data loading and k-means excluded); SCVI: its train() call, "
                        "trainer set-up included", packages=["torch", "numpy", "scikit-learn", "scanpy", "scvi-tools"]),
                   device=str(dev), gpu=torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
                   dataset=name, n_cells=a.n_obs, n_genes=a.n_vars, n_labels=int(a.obs["label"].nunique()), batch_key=batch,
                   settings=settings, quick=args.quick, runs=[])
        out = Path(args.out.format(dataset=name))
        print(f"{name}: {a.n_obs} cells x {a.n_vars} genes -> {out}", flush=True)
        for seed in args.seeds:
            jobs = [("scvi50", lambda: scvi50_check(a.copy(), seed, batch, accelerator=acc))] if scvi else []
            jobs += [(meth, lambda kw=kw: run_zinbwave(a.copy(), seed, batch, device=dev, **{**kw, **ep})) for meth, kw in settings.items()]
            for meth, f in jobs:
                torch.set_num_threads(1)
                r = dict(method=meth, seed=seed, **f())
                r.pop("epsilon_W_search", None)
                res["runs"].append(r)
                print(f"  seed {seed} {meth}: " + ", ".join(f"{k}={v:.3f}" for k, v in r.items() if isinstance(v, float)), flush=True)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps({**res, "load_after": os.getloadavg()[0]}, indent=1, default=float))
        print(f"wrote {out}", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(); sp = p.add_subparsers(dest="cmd", required=True)
    q = sp.add_parser("run"); q.add_argument("--dataset", default="all", choices=("all",) + DATASETS)
    q.add_argument("--method", default="all", choices=("all",) + METHODS + EXTRA)
    q.add_argument("--seed", type=int, default=0); q.add_argument("--force", action="store_true")
    q = sp.add_parser("gpu", help="ZINB-WaVE and SCVI (50 epochs) on one GPU: time to a clustering")
    q.add_argument("--dataset", nargs="+", default=["pbmc4k"], choices=("all",) + DATASETS, help="one or more, in turn, in one process")
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--settings", nargs="+", choices=tuple(GPU_ZINBWAVE), help="ZINB-WaVE's settings to run (default: all of GPU_ZINBWAVE)")
    q.add_argument("--device", default="cuda"); q.add_argument("--quick", action="store_true", help="400 random cells, 2 epochs: a smoke test")
    q.add_argument("--out", help="results file; {dataset} is replaced by the dataset's name (default: results/gpu_cluster_{dataset}.json; "
                                 "with --quick the system's temporary folder, so a smoke test never overwrites a stored run)")
    a = p.parse_args()
    if a.cmd == "gpu" and a.out is None:
        import tempfile
        a.out = str((Path(tempfile.gettempdir()) if a.quick else RESULTS) / "gpu_cluster_{dataset}.json")
    run(a) if a.cmd == "run" else gpu(a)

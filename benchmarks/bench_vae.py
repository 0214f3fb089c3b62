"""Count VAEs and the GMVAE (zinb_nb.vae) side by side with scvi-tools SCVI on the bundled PBMC 4k data.

    python benchmarks/bench_vae.py run --model {poisson,nb,zip,zinb,gmvae,scvi} [--seed 0] [--epochs N] [--k 100]
    python benchmarks/bench_vae.py table          # the results stored in benchmarks/results/vae_*.json

One model and one training seed per process; each run writes benchmarks/results/vae_<model>_seed<seed>.json.
The same 10% of cells (split seed 0, whatever the training seed) are held out from every model and never used in
training or model selection. Each model gets its fair settings:
- SCVI: its defaults (n_latent=10, n_hidden=128, n_layers=1, gene dispersion, ZINB, KL warm-up over 400 epochs,
  no early stopping), max_epochs = its own heuristic min(round(20000 / n_cells * 400), 400) = 400 here, trained
  on the 90% training cells with train_size=1.0.
- zinb_nb GMVAE (K=8, NB): same architecture (128 hidden, 1 layer, n_latent=10, BatchNorm, dropout 0.1), Adam lr 1e-3,
  batch 128, the same epochs as SCVI on the same training cells, no early stopping; the KL weight rises linearly
  over all the epochs as SCVI's (`kl_warmup`); the first half with the N(0, I) prior, then the mixture from k-means
  on the posterior means, then the mixture prior.
- zinb_nb CountVAE (poisson / nb / zip / zinb): same architecture, Adam lr 1e-3, batch 128, KL weight 1, at most the
  same epochs, early stopping (patience 20) on a 10% validation split of the *training* cells.
Reported: held-out IWAE log-likelihood per cell (k importance samples; SCVI: `get_marginal_ll`, also an importance-
sampled estimate of log p(x | library) with k samples); GMVAE ARI/NMI of argmax q(y|x) vs the labels; k-means (k=8,
scikit-learn, n_init=10, median over random_state 0..2) ARI/NMI on the latent means of SCVI and of the GMVAE; seconds
per epoch; the 1-minute load average before and after the fit.
"""
import argparse, json, os, platform, sys, time
from pathlib import Path
import numpy as np, torch
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score as ARI, normalized_mutual_info_score as NMI
from zinb_nb.datasets import pbmc4k
from zinb_nb.train import fit, split_cells
from zinb_nb.data import CellBatches
from zinb_nb.vae import CountVAE, LIKELIHOODS, cluster_probs, latent, heldout_iwae

RES = Path(__file__).parent / "results"

def km_scores(z, labels):
    "k-means (k=8) on a latent: (ARI, NMI) of the median-ARI run over random_state 0..2, and all three ARIs."
    runs = sorted((ARI(labels, k), NMI(labels, k)) for k in (KMeans(8, n_init=10, random_state=s).fit_predict(z) for s in range(3)))
    return runs[1], [r[0] for r in runs]

def run(a):
    torch.set_num_threads(1)
    ad = pbmc4k(); X = ad.X.toarray().astype(np.float32); labels = ad.obs["label"].to_numpy()
    n = ad.n_obs; held = split_cells(n, 0.1, seed=0); train = ~held
    epochs = a.epochs or min(round(20000 / n * 400), 400)
    Xtr, xv = X[train], torch.as_tensor(X[held])
    r = dict(model=a.model, seed=a.seed, max_epochs=epochs, n_cells=n, n_heldout=int(held.sum()), k=a.k,
             machine=f"{platform.machine()} CPU, {os.cpu_count()} cores", torch_threads=torch.get_num_threads(),
             torch=torch.__version__, date=time.strftime("%Y-%m-%d %H:%M"), load_before=os.getloadavg()[0])
    print(f"PBMC 4k: {n} cells x {ad.n_vars} genes, {held.sum()} held out; model {a.model}, seed {a.seed}, epochs {epochs}; "
          f"{r['machine']}, {r['torch_threads']} torch threads, load {r['load_before']:.2f}", flush=True)
    if a.model == "scvi":
        import scvi, anndata
        scvi.settings.seed = a.seed; torch.set_num_threads(1)
        tr = anndata.AnnData(Xtr); scvi.model.SCVI.setup_anndata(tr)
        m = scvi.model.SCVI(tr)
        t = time.perf_counter(); m.train(max_epochs=epochs, train_size=1.0, accelerator="cpu", enable_progress_bar=False)
        secs = time.perf_counter() - t; r["load_after"] = os.getloadavg()[0]
        te = anndata.AnnData(X[held]); scvi.model.SCVI.setup_anndata(te)
        r.update(scvi_version=scvi.__version__, epochs=epochs, sec_per_epoch=secs / epochs,
                 heldout_iwae=float(m.get_marginal_ll(te, n_mc_samples=a.k)))  # mean over held-out cells
        full = anndata.AnnData(X); scvi.model.SCVI.setup_anndata(full)
        z = m.get_latent_representation(full)
    else:
        torch.manual_seed(a.seed)
        gm = a.model == "gmvae"
        n_tr = int(train.sum()); steps = -(-n_tr // 128)
        m = CountVAE(ad.n_vars, likelihood="nb" if gm else a.model, n_components=8 if gm else None,
                     kl_warmup=epochs * steps if gm else 0)
        kw = dict(lr=1e-3, progress=False)
        data = CellBatches(Xtr, batch_size=128, seed=a.seed, device="cpu")
        t = time.perf_counter()
        if gm:
            m.mixture_active = False
            h1 = fit(m, data, max_epochs=epochs // 2, early_stopping=None, **kw)
            z0 = latent(m, torch.as_tensor(X)).numpy()
            (r["warmup_kmeans_ARI"], r["warmup_kmeans_NMI"]), _ = km_scores(z0, labels)  # diagnostic: the latent the mixture starts from
            m.init_mixture(torch.as_tensor(z0), seed=a.seed)
            h = fit(m, data, max_epochs=epochs - epochs // 2, early_stopping=None, **kw); n_ep = len(h1) + len(h)
        else:
            h = fit(m, data, valid=split_cells(n_tr, 0.1, seed=a.seed), max_epochs=epochs, early_stopping=20, **kw); n_ep = len(h)
        secs = time.perf_counter() - t; r["load_after"] = os.getloadavg()[0]
        torch.manual_seed(a.seed)
        r.update(epochs=n_ep, sec_per_epoch=secs / n_ep, heldout_iwae=heldout_iwae(m, xv, a.k))
        z = latent(m, torch.as_tensor(X)).numpy() if gm else None
        if gm:
            y = cluster_probs(m, torch.as_tensor(X)).argmax(-1).numpy()
            r.update(ARI=ARI(labels, y), NMI=NMI(labels, y), n_used_components=int(len(np.unique(y))))
    if z is not None:
        (r["kmeans_ARI"], r["kmeans_NMI"]), r["kmeans_ARI_all"] = km_scores(z, labels)
    sys.path.insert(0, str(Path(__file__).resolve().parent)); from _common import versions
    r.update(versions=versions(["torch", "numpy", "scvi-tools", "scikit-learn"]),
             timing="one model and seed per fresh process, one torch thread; sec_per_epoch: wall time of the training calls "
                    "(imports and data loading excluded) over the epochs run")
    print(json.dumps(r), flush=True)
    RES.mkdir(exist_ok=True)
    (RES / f"vae_{a.model}_seed{a.seed}.json").write_text(json.dumps(r, indent=1))

def table(a):
    rows = [json.loads(p.read_text()) for p in sorted(RES.glob("vae_*_seed*.json"))]
    order = list(LIKELIHOODS) + ["gmvae", "scvi"]
    f = lambda v: f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" if len(v) > 1 else (f"{v[0]:.3f}" if v else "")
    print("| model | seeds | epochs | s/epoch | load | held-out IWAE / cell | ARI q(y|x) | NMI q(y|x) | k-means ARI | k-means NMI |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mod in order:
        rs = [r for r in rows if r["model"] == mod]
        if not rs: continue
        g = lambda k: [r[k] for r in rs if k in r]
        print(f"| {mod} | {','.join(str(r['seed']) for r in rs)} | {'/'.join(str(e) for e in g('epochs'))} | "
              f"{np.mean(g('sec_per_epoch')):.2f} | {min(g('load_before') + g('load_after')):.1f}-{max(g('load_before') + g('load_after')):.1f} | "
              f"{np.mean(g('heldout_iwae')):.1f}" + (f" ± {np.std(g('heldout_iwae'), ddof=1):.1f}" if len(rs) > 1 else "") +
              f" | {f(g('ARI'))} | {f(g('NMI'))} | {f(g('kmeans_ARI'))} | {f(g('kmeans_NMI'))} |")

if __name__ == "__main__":
    p = argparse.ArgumentParser(); sp = p.add_subparsers(dest="cmd", required=True)
    q = sp.add_parser("run"); q.add_argument("--model", required=True, choices=list(LIKELIHOODS) + ["gmvae", "scvi"])
    q.add_argument("--seed", type=int, default=0); q.add_argument("--epochs", type=int); q.add_argument("--k", type=int, default=100)
    sp.add_parser("table")
    a = p.parse_args()
    run(a) if a.cmd == "run" else table(a)

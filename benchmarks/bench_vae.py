"""Count VAEs and the GMVAE (zinb_nb.vae) side by side with scvi-tools SCVI on the bundled PBMC 4k data.

    python benchmarks/bench_vae.py [--epochs 400] [--k 100] [--seed 0]

Same cells, same 10% held out, same run. Each model gets its fair settings:
- SCVI: its defaults (n_latent=10, n_hidden=128, n_layers=1, gene dispersion, ZINB), max_epochs = its own
  heuristic min(round(20000 / n_cells * 400), 400) unless --epochs is given, trained on the 90% training cells
  (train_size=1.0 on that subset: our held-out cells are never seen by either model).
- zinb_nb CountVAE: same architecture (128 hidden, 1 layer, n_latent=10, BatchNorm, dropout 0.1), Adam lr 1e-3,
  batch 128, the same epoch budget with early stopping on the held-out cells (patience 20).
Reported: held-out IWAE log-likelihood per cell (k samples) for poisson / nb / zip / zinb and for SCVI
(its `get_marginal_ll`, also an importance-sampled estimate with k samples); GMVAE (K=8) ARI/NMI of q(y|x) vs the
labels, SCVI latent + k-means (k=8, median of 3 seeds) ARI/NMI; seconds per epoch of each.
"""
import argparse, time, platform
import numpy as np, torch
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score as ARI, normalized_mutual_info_score as NMI
from zinb_nb.datasets import pbmc4k
from zinb_nb.train import fit, split_cells
from zinb_nb.vae import CountVAE, LIKELIHOODS, cluster_probs, latent, heldout_iwae

def main():
    p = argparse.ArgumentParser(); p.add_argument("--epochs", type=int); p.add_argument("--k", type=int, default=100)
    p.add_argument("--seed", type=int, default=0); a = p.parse_args()
    ad = pbmc4k(); X = ad.X.toarray().astype(np.float32); labels = ad.obs["label"].to_numpy()
    n = ad.n_obs; valid = split_cells(n, 0.1, seed=a.seed); train = ~valid
    epochs = a.epochs or min(round(20000 / n * 400), 400)
    print(f"PBMC 4k: {n} cells x {ad.n_vars} genes, {valid.sum()} held out; epochs {epochs}; machine: {platform.machine()} CPU, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}")
    rows = []
    xv = torch.as_tensor(X[valid])
    for lik in LIKELIHOODS + ("gmvae-nb",):
        torch.manual_seed(a.seed)
        gm = lik.startswith("gmvae")
        m = CountVAE(ad.n_vars, likelihood="nb" if gm else lik, n_components=8 if gm else None)
        kw = dict(valid=valid, patience=20, batch_size=128, seed=a.seed, lr=1e-3, device="cpu", progress=False)
        t = time.perf_counter()
        if gm:
            m.mixture_active = False
            h1 = fit(m, X, max_epochs=epochs // 2, **kw)
            m.init_mixture(latent(m, torch.as_tensor(X)))
            h = fit(m, X, max_epochs=epochs // 2, **kw); n_ep = len(h1) + len(h)
        else:
            h = fit(m, X, max_epochs=epochs, **kw); n_ep = len(h)
        secs = time.perf_counter() - t
        r = dict(model=f"zinb_nb {lik}", epochs=n_ep, sec_per_epoch=secs / n_ep, heldout_iwae=heldout_iwae(m, xv, a.k))
        if gm:
            y = cluster_probs(m, torch.as_tensor(X)).argmax(-1).numpy(); r.update(ARI=ARI(labels, y), NMI=NMI(labels, y))
        rows.append(r); print(r, flush=True)
    import scvi, anndata
    scvi.settings.seed = a.seed
    tr = anndata.AnnData(X[train]); scvi.model.SCVI.setup_anndata(tr)
    m = scvi.model.SCVI(tr)
    t = time.perf_counter(); m.train(max_epochs=epochs, train_size=1.0, accelerator="cpu", enable_progress_bar=False); secs = time.perf_counter() - t
    te = anndata.AnnData(X[valid]); scvi.model.SCVI.setup_anndata(te)
    ll = m.get_marginal_ll(te, n_mc_samples=a.k)  # mean over the held-out cells (return_mean=True)
    full = anndata.AnnData(X); scvi.model.SCVI.setup_anndata(full)
    z = m.get_latent_representation(full)
    km = [KMeans(8, n_init=10, random_state=s).fit_predict(z) for s in range(3)]
    aris = sorted((ARI(labels, k), NMI(labels, k)) for k in km)[1]
    r = dict(model="scvi-tools SCVI", epochs=epochs, sec_per_epoch=secs / epochs, heldout_iwae=float(ll), ARI=aris[0], NMI=aris[1])
    rows.append(r); print(r, flush=True)
    print("\n| model | epochs | s/epoch | held-out IWAE log-lik/cell | ARI | NMI |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['epochs']} | {r['sec_per_epoch']:.2f} | {r['heldout_iwae']:.1f} | {r.get('ARI', float('nan')):.3f} | {r.get('NMI', float('nan')):.3f} |")

if __name__ == "__main__":
    main()

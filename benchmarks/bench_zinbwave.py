"""ZINB-WaVE fitted by gradient descent (zinb_nb) vs scvi-tools SCVI and LinearSCVI, on the same data and split.

Run in the benchmark venv (scvi-tools installed, zinb_nb installed editable):

    . .venv-bench/bin/activate
    python benchmarks/bench_zinbwave.py run --dataset pbmc --method zinbwave      # one method, one process (its own peak memory)
    python benchmarks/bench_zinbwave.py all --dataset pbmc                         # every method in turn, then the table
    python benchmarks/bench_zinbwave.py table                                      # print the table of benchmarks/results/zinbwave_*.json
    python benchmarks/bench_zinbwave.py scale --n-cells 10000 100000 1000000       # seconds per epoch and peak memory, streaming a backed .h5ad
    python benchmarks/bench_zinbwave.py scale-init --n-cells 10000 100000         # the SVD start on a backed .h5ad against one epoch

Metrics (same split, seed 0):
- held-out NLL per cell on 10% of cells. zinb_nb: the held-out cells' W and intercepts are fitted with every gene parameter
  frozen (`zinb_nb.tl.zinbwave_transform`), then -log p(x | fitted parameters) — a plug-in (MAP-latent) likelihood, as the scVI
  paper used for ZINB-WaVE. SCVI / LinearSCVI: `get_marginal_ll` (importance-sampled log p(x), n_mc_samples=100) and, for the
  plug-in view, `get_reconstruction_error` (-E_q log p(x|z)). The marginal NLL is never smaller than the plug-in one for the
  same model, so the fair comparison is ours vs SCVI's reconstruction error, with SCVI's marginal NLL reported beside it.
- imputation: 10% of the non-zero entries set to zero (uniformly at random); the model is fitted on the corrupted matrix;
  median |x_original - prediction| over the corrupted entries; prediction = NB mean mu (scVI: px_rate, its NB mean).
- clustering: k-means (k = number of labels, n_init=10; median of 3 seeds) on the latent of all cells: ARI, NMI; silhouette
  (ASW) of the latent by label.
- batch mixing (CellBench): mean over cells of the entropy of the batch labels of its 50 nearest neighbours in the latent,
  divided by log(number of batches).
- wall time of the fit (and, for ours, of `transform`), peak resident memory of the process (ru_maxrss).
All methods run with torch.set_num_threads(1): the benchmark machine has 2 cores shared with other jobs.
"""
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path
import numpy as np
from _common import cluster_metrics

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
METHODS = ("zinbwave", "scvi", "linearscvi")


def load(dataset):
    from zinb_nb.datasets import pbmc4k, cellbench
    if dataset == "pbmc": return pbmc4k(), None
    if dataset == "cellbench":   # genes seen in >= 10 cells of each technology, then the 2,000 most variable log-CP10k
        a = cellbench(min_cells=10)
        X = a.X.toarray(); l = np.log1p(X / X.sum(1, keepdims=True) * 1e4)
        return a[:, np.sort(np.argsort(-l.var(0))[:2000])].copy(), "batch"
    raise ValueError(dataset)


def split(n, seed=0, frac=0.1):
    rng = np.random.default_rng(seed)
    test = np.zeros(n, bool); test[rng.choice(n, round(frac * n), replace=False)] = True
    return test


def corrupt(X, seed=0, frac=0.1):
    "Set `frac` of the non-zero entries to zero; returns the corrupted dense matrix and the (i, j) of the corrupted entries."
    rng = np.random.default_rng(seed)
    X = np.asarray(X.todense() if hasattr(X, "todense") else X, dtype=np.float32).copy()
    i, j = np.nonzero(X)
    k = rng.choice(len(i), round(frac * len(i)), replace=False)
    orig = X[i[k], j[k]].copy(); X[i[k], j[k]] = 0
    return X, (i[k], j[k]), orig


def peak_mb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- ours
def fit_ours(adata, batch_key, epochs, **kw):
    import torch
    from zinb_nb import tl
    t0 = time.perf_counter()
    model = tl.zinbwave(adata, n_latent=10, batch_key=batch_key, device="cpu", max_epochs=epochs, progress=False, **kw)
    return model, time.perf_counter() - t0


def run_zinbwave(dataset, epochs=40, lr=0.05, batch_size=256, impute=True, **_):
    import torch, anndata as ad
    from zinb_nb.zinbwave import impute as impute_mean
    from zinb_nb.tl import zinbwave_transform
    adata, bk = load(dataset)
    if dataset == "cellbench": batch_size = 64     # 450 training cells: more, smaller steps per epoch
    test = split(adata.n_obs)
    tr = adata[~test].copy()
    model, secs = fit_ours(tr, bk, epochs, lr=lr, batch_size=batch_size)
    te = adata[test].copy()
    t0 = time.perf_counter()
    new = zinbwave_transform(te, model, batch_key=bk, device="cpu", max_epochs=10, tol=None, optimizer="lbfgs")
    t_tr = time.perf_counter() - t0
    x_te = torch.from_numpy(np.asarray(te.X.todense(), dtype=np.float32))
    nll = new.nll(x_te, torch.arange(te.n_obs)).mean().item()
    Z = np.zeros((adata.n_obs, 10), np.float32); Z[~test] = tr.obsm["X_zinbwave"]; Z[test] = new.W.detach().numpy()
    h = model.history
    res = dict(method="zinbwave (zinb_nb, Adam)", fit_seconds=secs, transform_seconds=t_tr, epochs=int(len(h)),
               heldout_nll=nll, heldout_nll_kind="plug-in, W of held-out cells fitted with gene parameters frozen",
               curve=dict(seconds=h.seconds.tolist(), valid_nll=h.valid_nll.tolist()))
    if not impute: return res, Z, adata
    # imputation: fit again on the corrupted full matrix
    Xc, (ii, jj), orig = corrupt(adata.X)
    ac = ad.AnnData(Xc, obs=adata.obs.copy())
    m2, s2 = fit_ours(ac, bk, epochs, lr=lr, batch_size=batch_size, valid_frac=0.1)
    mu = m2(torch.arange(ac.n_obs))[0].detach().numpy()
    res.update(impute_l1=float(np.median(np.abs(orig - mu[ii, jj]))),
               impute_l1_zi_mean=float(np.median(np.abs(orig - impute_mean(m2, torch.arange(ac.n_obs)).numpy()[ii, jj]))),
               impute_fit_seconds=s2)
    return res, Z, adata


# ---------------------------------------------------------------- scvi-tools
def run_scvi(dataset, linear=False, max_epochs=None, impute=True, **_):
    import torch, scvi, anndata as ad
    adata, bk = load(dataset)
    test = split(adata.n_obs)
    a = adata.copy(); a.X = a.X.astype(np.float32)
    cls = scvi.model.LinearSCVI if linear else scvi.model.SCVI
    tr = a[~test].copy()
    cls.setup_anndata(tr, batch_key=bk)
    m = cls(tr, n_latent=10) if linear else cls(tr, n_latent=10)   # defaults otherwise (SCVI: gene_likelihood='zinb')
    kw = dict(accelerator="cpu", enable_progress_bar=False)
    if max_epochs: kw["max_epochs"] = max_epochs
    t0 = time.perf_counter(); m.train(**kw); secs = time.perf_counter() - t0
    te = a[test].copy()
    cls.setup_anndata(te, batch_key=bk)
    # held-out: marginal log-likelihood and reconstruction error on unseen cells (model weights frozen; amortised encoder)
    t0 = time.perf_counter()
    mll = float(np.mean(-np.asarray(m.get_marginal_ll(te, n_mc_samples=100, return_mean=False))))
    rec = m.get_reconstruction_error(te)
    rec = float(list(rec.values())[0]) if isinstance(rec, dict) else float(rec)
    t_ev = time.perf_counter() - t0
    full = a.copy(); cls.setup_anndata(full, batch_key=bk)
    Z = m.get_latent_representation(full)
    hist = m.history.get("elbo_train")
    res = dict(method=("LinearSCVI" if linear else "SCVI") + f" (scvi-tools {scvi.__version__})", fit_seconds=secs,
               epochs=int(m.history["elbo_train"].shape[0]) if hist is not None else None,
               heldout_nll=rec, heldout_nll_kind="reconstruction error -E_q log p(x|z) (plug-in)",
               heldout_marginal_nll=mll, eval_seconds=t_ev)
    if not impute: return res, Z, adata
    # imputation
    Xc, (ii, jj), orig = corrupt(adata.X)
    ac = ad.AnnData(Xc, obs=adata.obs.copy())
    cls.setup_anndata(ac, batch_key=bk)
    m2 = cls(ac, n_latent=10)
    t0 = time.perf_counter(); m2.train(**kw); s2 = time.perf_counter() - t0
    lib = ac.X.sum(1)
    # px_rate = library * scale: scale from get_normalized_expression, library = observed total (scVI's default)
    scale = m2.get_normalized_expression(ac, library_size=1.0, return_numpy=True)
    rate = scale * lib[:, None]
    res.update(impute_l1=float(np.median(np.abs(orig - rate[ii, jj]))), impute_fit_seconds=s2)
    return res, Z, adata


# ---------------------------------------------------------------- metrics
def batch_entropy(Z, batches, k=50):
    from sklearn.neighbors import NearestNeighbors
    b = np.unique(batches, return_inverse=True)[1]
    nn = NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z, return_distance=False)[:, 1:]
    p = np.stack([(b[nn] == c).mean(1) for c in range(b.max() + 1)], 1)
    with np.errstate(divide="ignore", invalid="ignore"): e = -np.nansum(np.where(p > 0, p * np.log(p), 0), 1)
    return float(e.mean() / np.log(b.max() + 1))


def run_one(dataset, method, **kw):
    import torch
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    if method == "zinbwave": res, Z, adata = run_zinbwave(dataset, **kw)
    else: res, Z, adata = run_scvi(dataset, linear=method == "linearscvi", **kw)
    labels = adata.obs["label"].astype(str).to_numpy()
    res.update(cluster_metrics(Z, labels))
    if dataset == "cellbench": res["batch_entropy"] = batch_entropy(Z, adata.obs["batch"].astype(str).to_numpy())
    from _common import meta
    res.update(dataset=dataset, peak_mb=peak_mb(), total_seconds=time.perf_counter() - t0, machine=machine(),
               **{k: v for k, v in meta(TIMING, packages=["torch", "numpy", "scvi-tools", "scikit-learn"]).items() if k != "machine"},
               load_after=os.getloadavg()[0])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"zinbwave_{dataset}_{method}.json").write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != "curve"}, indent=1))


TIMING = ("one method per fresh process, one torch thread; fit_seconds: wall time of the training call (data loaded, imports done); "
          "transform_seconds (ours): wall time of fitting the held-out cells' own parameters; eval_seconds (SCVI): wall time of "
          "evaluating the held-out cells; the curve's seconds are wall seconds since the start of our fit")

def machine():
    import platform, torch
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, 1 thread"


def table():
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("zinbwave_*.json")) if "_scale_" not in p.name]
    cols = ["dataset", "method", "epochs", "fit_seconds", "heldout_nll", "heldout_marginal_nll", "impute_l1", "ari", "nmi", "asw",
            "batch_entropy", "peak_mb"]
    print("| " + " | ".join(cols) + " |"); print("|" + "---|" * len(cols))
    fmt = lambda v: "" if v is None else f"{v:.3f}" if isinstance(v, float) and abs(v) < 10 else f"{v:.1f}" if isinstance(v, float) else str(v)
    for r in rows: print("| " + " | ".join(fmt(r.get(c)) for c in cols) + " |")
    for ds in sorted({r["dataset"] for r in rows}):
        by = {r["method"].split()[0]: r for r in rows if r["dataset"] == ds}
        if "zinbwave" in by and "SCVI" in by:
            print(f"{ds}: SCVI fit time / ours = {by['SCVI']['fit_seconds'] / by['zinbwave']['fit_seconds']:.1f}x; "
                  f"ARI ours / SCVI = {by['zinbwave']['ari'] / by['SCVI']['ari']:.2f}")


# ---------------------------------------------------------------- scale
def _write_sims(n_cells_list, n_genes, workdir):
    "The simulated backed files of every size, each written by a child process (Linux keeps ru_maxrss across fork + exec, so a parent that grew while writing would hand its peak to every timed child)."
    Path(workdir).mkdir(exist_ok=True)
    for n in n_cells_list:
        if not (Path(workdir) / f"sim_{n}x{n_genes}.h5ad").exists():
            subprocess.run([sys.executable, __file__, "write-sim", "--n-cells", str(n), "--workdir", workdir], check=True)


def scale(n_cells_list, n_genes=1000, epochs=1, batch_size=1024, workdir="/tmp/zw_scale", modes=("store", "memory")):
    """Time one epoch of streaming Adam per size, each in a fresh process (its own peak memory), per-cell state in files
    (`cell_store`) or in memory. The data files are written first, by this process, before any timing."""
    _write_sims(n_cells_list, n_genes, workdir)
    out = []
    for mode in modes:
        for n in n_cells_list:
            r = subprocess.run([sys.executable, __file__, "scale-one", "--n-cells", str(n), "--mode", mode, "--epochs", str(epochs),
                                "--workdir", workdir], check=True, capture_output=True, text=True)
            out.append(json.loads(r.stdout.strip().splitlines()[-1])); print(json.dumps(out[-1]), flush=True)
    for mode in modes:
        rs = [r for r in out if r["mode"] == mode]
        for a, b in zip(rs, rs[1:]):
            print(f"{mode}: {a['n_cells']:,} -> {b['n_cells']:,} cells: time per epoch x{b['seconds_per_epoch'] / a['seconds_per_epoch']:.1f} "
                  f"(cells x{b['n_cells'] / a['n_cells']:.0f}); peak RSS {a['peak_mb']:.0f} -> {b['peak_mb']:.0f} MB")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"zinbwave_scale_{'_'.join(map(str, n_cells_list))}.json").write_text(json.dumps(out, indent=1))


def scale_one(n, mode, n_genes=1000, epochs=1, batch_size=1024, workdir="/tmp/zw_scale"):
    "One size, one mode, in this process: the .h5ad is read by path (no .obs in memory); prints a JSON line."
    import tempfile, platform, torch
    from zinb_nb.zinbwave import ZINBWaVE
    from zinb_nb.train import fit
    from zinb_nb.data import CellBatches
    from zinb_nb.cells import CellStore
    torch.set_num_threads(1)
    p = Path(workdir) / f"sim_{n}x{n_genes}.h5ad"
    rss_import = peak_mb()
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        dl = CellBatches(str(p), batch_size=batch_size, seed=0, device="cpu")
        store = CellStore(d, n) if mode == "store" else None
        m = ZINBWaVE(n, n_genes, 10, new_cell_tensor=None if store is None else store.new)
        if store is not None: store.release()
        rss_setup = current_mb()
        t0 = time.perf_counter()
        h = fit(m, dl, max_epochs=epochs, lr=0.05, progress=False, cell_store=store)
        secs = (time.perf_counter() - t0) / epochs
        store_mb = sum(f.stat().st_size for f in Path(d).glob("*.bin")) / 2**20
        r = dict(n_cells=n, n_genes=n_genes, mode=mode, seconds_per_epoch=secs, peak_mb=peak_mb(), rss_after_imports_mb=rss_import,
                 rss_after_setup_mb=rss_setup, rss_end_mb=current_mb(), cell_store_mb=store_mb, nll=float(h.nll.iloc[-1]),
                 machine=f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, 1 thread",
                 when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), load=os.getloadavg()[0])
    from _common import versions
    r.update(versions=versions(["torch", "numpy", "anndata", "h5py"]),
             timing="a fresh process per size and mode; seconds_per_epoch: wall time of the fit call over its epochs divided by "
                    "the epochs (data file written beforehand; reading it is part of the epoch); peak_mb: ru_maxrss of the process")
    print(json.dumps(r))


def scale_init(n_cells_list, n_genes=1000, workdir="/tmp/zw_scale"):
    """The cost of `tl.zinbwave`'s SVD start (`init_latent`) on a backed file, per-cell state in files, against one epoch of the
    fit that follows it: each size in a fresh process (its own peak memory)."""
    _write_sims(n_cells_list, n_genes, workdir)
    out = []
    for n in n_cells_list:
        r = subprocess.run([sys.executable, __file__, "scale-init-one", "--n-cells", str(n), "--workdir", workdir], check=True, capture_output=True, text=True)
        out.append(json.loads(r.stdout.strip().splitlines()[-1])); print(json.dumps(out[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"zinbwave_scale_init_{'_'.join(map(str, n_cells_list))}.json").write_text(json.dumps(out, indent=1))


def scale_init_one(n, n_genes=1000, batch_size=1024, workdir="/tmp/zw_scale"):
    "One size in this process, as `tl.zinbwave(cell_store=...)` runs it on a backed file: totals, intercepts, the SVD start, then one epoch."
    import tempfile, platform, torch
    from zinb_nb.zinbwave import ZINBWaVE, init_intercepts, init_latent
    from zinb_nb.tl import _totals
    from zinb_nb.train import fit
    from zinb_nb.data import CellBatches
    from zinb_nb.cells import CellStore
    torch.set_num_threads(1)
    p = Path(workdir) / f"sim_{n}x{n_genes}.h5ad"
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        dl = CellBatches(str(p), batch_size=batch_size, seed=0, device="cpu")
        store = CellStore(d, n)
        m = ZINBWaVE(n, n_genes, 10, new_cell_tensor=store.new)
        t0 = time.perf_counter(); lib, gene = _totals(dl); t_totals = time.perf_counter() - t0
        init_intercepts(m, lib, gene)
        peak_before = peak_mb()
        t0 = time.perf_counter(); init_latent(m, dl, lib, seed=0); t_init = time.perf_counter() - t0
        peak_init = peak_mb()
        store.release()
        t0 = time.perf_counter(); h = fit(m, dl, max_epochs=1, lr=0.05, progress=False, cell_store=store); t_epoch = time.perf_counter() - t0
        r = dict(n_cells=n, n_genes=n_genes, init_seconds=t_init, init_passes=6, totals_seconds=t_totals, epoch_seconds=t_epoch,
                 peak_mb_before_init=peak_before, peak_mb_after_init=peak_init, peak_mb=peak_mb(), nll=float(h.nll.iloc[-1]),
                 machine=f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, 1 thread",
                 when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), load=os.getloadavg()[0])
    from _common import versions
    r.update(versions=versions(["torch", "numpy", "anndata", "h5py"]),
             timing="a fresh process per size; init_seconds: wall time of init_latent (its default n_iter=2: 6 ordered passes over the "
                    "backed file); totals_seconds: the pass that sums libraries and genes; epoch_seconds: the first Adam epoch after the "
                    "start (per-cell state in files); peak_mb_*: ru_maxrss of the process before and after the start")
    print(json.dumps(r))


def current_mb():
    "Resident set size now (VmRSS), MB."
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
    return float("nan")


def write_sim(path, n, J, chunk=20000, seed=0):
    "A simulated ZINB count matrix (rank-5 log mean) written as a backed CSR .h5ad, chunk by chunk (never all in memory)."
    import anndata as ad, scipy.sparse as sp, h5py
    from anndata.io import write_elem
    rng = np.random.default_rng(seed)
    A = rng.normal(0, 0.3, (5, J)); b = rng.normal(0, 1, J); theta = np.exp(rng.uniform(0, 2, J)); pi = rng.uniform(0.05, 0.4, J)
    ad.AnnData(sp.csr_matrix((0, J), dtype=np.float32)).write_h5ad(path)   # the skeleton; X replaced below
    with h5py.File(path, "a") as f:
        del f["X"]
        g = f.create_group("X"); g.attrs.update({"encoding-type": "csr_matrix", "encoding-version": "0.1.0", "shape": (n, J)})
        d = g.create_dataset("data", (0,), np.float32, maxshape=(None,), chunks=(2**16,))
        ind = g.create_dataset("indices", (0,), np.int32, maxshape=(None,), chunks=(2**16,))
        ptr = [0]
        for a0 in range(0, n, chunk):
            m = min(chunk, n - a0)
            mu = np.exp(b + rng.normal(size=(m, 5)) @ A)
            x = np.where(rng.random((m, J)) < pi, 0, rng.poisson(rng.gamma(theta, mu / theta))).astype(np.float32)
            c = sp.csr_matrix(x)
            k = d.shape[0]; d.resize((k + c.nnz,)); ind.resize((k + c.nnz,)); d[k:] = c.data; ind[k:] = c.indices
            ptr.extend((c.indptr[1:] + ptr[-1]).tolist())
        g.create_dataset("indptr", data=np.asarray(ptr, np.int64))
        for k in ("obs", "var"):
            del f[k]
        write_elem(f, "obs", __import__("pandas").DataFrame(index=[f"cell_{i}" for i in range(n)]))
        write_elem(f, "var", __import__("pandas").DataFrame(index=[f"gene_{j}" for j in range(J)]))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run", "all", "table", "scale", "scale-one", "scale-init", "scale-init-one", "write-sim"])
    ap.add_argument("--mode", default="store", choices=["store", "memory"], help="scale-one: per-cell state in files or in memory")
    ap.add_argument("--workdir", default="/tmp/zw_scale")
    ap.add_argument("--dataset", default="pbmc", choices=["pbmc", "cellbench"])
    ap.add_argument("--method", default="zinbwave", choices=METHODS)
    ap.add_argument("--epochs", type=int, default=40, help="ours: max epochs (early stopping on held-out cells)")
    ap.add_argument("--scvi-epochs", type=int, default=None, help="SCVI/LinearSCVI max_epochs (default: scvi-tools' own)")
    ap.add_argument("--n-cells", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--no-impute", action="store_true", help="skip the imputation fit (halves the run time)")
    a = ap.parse_args()
    if a.cmd == "run":
        run_one(a.dataset, a.method, epochs=a.epochs, max_epochs=a.scvi_epochs, impute=not a.no_impute)
    elif a.cmd == "all":
        for m in METHODS:
            extra = (["--scvi-epochs", str(a.scvi_epochs)] if a.scvi_epochs else []) + (["--no-impute"] if a.no_impute else [])
            subprocess.run([sys.executable, __file__, "run", "--dataset", a.dataset, "--method", m, "--epochs", str(a.epochs)] + extra, check=True)
        table()
    elif a.cmd == "table": table()
    elif a.cmd == "scale-one": scale_one(a.n_cells[0], a.mode, epochs=a.epochs, workdir=a.workdir)
    elif a.cmd == "scale-init-one": scale_init_one(a.n_cells[0], workdir=a.workdir)
    elif a.cmd == "scale-init": scale_init(a.n_cells, workdir=a.workdir)
    elif a.cmd == "write-sim": write_sim(Path(a.workdir) / f"sim_{a.n_cells[0]}x1000.h5ad", a.n_cells[0], 1000)
    else: scale(a.n_cells, epochs=1, workdir=a.workdir)

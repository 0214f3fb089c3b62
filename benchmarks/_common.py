"""What every benchmark result file records besides its figures: machine, load, versions, date, how it was timed.

    from _common import meta, save       # the scripts run as `python benchmarks/<script>.py`, so this directory is on sys.path
    save("glmm", {**meta("...how each time was measured...", packages=["torch"], r_packages=["lme4"]), **figures})

`benchmarks/report.py` reads the files that `save` writes (benchmarks/results/<name>.json) and generates the tables of
benchmarks/README.md from them.
"""
import json, os, platform, shutil, subprocess, time
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_name():
    "The CPU model from /proc/cpuinfo (Linux), else platform.processor()."
    try: return next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration): return platform.processor() or platform.machine()


def versions(packages=(), r_packages=()):
    "Installed versions of Python packages (importlib.metadata) and of R packages (one Rscript call); None when absent."
    out = {"python": platform.python_version()}
    for p in packages:
        try: out[p] = metadata.version(p)
        except metadata.PackageNotFoundError: out[p] = None
    if r_packages and shutil.which("Rscript"):
        code = ("cat(paste0('R=', paste(R.version$major, R.version$minor, sep='.')), sep='\\n');"
                f"for (p in c({', '.join(repr(p) for p in r_packages)})) cat(paste0(p, '=', "
                "tryCatch(as.character(packageVersion(p)), error = function(e) 'none')), sep='\\n')")
        r = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True)
        for line in r.stdout.split():
            k, _, v = line.partition("=")
            out[k] = None if v == "none" else v
    return out


def meta(timing, packages=("torch", "numpy"), r_packages=()):
    "The fields every results file starts with; `timing` says how each time was measured (fresh process or warm, wall or CPU)."
    import torch
    return dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                machine=f"{cpu_name()}, {os.cpu_count()} logical cores, {platform.machine()}",
                torch_threads=torch.get_num_threads(), load_before=os.getloadavg()[0],
                versions=versions(packages, r_packages), timing=timing)


def save(name, result):
    "Write benchmarks/results/<name>.json with the load average at the end added; returns the path."
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({**result, "load_after": os.getloadavg()[0]}, indent=1, default=float))
    print(f"wrote {path}")
    return path


def kmeans_runs(Z, labels, seeds=(0, 1, 2)):
    "k-means with k = number of labels (scikit-learn, n_init=10) for each random_state: (the clusters of each run, their ARIs, their NMIs)."
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    k = len(set(labels.tolist()))
    runs = [KMeans(k, n_init=10, random_state=s).fit_predict(Z) for s in seeds]
    return runs, [adjusted_rand_score(labels, c) for c in runs], [normalized_mutual_info_score(labels, c) for c in runs]


def cluster_metrics(Z, labels, seeds=(0, 1, 2)):
    "k-means with k = number of labels (`kmeans_runs`): median ARI and NMI over the seeds; silhouette of the labels."
    import numpy as np
    from sklearn.metrics import silhouette_score
    _, ari, nmi = kmeans_runs(Z, np.asarray(labels), seeds)
    return dict(ari=float(np.median(ari)), nmi=float(np.median(nmi)), asw=float(silhouette_score(Z, labels)))

# Reference fits for nbs/02_glmm.ipynb: lme4 (glmer, Laplace, the default nAGQ = 1) and glmmTMB (Laplace; nbinom2;
# REML = TRUE for the restricted-likelihood fits).
#
#   Rscript benchmarks/glmm_fixtures.R <data_dir> <out_dir> [fit ...]
#
# <data_dir> holds zeb2_sim.csv(.gz) and zeb2_small_sim.csv(.gz) (tests/fixtures/glmm/, made by
# zinb_nb.data.simulate_glmm_table() and simulate_glmm_table(n_cells=8000, sigma=0.4, theta=2, seed=7): tables shaped
# like the ZEB2 data of Boland et al. 2020 as analysed in V. Svensson's blog post; "zeb2_*" / "zeb2small_*" name the
# fits on them) and uc.csv (zinb_nb.datasets.uc_cell_counts() written with to_csv(index=False)).
# For every fit it writes <name>_fixef.csv (term, estimate, std_error = sqrt(diag(vcov(fit))),
# std_error_rx = lme4's vcov(fit, use.hessian = FALSE)), <name>_ranef.csv (term, level, mode) and
# <name>_summary.csv (key, value: logLik, variances, NB theta, CPU and elapsed seconds, versions).
suppressPackageStartupMessages({library(lme4); library(glmmTMB)})
args <- commandArgs(trailingOnly = TRUE)
data_dir <- args[1]; out_dir <- args[2]; only <- args[-(1:2)]
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

csort <- function(x) sort(unique(x), method = "radix")          # C-locale order, as Python's sorted()
read_table <- function(stem) {                                  # a simulated ZEB2-shaped table, factors in C order
  f <- file.path(data_dir, paste0(stem, ".csv"))
  d <- read.csv(if (file.exists(f)) f else paste0(f, ".gz"), stringsAsFactors = FALSE)
  d$cell_group <- factor(d$cell_group, levels = csort(d$cell_group))
  d$patient <- factor(d$patient, levels = csort(d$patient))
  d
}
zeb2 <- read_table("zeb2_sim")
zeb2s <- read_table("zeb2_small_sim")
uc <- read.csv(file.path(data_dir, "uc.csv"), stringsAsFactors = FALSE)
uc <- uc[uc$Total > 0, ]
uc$Cluster <- factor(uc$Cluster, levels = unique(uc$Cluster))  # pandas' category order (first appearance)
uc$Subject <- factor(uc$Subject, levels = unique(uc$Subject))
uc$Health <- factor(uc$Health, levels = c("Healthy", "Non-inflamed", "Inflamed"))
uc$Location <- factor(uc$Location, levels = c("Epi", "LP"))

# UC: all clusters (the random intercept per subject is ~0 there: counts over clusters add up to Total, the offset),
# and six immune clusters, where subjects do differ.
immune <- c("Plasma", "Macrophages", "CD4+ Memory", "CD8+ LP", "Tregs", "Inflammatory Monocytes")
ucs <- droplevels(uc[uc$Cluster %in% immune, ])
fz_pois <- y_pois ~ 0 + cell_group + offset(log(total_count)) + (1 | patient)
fz_nb <- y_nb ~ 0 + cell_group + offset(log(total_count)) + (1 | patient)
fits <- list(
  zeb2_pois_lme4 = function() glmer(fz_pois, zeb2, family = poisson),
  zeb2_pois_tmb  = function() glmmTMB(fz_pois, zeb2, family = poisson),
  zeb2_nb_tmb    = function() glmmTMB(fz_nb, zeb2, family = nbinom2),
  zeb2small_nb_tmb = function() glmmTMB(fz_nb, zeb2s, family = nbinom2),
  # restricted (REML) fits: glmmTMB integrates the fixed effects out with the random ones (Laplace)
  zeb2_pois_tmb_reml = function() glmmTMB(fz_pois, zeb2, family = poisson, REML = TRUE),
  zeb2small_nb_tmb_reml = function() glmmTMB(fz_nb, zeb2s, family = nbinom2, REML = TRUE),
  ucs_crossed_tmb_reml = function() glmmTMB(Count ~ Health + Location + offset(log(Total)) + (1 | Subject) + (1 | Cluster), ucs, family = poisson, REML = TRUE),
  ucs_nested_lme4 = function() glmer(Count ~ Cluster + Health + Location + offset(log(Total)) + (1 | Subject / Cluster), ucs, family = poisson),
  ucs_crossed_lme4 = function() glmer(Count ~ Health + Location + offset(log(Total)) + (1 | Subject) + (1 | Cluster), ucs, family = poisson),
  ucs_nb_tmb     = function() glmmTMB(Count ~ Cluster + Health + offset(log(Total)) + (1 | Subject), ucs, family = nbinom2),
  uc_pois_lme4   = function() glmer(Count ~ Cluster + offset(log(Total)) + (1 | Subject), uc, family = poisson),
  ucs_nested_tmb = function() glmmTMB(Count ~ Cluster + Health + Location + offset(log(Total)) + (1 | Subject / Cluster), ucs, family = poisson)
)
if (length(only)) fits <- fits[only]

write_fit <- function(name, fit, tm) {
  tmb <- inherits(fit, "glmmTMB")
  est <- if (tmb) fixef(fit)$cond else fixef(fit)
  se <- sqrt(diag(if (tmb) vcov(fit)$cond else as.matrix(vcov(fit))))
  se_rx <- if (tmb) rep(NA, length(est)) else sqrt(diag(as.matrix(vcov(fit, use.hessian = FALSE))))
  write.csv(data.frame(term = names(est), estimate = est, std_error = se, std_error_rx = se_rx),
            file.path(out_dir, paste0(name, "_fixef.csv")), row.names = FALSE)
  re <- if (tmb) ranef(fit)$cond else ranef(fit)
  write.csv(do.call(rbind, lapply(names(re), function(g) data.frame(term = g, level = rownames(re[[g]]), mode = re[[g]][, 1]))),
            file.path(out_dir, paste0(name, "_ranef.csv")), row.names = FALSE)
  vc <- if (tmb) VarCorr(fit)$cond else VarCorr(fit)
  kv <- c(loglik = as.numeric(logLik(fit)), df = attr(logLik(fit), "df"), nobs = nobs(fit),
          cpu_s = tm[["user.self"]] + tm[["sys.self"]], elapsed_s = tm[["elapsed"]],
          setNames(sapply(vc, function(v) v[1, 1]), paste0("var:", names(vc))))
  if (tmb && family(fit)$family == "nbinom2") kv <- c(kv, theta = sigma(fit))
  if (!tmb) kv <- c(kv, converged_warnings = length(fit@optinfo$conv$lme4$messages))
  if (tmb) kv <- c(kv, REML = as.numeric(isTRUE(fit$modelInfo$REML)), pdHess = as.numeric(fit$sdr$pdHess))
  out <- data.frame(key = names(kv), value = sprintf("%.12g", kv))
  out <- rbind(out, data.frame(key = c("package", "R"), value = c(if (tmb) paste("glmmTMB", packageVersion("glmmTMB"))
                                                                    else paste("lme4", packageVersion("lme4")), R.version.string)))
  write.csv(out, file.path(out_dir, paste0(name, "_summary.csv")), row.names = FALSE)
}

for (name in names(fits)) {
  cat(name, "... "); flush.console()
  tm <- system.time(fit <- fits[[name]]())
  write_fit(name, fit, tm)
  cat(sprintf("%.1f s CPU, logLik %.4f\n", tm[["user.self"]] + tm[["sys.self"]], as.numeric(logLik(fit))))
}

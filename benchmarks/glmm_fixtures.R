# Reference fits for nbs/04_glmm.ipynb: lme4 (glmer, Laplace, the default nAGQ = 1) and glmmTMB (Laplace; nbinom2).
#
#   Rscript benchmarks/glmm_fixtures.R <data_dir> <out_dir> [fit ...]
#
# <data_dir> holds seed_sim.csv(.gz) (tests/fixtures/glmm/seed_sim.csv.gz, made by zinb_nb.glmm.simulate_seed_glmm)
# and uc.csv (zinb_nb.datasets.uc_cell_counts() written with to_csv(index=False)).
# For every fit it writes <name>_fixef.csv (term, estimate, std_error = sqrt(diag(vcov(fit))),
# std_error_rx = lme4's vcov(fit, use.hessian = FALSE)), <name>_ranef.csv (term, level, mode) and
# <name>_summary.csv (key, value: logLik, variances, NB theta, CPU and elapsed seconds, versions).
suppressPackageStartupMessages({library(lme4); library(glmmTMB)})
args <- commandArgs(trailingOnly = TRUE)
data_dir <- args[1]; out_dir <- args[2]; only <- args[-(1:2)]
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

csort <- function(x) sort(unique(x), method = "radix")          # C-locale order, as Python's sorted()
seed_file <- file.path(data_dir, if (file.exists(file.path(data_dir, "seed_sim.csv"))) "seed_sim.csv" else "seed_sim.csv.gz")
seed <- read.csv(seed_file, stringsAsFactors = FALSE)
seed$cell_group <- factor(seed$cell_group, levels = csort(seed$cell_group))
seed$patient <- factor(seed$patient, levels = csort(seed$patient))
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
fits <- list(
  seed_pois_lme4 = function() glmer(y_pois ~ 0 + cell_group + offset(log(total_count)) + (1 | patient), seed, family = poisson),
  seed_pois_tmb  = function() glmmTMB(y_pois ~ 0 + cell_group + offset(log(total_count)) + (1 | patient), seed, family = poisson),
  seed_nb_tmb    = function() glmmTMB(y_nb ~ 0 + cell_group + offset(log(total_count)) + (1 | patient), seed, family = nbinom2),
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

# NB fits of every gene with glmGamPoi::glm_gp (Ahlmann-Eltze & Huber 2021), intercept only or with a design matrix;
# called by bench_em_speed.py.
#   Rscript em_glmgampoi.R counts.csv out.csv {default|mle} [size_factors.txt|-] [design.csv]
# counts.csv: cells x genes with a header (as em_pscl.R reads it). Without size factors (absent or `-`):
# `size_factors = FALSE` (every cell 1, as fit_zinb_em without them); with them (one value per cell, one column, no
# header) the same values are given. design.csv: cells x p numeric model matrix with a header, passed as the matrix
# (glmGamPoi takes its group-wise path by itself when the matrix has as many distinct rows as columns); absent: ~1.
#   default: glmGamPoi's defaults (Cox-Reid adjusted overdispersion, then shrunk across genes: not the per-gene maximum
#            likelihood, so its log-likelihood can be lower by design);
#   mle:     overdispersion_shrinkage = FALSE, do_cox_reid_adjustment = FALSE: the per-gene NB maximum likelihood.
# One fit per R process, so that each pays its own first call; timed around the glm_gp call only (elapsed, and CPU =
# user + system of this process).
# out.csv: gene, the coefficients (beta_<column>; intercept only: mu = exp(Beta) per unit size factor), overdispersion
# (1/theta), loglik (sum of dnbinom(log = TRUE) at the fitted means; the Poisson where the overdispersion is 0).   stdout: `seconds <elapsed> <cpu>`.
suppressPackageStartupMessages(library(glmGamPoi))
args <- commandArgs(trailingOnly = TRUE)
mode <- if (length(args) >= 3) args[3] else "default"
Y <- t(as.matrix(read.csv(args[1], check.names = FALSE)))      # genes x cells, as glm_gp wants
s <- if (length(args) >= 4 && args[4] != "-") scan(args[4], quiet = TRUE) else FALSE
design <- if (length(args) >= 5) as.matrix(read.csv(args[5], check.names = FALSE)) else ~1
extra <- switch(mode, default = list(), mle = list(overdispersion_shrinkage = FALSE, do_cox_reid_adjustment = FALSE),
                stop("mode must be default or mle"))
t0 <- proc.time()
fit <- do.call(glm_gp, c(list(Y, design = design, size_factors = s, on_disk = FALSE), extra))
dt <- proc.time() - t0
od <- fit$overdispersions; Mu <- fit$Mu
ll <- ifelse(od > 0, rowSums(dnbinom(Y, mu = Mu, size = 1 / pmax(od, 1e-300), log = TRUE)), rowSums(dpois(Y, Mu, log = TRUE)))
B <- fit$Beta; colnames(B) <- paste0("beta_", seq_len(ncol(B)) - 1)
write.csv(data.frame(gene = rownames(Y), mu = exp(fit$Beta[, 1]), B, overdispersion = od, loglik = ll, check.names = FALSE), args[2], row.names = FALSE)
cat(sprintf("seconds %.6f %.6f\n", dt[["elapsed"]], dt[["user.self"]] + dt[["sys.self"]]))

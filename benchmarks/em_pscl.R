# Intercept-only ZINB fits with pscl::zeroinfl, one gene (CSV column) at a time; called by bench_em.py.
#   Rscript em_pscl.R counts.csv out.csv
# out.csv: gene, seconds, loglik (logLik, constants included), mu, theta, pi, warnings, error
suppressPackageStartupMessages(library(pscl))
args <- commandArgs(trailingOnly = TRUE)
X <- read.csv(args[1], check.names = FALSE)
rows <- lapply(names(X), function(g) {
  y <- X[[g]]; w <- character(0); err <- ""
  t0 <- proc.time()[["elapsed"]]
  fit <- withCallingHandlers(
    tryCatch(zeroinfl(y ~ 1 | 1, dist = "negbin"), error = function(e) { err <<- conditionMessage(e); NULL }),
    warning = function(cond) { w <<- c(w, conditionMessage(cond)); invokeRestart("muffleWarning") })
  secs <- proc.time()[["elapsed"]] - t0
  if (is.null(fit)) return(data.frame(gene = g, seconds = secs, loglik = NA, mu = NA, theta = NA, pi = NA,
                                      warnings = length(w), error = err))
  data.frame(gene = g, seconds = secs, loglik = as.numeric(logLik(fit)), mu = exp(coef(fit)[["count_(Intercept)"]]),
             theta = fit$theta, pi = plogis(coef(fit)[["zero_(Intercept)"]]), warnings = length(w), error = err)
})
write.csv(do.call(rbind, rows), args[2], row.names = FALSE)

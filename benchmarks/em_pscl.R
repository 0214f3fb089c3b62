# ZINB fits with pscl::zeroinfl, one gene (CSV column) at a time; called by bench_em.py and bench_em_speed.py.
#   Rscript em_pscl.R counts.csv out.csv [size_factors.txt|-] [design.csv]
# Without size factors each gene is `zeroinfl(y ~ 1 | 1, dist = "negbin")`; with them (one value per cell, one column,
# no header) `zeroinfl(y ~ offset(log(s)) | 1, dist = "negbin")`: every cell its own offset in the count model. With a
# design (cells x p numeric model matrix with a header) the count model is `y ~ 0 + D + offset(log(s))`, the zero
# model still `| 1` (mu is then NA: no single mean).
# out.csv: gene, seconds, loglik (logLik, constants included), mu, theta, pi, warnings, error.
# stdout: one line `total_seconds <s>`: the elapsed time of the whole loop over genes (R start-up, library loading and
# reading the CSV excluded).
suppressPackageStartupMessages(library(pscl))
args <- commandArgs(trailingOnly = TRUE)
X <- read.csv(args[1], check.names = FALSE)
s <- if (length(args) >= 3 && args[3] != "-") scan(args[3], quiet = TRUE) else NULL
D <- if (length(args) >= 4) as.matrix(read.csv(args[4], check.names = FALSE)) else NULL
if (!is.null(s) && length(s) != nrow(X)) stop("size factors: ", length(s), " values for ", nrow(X), " cells")
fit_one <- function(y) {
  if (!is.null(D)) { off <- if (is.null(s)) rep(0, length(y)) else log(s); return(zeroinfl(y ~ 0 + D + offset(off) | 1, dist = "negbin")) }
  if (is.null(s)) zeroinfl(y ~ 1 | 1, dist = "negbin") else zeroinfl(y ~ offset(log(s)) | 1, dist = "negbin")
}
t_all <- proc.time()[["elapsed"]]
rows <- lapply(names(X), function(g) {
  y <- X[[g]]; w <- character(0); err <- ""
  t0 <- proc.time()[["elapsed"]]
  fit <- withCallingHandlers(
    tryCatch(fit_one(y), error = function(e) { err <<- conditionMessage(e); NULL }),
    warning = function(cond) { w <<- c(w, conditionMessage(cond)); invokeRestart("muffleWarning") })
  secs <- proc.time()[["elapsed"]] - t0
  if (is.null(fit)) return(data.frame(gene = g, seconds = secs, loglik = NA, mu = NA, theta = NA, pi = NA,
                                      warnings = length(w), error = err))
  data.frame(gene = g, seconds = secs, loglik = as.numeric(logLik(fit)), mu = if (is.null(D)) exp(coef(fit)[["count_(Intercept)"]]) else NA,
             theta = fit$theta, pi = plogis(coef(fit)[["zero_(Intercept)"]]), warnings = length(w), error = err)
})
t_all <- proc.time()[["elapsed"]] - t_all
write.csv(do.call(rbind, rows), args[2], row.names = FALSE)
cat(sprintf("total_seconds %.6f\n", t_all))

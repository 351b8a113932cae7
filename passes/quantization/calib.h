/* calib.h: calibration statistics of quantize-static (internal to the plugin).
 *
 * Each calibrated tensor keeps its min, max, element count and a histogram of its
 * values. The histogram has QC_BINS bins over [-R, R) with R = 2^exp the smallest power
 * of two above every |x| seen (at least 2^-126): bin i holds the x with
 * floor(x * QC_BINS / (2R)) = i - QC_BINS / 2. When a larger |x| arrives, R doubles
 * (once or more) and pairs of bins merge into one: floor(floor(t) / 2) = floor(t / 2)
 * for every real t, so the merged histogram is exactly the one that binning everything
 * at the new R would have given. Hence the final histogram depends only on the
 * multiset of values, not on their order or on how they were split into runs, and
 * merging the statistics of several runs (stats files) gives, bit for bit, the
 * statistics of one run over all their samples. min and max merge exactly too.
 *
 * The stats file is text: a header line "mof-quant-stats 1", "bins B", "samples N",
 * then per tensor a line "tensor NAME DTYPE MIN MAX COUNT NONFINITE EXP NNZ" (NAME with
 * bytes outside '!'..'~' and '%' written as %XX; DTYPE the ONNX element type seen, 1 for
 * float, any other type is recorded with no numbers so that it is skipped as it would
 * be in a calibration run; MIN/MAX as C99 hex floats, exact) followed by one line of NNZ
 * "index:count" pairs. */
#ifndef MOF_QUANT_CALIB_H
#define MOF_QUANT_CALIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mof/mof.h>

#define QC_BINS 4096

typedef struct qc_stat {
    char *name;       /* the value's name (owned) */
    int dtype;        /* element type seen (mof_dtype), 0 while none */
    float min, max;   /* of the finite values seen; +inf / -inf while none */
    int64_t count;    /* finite values seen */
    int64_t nonfinite;/* NaN and inf values seen (skipped) */
    int exp;          /* R = 2^exp; INT32_MIN while empty */
    int64_t *hist;    /* QC_BINS counts (owned) */
} qc_stat;

typedef struct qc_stats {
    qc_stat *items;
    size_t n, cap;
    int64_t samples;  /* calibration samples (runs) that went in */
} qc_stats;

void qc_stats_init(qc_stats *s);
void qc_stats_clear(qc_stats *s);
/* The stat of that name, or NULL. */
qc_stat *qc_stats_find(qc_stats *s, const char *name);
/* The stat of that name, added empty when absent; NULL when out of memory. */
qc_stat *qc_stats_get(qc_stats *s, const char *name);
/* Adds n floats to a stat. MOF_ERR_NOMEM or MOF_OK. */
mof_status qc_stat_add(qc_stat *st, const float *x, size_t n);
/* Adds every stat of src into dst (by name). */
mof_status qc_stats_merge(qc_stats *dst, const qc_stats *src);
/* True when both hold the same names (in any order) with identical numbers. */
bool qc_stats_equal(const qc_stats *a, const qc_stats *b);

/* Writes the stats file through mof_output (atomic). Reports errors on ctx. */
mof_status qc_stats_write(mof_context *ctx, const qc_stats *s, const char *path);
/* Reads a stats file and merges it into s. Errors name the file and line. */
mof_status qc_stats_read(mof_context *ctx, qc_stats *s, const char *path);

typedef enum qc_method { QC_MINMAX = 0, QC_PERCENTILE = 1, QC_ENTROPY = 2 } qc_method;

/* The range [*lo, *hi] of a stat by method: minmax is [min, max]; percentile is
 * [q(100 - p), q(p)], q(a) read off the histogram (the lower edge of the bin where the
 * cumulative count first passes a% of the count for the low end, the upper edge of
 * the bin where it reaches a% for the high end), clamped to [min, max]; entropy picks
 * the threshold T on the histogram of |x| that minimizes the KL divergence between the
 * clipped distribution and its quantization to n_levels levels (qc_kl_search, on the
 * histogram coarsened by qc_kl_coarsen to suit the number of values, with its first
 * bin, the exact zeros, left out) and clips to [-T, T] within [min, max]. An empty
 * stat gives [0, 0]. */
void qc_range(const qc_stat *st, qc_method method, double percentile, int n_levels,
              float *lo, float *hi);

/* The entropy method, exposed for its tests.
 *
 * qc_kl_coarsen merges pairs of bins of the |x| histogram h (used bins in use, counts
 * of n values) until at most max(n / QC_KL_PER_BIN, nq) bins are in use, and returns
 * how many times it merged (the bin width grew by 2^that). A histogram of a few
 * thousand values over 2048 bins is mostly sampling noise, which the KL search reads
 * as structure that a wider range would lose (the noise's KL grows with bins / values),
 * so it clips too much; with about QC_KL_PER_BIN values per bin that noise is small
 * next to what clipping costs. With fewer than nq bins left, nothing is clipped.
 * Merging pairs keeps the result a function of the statistics alone, so stats files
 * still split and merge exactly.
 *
 * qc_kl_search is the TensorRT threshold search (Migacz, "8-bit Inference with
 * TensorRT", GTC 2017, as MXNet and ONNX Runtime implement it): for i from nq to used
 * bins, P is the first i bins with the rest added to the last, Q the first i bins
 * merged into nq levels (level c: bins [c i / nq, (c + 1) i / nq); MXNet and ORT give
 * the last level the remainder of i / nq, which skews the search) and spread back over
 * the bins where P is non-zero; both are smoothed (zero bins get QC_KL_EPS, taken off
 * the others) and the i of the smallest KL(P || Q) is returned (used when used <= nq).
 * ORT's own Entropy calibration, with its defaults (128 bins, 128 levels), tries only
 * the whole range, which makes it min/max with a symmetric range. */
#define QC_KL_PER_BIN 64
#define QC_KL_EPS 1e-4
int qc_kl_coarsen(int64_t *h, size_t *used, size_t nq, int64_t n);
size_t qc_kl_search(const int64_t *h, size_t used, size_t nq);

/* Calibration data: a list of samples, each one input tensor per graph input. */
typedef struct qc_source qc_source;

/* Opens spec for the model: "random:N" (N seeded random input sets, mof_random_inputs,
 * with a warning) or a folder holding either input_0.pb, ... (one ONNX test-data set:
 * one sample), sub-folders test_data_set_<k>/ (ONNX test data, one sample each, in
 * numeric order) or one NAME.npy / NAME.pb per graph input whose
 * first dim is split into samples of the input's first dim (1 when it is symbolic).
 * Errors name the file. */
mof_status qc_source_open(mof_context *ctx, const mof_model *model, const char *spec,
                          qc_source **out);
size_t qc_source_n(const qc_source *src);
/* True for random:N (the data says nothing about real inputs). */
bool qc_source_is_random(const qc_source *src);
/* Sample k: inputs[i] receives a new reference (NULL for an initializer input). */
mof_status qc_source_get(qc_source *src, size_t k, size_t n_inputs, mof_tensor **inputs);
void qc_source_destroy(qc_source *src);

#endif

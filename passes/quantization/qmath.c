/* The quantization arithmetic shared by the plugin's passes (see qmath.h). */
#include <math.h>
#include <stdlib.h>

#include "qmath.h"

bool qm_range(mof_dtype t, int32_t *lo, int32_t *hi)
{
    switch (t) {
    case MOF_DTYPE_INT8: *lo = -128, *hi = 127; return true;
    case MOF_DTYPE_UINT8: *lo = 0, *hi = 255; return true;
    case MOF_DTYPE_INT4: *lo = -8, *hi = 7; return true;   /* added by quantize-weights */
    case MOF_DTYPE_UINT4: *lo = 0, *hi = 15; return true;
    default: return false;
    }
}

/* Rounds half to even without depending on the floating-point environment. */
static double round_half_even(double v)
{
    double f = floor(v), d = v - f;
    if (d > 0.5)
        return f + 1;
    if (d < 0.5)
        return f;
    return fmod(f, 2.0) == 0 ? f : f + 1;
}

void qm_params(float lo, float hi, mof_dtype t, bool symmetric, bool reduce_range,
               float *scale, int32_t *zero_point)
{
    int32_t qlo = 0, qhi = 0;
    qm_range(t, &qlo, &qhi);
    if (reduce_range) {
        /* One bit less: [-64, 63] or [0, 127]. */
        qlo /= 2;
        qhi /= 2;
    }
    lo = fminf(lo, 0.0f);
    hi = fmaxf(hi, 0.0f);
    if (symmetric) {
        float m = fmaxf(-lo, hi);
        lo = -m;
        hi = m;
    }
    double range = (double)hi - (double)lo;
    if (!(range > 0) || !isfinite(range)) {
        *scale = 1.0f;
        *zero_point = symmetric && qlo == 0 ? (qhi + 1) / 2 : (qlo < 0 ? 0 : qlo);
        return;
    }
    if (symmetric) {
        /* Signed: [-m, m] onto [-(qhi), qhi], zero point 0; unsigned: mid-point. */
        double half = qlo < 0 ? (double)qhi : ((double)qhi - (double)qlo) / 2.0;
        *scale = (float)((double)hi / half);
        *zero_point = qlo < 0 ? 0 : (qhi + 1) / 2;
        return;
    }
    double s = range / ((double)qhi - (double)qlo);
    double zp = round_half_even((double)qlo - (double)lo / s);
    if (zp < qlo)
        zp = qlo;
    if (zp > qhi)
        zp = qhi;
    *scale = (float)s;
    *zero_point = (int32_t)zp;
}

int32_t qm_quantize(float x, float scale, int32_t zero_point, mof_dtype t)
{
    int32_t lo = 0, hi = 0;
    qm_range(t, &lo, &hi);
    if (isnan(x))
        return zero_point;
    double r = round_half_even((double)(x / scale)) + zero_point;
    if (r <= lo)
        return lo;
    if (r >= hi)
        return hi;
    return (int32_t)r;
}

mof_status qm_quantize_weight(const mof_tensor *w, int axis, int64_t block, mof_dtype t,
                              bool symmetric, bool reduce_range, mof_tensor **q,
                              mof_tensor **scale, mof_tensor **zero_point)
{
    int32_t tlo, thi;
    size_t rank = mof_tensor_rank(w);
    if (mof_tensor_dtype(w) != MOF_DTYPE_FLOAT || !qm_range(t, &tlo, &thi))
        return MOF_ERR_INVALID_ARG;
    if (axis >= (int)rank || (axis < 0 && block > 0))
        return MOF_ERR_INVALID_ARG;
    const int64_t *dims = mof_tensor_dims(w);
    int64_t outer = 1, n_axis = 1, inner = 1;
    if (axis >= 0) {
        for (int i = 0; i < axis; i++)
            outer *= dims[i];
        n_axis = dims[axis];
        for (size_t i = (size_t)axis + 1; i < rank; i++)
            inner *= dims[i];
    } else {
        inner = mof_tensor_numel(w);
    }
    /* Groups: per tensor 1; per channel n_axis; blocked ceil(n_axis / block) per
     * (outer, inner) position. */
    int64_t n_blocks = block > 0 ? (n_axis + block - 1) / block : n_axis;
    int64_t *sdims = malloc((rank ? rank : 1) * sizeof(*sdims));
    size_t srank = 0;
    if (!sdims)
        return MOF_ERR_NOMEM;
    if (block > 0) {
        for (size_t i = 0; i < rank; i++)
            sdims[i] = (int)i == axis ? n_blocks : dims[i];
        srank = rank;
    } else if (axis >= 0) {
        sdims[0] = n_axis;
        srank = 1;
    }
    mof_tensor *tq = mof_tensor_create(t, rank, dims);
    mof_tensor *ts = mof_tensor_create(MOF_DTYPE_FLOAT, srank, sdims);
    mof_tensor *tz = mof_tensor_create(t, srank, sdims);
    free(sdims);
    if (!tq || !ts || !tz) {
        mof_tensor_unref(tq);
        mof_tensor_unref(ts);
        mof_tensor_unref(tz);
        return MOF_ERR_NOMEM;
    }
    const float *src = mof_tensor_data(w);
    float *sd = mof_tensor_data_mut(ts);
    void *qd = mof_tensor_data_mut(tq), *zd = mof_tensor_data_mut(tz);
    bool is_signed = tlo < 0;
    int64_t span = block > 0 ? block : (axis >= 0 ? 1 : n_axis);
    int64_t per_group_axis = axis >= 0 ? span : 1;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t b = 0; b < (axis >= 0 ? n_blocks : 1); b++) {
            /* Per channel without blocks: one group per (channel), all outer/inner. */
            int64_t a0 = axis >= 0 ? b * per_group_axis : 0;
            int64_t a1 = axis >= 0 ? a0 + per_group_axis : 1;
            if (a1 > n_axis)
                a1 = n_axis;
            int64_t i_lo = 0, i_hi = block > 0 ? inner : 1;
            for (int64_t in = i_lo; in < i_hi; in++) {
                float lo = 0, hi = 0;
                int64_t o_lo = block > 0 ? o : 0, o_hi = block > 0 ? o + 1 : outer;
                int64_t n_lo = block > 0 ? in : 0, n_hi = block > 0 ? in + 1 : inner;
                for (int64_t oo = o_lo; oo < o_hi; oo++)
                    for (int64_t a = a0; a < a1; a++)
                        for (int64_t ii = n_lo; ii < n_hi; ii++) {
                            float v = src[(oo * n_axis + a) * inner + ii];
                            lo = fminf(lo, v);
                            hi = fmaxf(hi, v);
                        }
                float s;
                int32_t z;
                qm_params(lo, hi, t, symmetric, reduce_range, &s, &z);
                int64_t gi = block > 0 ? (o * n_blocks + b) * inner + in : b;
                sd[gi] = s;
                if (is_signed)
                    ((int8_t *)zd)[gi] = (int8_t)z;
                else
                    ((uint8_t *)zd)[gi] = (uint8_t)z;
                for (int64_t oo = o_lo; oo < o_hi; oo++)
                    for (int64_t a = a0; a < a1; a++)
                        for (int64_t ii = n_lo; ii < n_hi; ii++) {
                            int64_t k = (oo * n_axis + a) * inner + ii;
                            int32_t v = qm_quantize(src[k], s, z, t);
                            if (is_signed)
                                ((int8_t *)qd)[k] = (int8_t)v;
                            else
                                ((uint8_t *)qd)[k] = (uint8_t)v;
                        }
            }
        }
        if (block <= 0)
            break; /* per tensor / per channel: the group loops covered every outer */
    }
    *q = tq;
    *scale = ts;
    *zero_point = tz;
    return MOF_OK;
}

double qm_sqnr_db(const float *ref, const float *approx, size_t n)
{
    double sig = 0, noise = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)ref[i] - (double)approx[i];
        sig += (double)ref[i] * ref[i];
        noise += d * d;
    }
    if (noise == 0)
        return INFINITY;
    return 10.0 * log10(sig / noise);
}

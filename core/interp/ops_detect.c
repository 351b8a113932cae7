/* ops_detect.c: object-detection operators of the reference interpreter:
 * NonMaxSuppression and RoiAlign.
 *
 * Both follow ONNX Runtime's kernels, which the ONNX reference implementation mirrors:
 * NonMaxSuppression compares boxes in single precision, as a float kernel does (a
 * threshold test on the boundary depends on it); RoiAlign samples each bin on a regular
 * grid with bilinear interpolation, in double, and rounds once into the output type. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interp/kernel.h"

/* ------------------------------------------------------------------ NonMaxSuppression */

/* A box as [min, max] along y and x. */
typedef struct nms_box {
    float y0, x0, y1, x1;
} nms_box;

/* Box i of a batch's [N, 4] data: corners [y1, x1, y2, x2] in either order, or
 * (center_point_box) [x_center, y_center, width, height]. */
static nms_box nms_get(const float *b, bool center)
{
    nms_box r;
    if (center) {
        float hw = b[2] / 2, hh = b[3] / 2;
        r.x0 = b[0] - hw;
        r.x1 = b[0] + hw;
        r.y0 = b[1] - hh;
        r.y1 = b[1] + hh;
    } else {
        r.y0 = fminf(b[0], b[2]);
        r.y1 = fmaxf(b[0], b[2]);
        r.x0 = fminf(b[1], b[3]);
        r.x1 = fmaxf(b[1], b[3]);
    }
    return r;
}

/* True when a and b overlap by more than the threshold (intersection over union). */
static bool nms_suppresses(nms_box a, nms_box b, float threshold)
{
    float ix0 = fmaxf(a.x0, b.x0), ix1 = fminf(a.x1, b.x1);
    float iy0 = fmaxf(a.y0, b.y0), iy1 = fminf(a.y1, b.y1);
    if (ix1 <= ix0 || iy1 <= iy0)
        return false;
    float inter = (ix1 - ix0) * (iy1 - iy0);
    float area_a = (a.x1 - a.x0) * (a.y1 - a.y0), area_b = (b.x1 - b.x0) * (b.y1 - b.y0);
    float uni = area_a + area_b - inter;
    if (inter <= 0 || area_a <= 0 || area_b <= 0 || uni <= 0)
        return false;
    return inter / uni > threshold;
}

/* Candidates sort by score, highest first, then by index. */
typedef struct nms_cand {
    float score;
    int64_t idx;
} nms_cand;

static int nms_cand_cmp(const void *pa, const void *pb)
{
    const nms_cand *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx ? 1 : 0;
}

/* The value of an optional one-element input (def when omitted or empty). */
static mof_status nms_scalar(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t i,
                             double def, double *v)
{
    const mof_tensor *t = mof_kernel_input(n_in, in, i);
    *v = def;
    if (!t || t->numel == 0)
        return MOF_OK;
    if (t->numel != 1 || !mof_dtype_is_numeric(t->dtype))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "input %zu must hold one number", i);
    *v = mof_dtype_is_float(t->dtype) ? mof_tensor_get_f64(t, 0)
                                      : (double)mof_tensor_get_i64(t, 0);
    return MOF_OK;
}

/* NonMaxSuppression: per batch and class, boxes by decreasing score (above
 * score_threshold when given), each kept unless it overlaps a kept one by more than
 * iou_threshold, up to max_output_boxes_per_class; [batch, class, box] per kept box. */
static mof_status k_nms(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                        mof_tensor **out)
{
    mof_status st = mof_kernel_need_inputs(kc, n_in, in, 2);
    if (st != MOF_OK)
        return st;
    const mof_tensor *boxes = in[0], *scores = in[1];
    if (boxes->dtype != MOF_DTYPE_FLOAT || scores->dtype != MOF_DTYPE_FLOAT)
        return mof_kernel_unsupported_type(kc, boxes->dtype != MOF_DTYPE_FLOAT ? boxes->dtype
                                                                               : scores->dtype);
    if (boxes->rank != 3 || boxes->dims[2] != 4 || scores->rank != 3 ||
        scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1])
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "boxes must be [batches, boxes, 4] and scores [batches, "
                                "classes, boxes]");
    double max_out, iou, score_th;
    bool has_score_th = n_in > 4 && in[4] && in[4]->numel > 0;
    if ((st = nms_scalar(kc, n_in, in, 2, 0, &max_out)) != MOF_OK ||
        (st = nms_scalar(kc, n_in, in, 3, 0, &iou)) != MOF_OK ||
        (st = nms_scalar(kc, n_in, in, 4, 0, &score_th)) != MOF_OK)
        return st;
    bool center = mof_node_attr_int(kc->node, "center_point_box", 0) != 0;
    int64_t nb = boxes->dims[0], nc = scores->dims[1], n = boxes->dims[1];
    int64_t limit = max_out < 0 ? 0 : max_out > (double)n ? n : (int64_t)max_out;
    nms_cand *cand = mof_calloc((size_t)(n ? n : 1), sizeof(*cand));
    int64_t *kept = mof_calloc((size_t)(n ? n : 1), sizeof(*kept));
    int64_t *sel = mof_calloc((size_t)(nb * nc * limit * 3 + 1), sizeof(*sel));
    int64_t n_sel = 0;
    if (!cand || !kept || !sel) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    const float *bd = boxes->data, *sd = scores->data;
    for (int64_t b = 0; b < nb; b++) {
        const float *bb = bd + b * n * 4;
        for (int64_t c = 0; c < nc; c++) {
            const float *sc = sd + (b * nc + c) * n;
            int64_t m = 0, n_kept = 0;
            for (int64_t i = 0; i < n; i++)
                if (!has_score_th || sc[i] > (float)score_th)
                    cand[m++] = (nms_cand){sc[i], i};
            qsort(cand, (size_t)m, sizeof(*cand), nms_cand_cmp);
            for (int64_t j = 0; j < m && n_kept < limit; j++) {
                nms_box box = nms_get(bb + cand[j].idx * 4, center);
                bool keep = true;
                for (int64_t q = 0; q < n_kept && keep; q++)
                    keep = !nms_suppresses(box, nms_get(bb + kept[q] * 4, center), (float)iou);
                if (!keep)
                    continue;
                kept[n_kept++] = cand[j].idx;
                sel[3 * n_sel] = b;
                sel[3 * n_sel + 1] = c;
                sel[3 * n_sel + 2] = cand[j].idx;
                n_sel++;
            }
        }
    }
    int64_t dims[2] = {n_sel, 3};
    if (!(out[0] = mof_kernel_new_tensor(kc, MOF_DTYPE_INT64, 2, dims))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    if (n_sel)
        memcpy(out[0]->data, sel, (size_t)(3 * n_sel) * sizeof(int64_t));
done:
    free(cand);
    free(kept);
    free(sel);
    return st;
}

static mof_status infer_nms(mof_infer_ctx *ic)
{
    int64_t dims[2] = {-1, 3};
    return ic->n_out ? mof_shape_set(&ic->out[0], MOF_DTYPE_INT64, 2, dims, NULL) : MOF_OK;
}

/* ------------------------------------------------------------------ RoiAlign */

typedef struct roi_params {
    int64_t oh, ow, sampling;
    double scale;
    bool max, half_pixel;
} roi_params;

static mof_status roi_params_get(mof_kernel_ctx *kc, roi_params *p)
{
    const mof_node *n = kc->node;
    const char *mode = mof_node_attr_string(n, "mode", "avg", NULL);
    const char *ct = kc->opset >= 16 ? mof_node_attr_string(n, "coordinate_transformation_mode",
                                                            "half_pixel", NULL)
                                     : "output_half_pixel";
    p->oh = mof_node_attr_int(n, "output_height", 1);
    p->ow = mof_node_attr_int(n, "output_width", 1);
    p->sampling = mof_node_attr_int(n, "sampling_ratio", 0);
    p->scale = mof_node_attr_float(n, "spatial_scale", 1.0f);
    p->max = !strcmp(mode, "max");
    p->half_pixel = !strcmp(ct, "half_pixel");
    if (!p->max && strcmp(mode, "avg"))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "mode '%s' is not supported", mode);
    if (!p->half_pixel && strcmp(ct, "output_half_pixel"))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "coordinate_transformation_mode '%s' is not supported", ct);
    if (p->oh < 1 || p->ow < 1 || p->sampling < 0)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "output_height and output_width must be positive, "
                                "sampling_ratio not negative");
    return MOF_OK;
}

/* One sample of a bin: four input positions of a plane and their weights. */
typedef struct roi_sample {
    int64_t pos[4];
    double w[4];
} roi_sample;

/* The sample at (y, x) of an h x w plane: bilinear, edges clamped, zero outside. */
static roi_sample roi_sample_at(double y, double x, int64_t h, int64_t w)
{
    roi_sample s = {{0, 0, 0, 0}, {0, 0, 0, 0}};
    if (y < -1.0 || y > (double)h || x < -1.0 || x > (double)w)
        return s;
    y = y < 0 ? 0 : y;
    x = x < 0 ? 0 : x;
    int64_t y_lo = (int64_t)y, x_lo = (int64_t)x, y_hi, x_hi;
    if (y_lo >= h - 1) {
        y_hi = y_lo = h - 1;
        y = (double)y_lo;
    } else {
        y_hi = y_lo + 1;
    }
    if (x_lo >= w - 1) {
        x_hi = x_lo = w - 1;
        x = (double)x_lo;
    } else {
        x_hi = x_lo + 1;
    }
    double ly = y - (double)y_lo, lx = x - (double)x_lo, hy = 1.0 - ly, hx = 1.0 - lx;
    s.pos[0] = y_lo * w + x_lo;
    s.pos[1] = y_lo * w + x_hi;
    s.pos[2] = y_hi * w + x_lo;
    s.pos[3] = y_hi * w + x_hi;
    s.w[0] = hy * hx;
    s.w[1] = hy * lx;
    s.w[2] = ly * hx;
    s.w[3] = ly * lx;
    return s;
}

/* RoiAlign: each region of interest [x1, y1, x2, y2] (scaled by spatial_scale) of its
 * batch's image is divided into output_height x output_width bins; each bin is the
 * average (or, in max mode, the largest weighted corner, as ONNX Runtime computes it)
 * of a grid of bilinear samples. */
static mof_status k_roialign(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                             size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_inputs(kc, n_in, in, 3);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *rois = in[1], *bi = in[2];
    roi_params p;
    if ((st = roi_params_get(kc, &p)) != MOF_OK)
        return st;
    if (!mof_dtype_is_float(x->dtype) || rois->dtype != x->dtype)
        return mof_kernel_unsupported_type(kc, mof_dtype_is_float(x->dtype) ? rois->dtype
                                                                            : x->dtype);
    if (x->rank != 4 || rois->rank != 2 || rois->dims[1] != 4 || bi->rank != 1 ||
        bi->dims[0] != rois->dims[0] || !mof_dtype_is_int(bi->dtype))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "X must be [N, C, H, W], rois [num_rois, 4] and batch_indices "
                                "[num_rois] integers");
    int64_t nr = rois->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
    int64_t dims[4] = {nr, c, p.oh, p.ow};
    mof_tensor *y = mof_kernel_new_tensor(kc, x->dtype, 4, dims);
    roi_sample *smp = NULL;
    if (!y)
        return MOF_ERR_NOMEM;
    double off = p.half_pixel ? 0.5 : 0.0;
    for (int64_t r = 0; r < nr && st == MOF_OK; r++) {
        int64_t b = mof_tensor_get_i64(bi, r);
        if (b < 0 || b >= x->dims[0]) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                  "batch index %" PRId64 " is out of range", b);
            break;
        }
        double x0 = mof_tensor_get_f64(rois, 4 * r) * p.scale - off;
        double y0 = mof_tensor_get_f64(rois, 4 * r + 1) * p.scale - off;
        double rw = mof_tensor_get_f64(rois, 4 * r + 2) * p.scale - off - x0;
        double rh = mof_tensor_get_f64(rois, 4 * r + 3) * p.scale - off - y0;
        if (!p.half_pixel) {
            rw = rw > 1.0 ? rw : 1.0;
            rh = rh > 1.0 ? rh : 1.0;
        }
        double bh = rh / (double)p.oh, bw = rw / (double)p.ow;
        int64_t gh = p.sampling > 0 ? p.sampling : (int64_t)ceil(rh / (double)p.oh);
        int64_t gw = p.sampling > 0 ? p.sampling : (int64_t)ceil(rw / (double)p.ow);
        int64_t ns = gh * gw, count = ns > 1 ? ns : 1;
        /* The samples of every bin, shared by the channels. */
        free(smp);
        smp = mof_calloc((size_t)(p.oh * p.ow * (ns ? ns : 1)), sizeof(*smp));
        if (!smp) {
            st = mof_kernel_nomem(kc);
            break;
        }
        for (int64_t ph = 0; ph < p.oh; ph++)
            for (int64_t pw = 0; pw < p.ow; pw++)
                for (int64_t iy = 0; iy < gh; iy++)
                    for (int64_t ix = 0; ix < gw; ix++)
                        smp[((ph * p.ow + pw) * gh + iy) * gw + ix] = roi_sample_at(
                            y0 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh,
                            x0 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw, h, w);
        for (int64_t ch = 0; ch < c; ch++) {
            int64_t base = (b * c + ch) * h * w;
            for (int64_t o = 0; o < p.oh * p.ow; o++) {
                double acc = 0.0;
                for (int64_t k = 0; k < ns; k++) {
                    const roi_sample *s = &smp[o * ns + k];
                    double v[4];
                    for (int q = 0; q < 4; q++)
                        v[q] = s->w[q] * mof_tensor_get_f64(x, base + s->pos[q]);
                    if (!p.max) {
                        acc += v[0] + v[1] + v[2] + v[3];
                    } else {
                        double m = fmax(fmax(v[0], v[1]), fmax(v[2], v[3]));
                        acc = k == 0 || m > acc ? m : acc;
                    }
                }
                mof_tensor_set_f64(y, (r * c + ch) * p.oh * p.ow + o,
                                   p.max ? acc : acc / (double)count);
            }
        }
    }
    free(smp);
    mof_kernel_set_output(st, y, &out[0]);
    return st;
}

static mof_status infer_roialign(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0), *rois = mof_infer_input(ic, 1);
    if (!x)
        return MOF_OK;
    mof_dimvec v;
    mof_status st = mof_dimvec_init(&v, 4);
    if (st != MOF_OK)
        return st;
    if (rois)
        mof_dimvec_take(&v, 0, rois, 0);
    mof_dimvec_take(&v, 1, x, 1);
    mof_dimvec_set(&v, 2, mof_node_attr_int(ic->node, "output_height", 1));
    mof_dimvec_set(&v, 3, mof_node_attr_int(ic->node, "output_width", 1));
    return mof_dimvec_emit(ic, 0, x->dtype, &v);
}

/* ------------------------------------------------------------------ the table */

const mof_op_def mof_ops_detect[] = {
    {"", "NonMaxSuppression", 10, 0, k_nms, infer_nms},
    {"", "RoiAlign", 10, 0, k_roialign, infer_roialign},
    {0},
};

/* Reference device law: a static current map from an MLP in the brains-py surrogate layout
 * (7 electrode voltages → Linear → ReLU → … → Linear → 1), spec §a.2.  Used in voltage mode with
 * the gauge shift I_out(V, Vo) = amp · f(V_0..6 − Vo) nA (spec §a.3).
 *
 * Files: .safetensors with tensors "<prefix>.<i>.weight" [out, in] and "<prefix>.<i>.bias" [out]
 * (layer order = the integer i, as in raw_model.0/2/4/6/8/10), or a flat float32 .npy holding
 * W0 b0 W1 b1 … row-major for the default 7 → 90×5 → 1 layout (33,571 values). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "materia/io.h"
#include "rnpu_impl.h"

void rnpu_mlp_free(rnpu_mlp *m)
{
    if (!m) return;
    for (int l = 0; l < m->nl; l++) {
        free(m->w[l]);
        free(m->b[l]);
    }
    free(m);
}

static int layer_index(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    if (n <= s || strcmp(name + n - s, suffix) != 0) return -1;
    /* digits just before the suffix */
    size_t e = n - s, b = e;
    while (b > 0 && isdigit((unsigned char)name[b - 1])) b--;
    if (b == e || e - b > 6) return -1;
    return atoi(name + b);
}

static mt_status finish(rnpu_mlp *m, const char *path, mt_err *err)
{
    if (m->nl < 1 || m->dim[0] != 7 || m->dim[m->nl] != 1) {
        return mt_err_set(err, MT_ERR_FORMAT, "%s: MLP must map 7 inputs to 1 output (got %d → %d, %d layers)",
                          path, m->dim[0], m->dim[m->nl], m->nl);
    }
    m->maxdim = 0;
    for (int l = 0; l <= m->nl; l++) {
        if (m->dim[l] < 1 || m->dim[l] > 1024)
            return mt_err_set(err, MT_ERR_FORMAT, "%s: layer width %d out of range", path, m->dim[l]);
        if (m->dim[l] > m->maxdim) m->maxdim = m->dim[l];
    }
    for (int l = 0; l < m->nl; l++) {
        int64_t nw = (int64_t)m->dim[l + 1] * m->dim[l];
        for (int64_t i = 0; i < nw; i++)
            if (!isfinite(m->w[l][i])) return mt_err_set(err, MT_ERR_DATA, "%s: non-finite weight", path);
        for (int i = 0; i < m->dim[l + 1]; i++)
            if (!isfinite(m->b[l][i])) return mt_err_set(err, MT_ERR_DATA, "%s: non-finite bias", path);
    }
    return MT_OK;
}

static mt_status load_st(const char *path, rnpu_mlp *m, mt_err *err)
{
    mt_safetensors st;
    mt_status s = mt_st_read(path, &st, err);
    if (s) return s;
    int idx[8], nw = 0;
    const mt_array *W[8] = {0}, *Bv[8] = {0};
    for (int i = 0; i < st.n; i++) {
        int li = layer_index(st.t[i].name, ".weight");
        if (li < 0) continue;
        if (nw >= 8) {
            mt_st_free(&st);
            return mt_err_set(err, MT_ERR_FORMAT, "%s: more than 8 linear layers", path);
        }
        idx[nw] = li;
        W[nw] = &st.t[i].a;
        char bn[512];
        size_t L = strlen(st.t[i].name) - strlen(".weight");
        if (L > 400) L = 400;
        memcpy(bn, st.t[i].name, L);
        strcpy(bn + L, ".bias");
        Bv[nw] = mt_st_get(&st, bn);
        nw++;
    }
    if (nw == 0) {
        mt_st_free(&st);
        return mt_err_set(err, MT_ERR_FORMAT, "%s: no '<n>.weight' tensors (brains-py layout expected)", path);
    }
    /* sort by layer index */
    for (int a = 0; a < nw; a++)
        for (int c = a + 1; c < nw; c++)
            if (idx[c] < idx[a]) {
                int t = idx[a];
                idx[a] = idx[c], idx[c] = t;
                const mt_array *x = W[a];
                W[a] = W[c], W[c] = x;
                x = Bv[a];
                Bv[a] = Bv[c], Bv[c] = x;
            }
    m->nl = nw;
    for (int l = 0; l < nw; l++) {
        if (W[l]->ndim != 2 || !Bv[l] || Bv[l]->ndim != 1 || Bv[l]->shape[0] != W[l]->shape[0] ||
            (l > 0 && W[l]->shape[1] != m->dim[l])) {
            mt_st_free(&st);
            return mt_err_set(err, MT_ERR_FORMAT, "%s: layer %d has inconsistent weight/bias shapes", path, l);
        }
        m->dim[l] = (int)W[l]->shape[1];
        m->dim[l + 1] = (int)W[l]->shape[0];
        if (m->dim[l] > 1024 || m->dim[l + 1] > 1024) {
            mt_st_free(&st);
            return mt_err_set(err, MT_ERR_FORMAT, "%s: layer %d too wide", path, l);
        }
        mt_array wa = *W[l], ba = *Bv[l];
        size_t nwv = (size_t)W[l]->shape[0] * (size_t)W[l]->shape[1], nb = (size_t)Bv[l]->shape[0];
        m->w[l] = malloc(sizeof(float) * nwv);
        m->b[l] = malloc(sizeof(float) * nb);
        if (!m->w[l] || !m->b[l]) {
            mt_st_free(&st);
            return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        }
        /* copy, converting to float32 */
        mt_array cw, cb;
        if (mt_array_alloc(&cw, wa.dtype, wa.ndim, wa.shape, err) || mt_array_alloc(&cb, ba.dtype, ba.ndim, ba.shape, err)) {
            mt_st_free(&st);
            return MT_ERR_NOMEM;
        }
        memcpy(cw.data, wa.data, nwv * mt_dtype_size(wa.dtype));
        memcpy(cb.data, ba.data, nb * mt_dtype_size(ba.dtype));
        if ((s = mt_array_to_f32(&cw, err)) || (s = mt_array_to_f32(&cb, err))) {
            mt_array_free(&cw), mt_array_free(&cb);
            mt_st_free(&st);
            return s;
        }
        memcpy(m->w[l], cw.data, sizeof(float) * nwv);
        memcpy(m->b[l], cb.data, sizeof(float) * nb);
        mt_array_free(&cw), mt_array_free(&cb);
    }
    mt_st_free(&st);
    return MT_OK;
}

static mt_status load_npy(const char *path, rnpu_mlp *m, mt_err *err)
{
    mt_array a;
    mt_status s = mt_npy_read(path, &a, err);
    if (s) return s;
    if ((s = mt_array_to_f32(&a, err))) {
        mt_array_free(&a);
        return s;
    }
    const int H = 90, L = 5;
    int64_t want = 7 * H + H + (int64_t)(L - 1) * (H * H + H) + H + 1;
    if (mt_array_numel(&a) != want) {
        int64_t got = mt_array_numel(&a);
        mt_array_free(&a);
        return mt_err_set(err, MT_ERR_FORMAT,
                          "%s: flat MLP blob must hold %lld float32 values (7→90×5→1), got %lld", path,
                          (long long)want, (long long)got);
    }
    m->nl = L + 1;
    m->dim[0] = 7;
    for (int l = 1; l <= L; l++) m->dim[l] = H;
    m->dim[L + 1] = 1;
    const float *f = a.data;
    for (int l = 0; l < m->nl; l++) {
        size_t nw = (size_t)m->dim[l + 1] * (size_t)m->dim[l], nb = (size_t)m->dim[l + 1];
        m->w[l] = malloc(sizeof(float) * nw);
        m->b[l] = malloc(sizeof(float) * nb);
        if (!m->w[l] || !m->b[l]) {
            mt_array_free(&a);
            return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        }
        memcpy(m->w[l], f, sizeof(float) * nw);
        f += nw;
        memcpy(m->b[l], f, sizeof(float) * nb);
        f += nb;
    }
    mt_array_free(&a);
    return MT_OK;
}

mt_status rnpu_mlp_load(const char *path, rnpu_mlp **out, mt_err *err)
{
    *out = NULL;
    rnpu_mlp *m = calloc(1, sizeof *m);
    if (!m) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    size_t n = strlen(path);
    mt_status s;
    if (n > 4 && strcmp(path + n - 4, ".npy") == 0) s = load_npy(path, m, err);
    else s = load_st(path, m, err);
    if (!s) s = finish(m, path, err);
    if (s) {
        rnpu_mlp_free(m);
        return s;
    }
    *out = m;
    return MT_OK;
}

/* Forward pass with forward-mode tangent along (1,…,1): dsum = Σ_k ∂f/∂x_k. */
double rnpu_mlp_eval(const rnpu_mlp *m, const double x[7], double *dsum)
{
    double a[1024], t[1024], na[1024], nt[1024];
    for (int i = 0; i < 7; i++) {
        a[i] = x[i];
        t[i] = 1.0;
    }
    for (int l = 0; l < m->nl; l++) {
        int ni = m->dim[l], no = m->dim[l + 1];
        const float *w = m->w[l];
        for (int o = 0; o < no; o++) {
            double s = m->b[l][o], ds = 0;
            const float *wr = w + (size_t)o * (size_t)ni;
            for (int i = 0; i < ni; i++) {
                s += wr[i] * a[i];
                ds += wr[i] * t[i];
            }
            if (l + 1 < m->nl && s < 0) {
                s = 0;
                ds = 0;
            }
            na[o] = s;
            nt[o] = ds;
        }
        memcpy(a, na, sizeof(double) * (size_t)no);
        memcpy(t, nt, sizeof(double) * (size_t)no);
    }
    if (dsum) *dsum = t[0];
    return a[0];
}

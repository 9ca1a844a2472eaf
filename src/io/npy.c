/* NumPy .npy reader/writer (format 1.0, 2.0, 3.0).
 * Layout: "\x93NUMPY" major minor, header length (u16 for v1, u32 for v2/v3), an ASCII Python
 * dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, C, T), } padded with spaces
 * and '\n' to a multiple of 64 bytes, then the raw little-endian data in C order. */
#include "materia/io.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p)) p++;
    return p;
}

/* Find the value following 'key': in the header dict; returns pointer after ':' or NULL. */
static const char *find_key(const char *h, const char *end, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = h; p + kl + 2 <= end; p++) {
        if ((*p == '\'' || *p == '"') && p + kl + 1 < end && memcmp(p + 1, key, kl) == 0 &&
            p[kl + 1] == *p) {
            const char *q = skip_ws(p + kl + 2, end);
            if (q < end && *q == ':') return skip_ws(q + 1, end);
        }
    }
    return NULL;
}

static int parse_descr(const char *p, const char *end, mt_dtype *t)
{
    if (p >= end || (*p != '\'' && *p != '"')) return -1;
    char q = *p++;
    const char *s = p;
    while (p < end && *p != q) p++;
    if (p >= end) return -1;
    size_t n = (size_t)(p - s);
    char d[8];
    if (n < 2 || n > 4) return -1;
    memcpy(d, s, n);
    d[n] = 0;
    char bo = d[0];
    const char *code = d + 1;
    if (strcmp(code, "u1") == 0 && (bo == '|' || bo == '<' || bo == '=')) { *t = MT_U8; return 0; }
    if (strcmp(code, "i1") == 0 && (bo == '|' || bo == '<' || bo == '=')) { *t = MT_I8; return 0; }
    if (bo != '<') return -2; /* big-endian or native-unknown: unsupported */
    if (strcmp(code, "f4") == 0) *t = MT_F32;
    else if (strcmp(code, "f8") == 0) *t = MT_F64;
    else if (strcmp(code, "i4") == 0) *t = MT_I32;
    else if (strcmp(code, "i8") == 0) *t = MT_I64;
    else if (strcmp(code, "i2") == 0) *t = MT_I16;
    else return -1;
    return 0;
}

mt_status mt_npy_parse(const void *buf, size_t len, mt_array *out, mt_err *err)
{
    memset(out, 0, sizeof *out);
    const unsigned char *b = buf;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return mt_err_set(err, MT_ERR_FORMAT, "not a .npy file (bad magic)");
    unsigned major = b[6];
    size_t hl, off;
    if (major == 1) {
        hl = (size_t)b[8] | ((size_t)b[9] << 8);
        off = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return mt_err_set(err, MT_ERR_FORMAT, "truncated .npy header");
        hl = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
        off = 12;
    } else {
        return mt_err_set(err, MT_ERR_FORMAT, "unsupported .npy version %u", major);
    }
    if (hl > len - off) return mt_err_set(err, MT_ERR_FORMAT, "truncated .npy header");
    const char *h = (const char *)b + off, *he = h + hl;

    const char *v = find_key(h, he, "descr");
    mt_dtype t;
    int dr = v ? parse_descr(v, he, &t) : -1;
    if (dr == -2) return mt_err_set(err, MT_ERR_FORMAT, "big-endian .npy data is not supported");
    if (dr != 0) return mt_err_set(err, MT_ERR_FORMAT, "missing or unsupported dtype in .npy header");

    v = find_key(h, he, "fortran_order");
    if (!v) return mt_err_set(err, MT_ERR_FORMAT, "missing fortran_order in .npy header");
    if ((size_t)(he - v) >= 4 && memcmp(v, "True", 4) == 0)
        return mt_err_set(err, MT_ERR_FORMAT, "Fortran-ordered .npy is not supported");
    if (!((size_t)(he - v) >= 5 && memcmp(v, "False", 5) == 0))
        return mt_err_set(err, MT_ERR_FORMAT, "bad fortran_order in .npy header");

    v = find_key(h, he, "shape");
    if (!v || *v != '(') return mt_err_set(err, MT_ERR_FORMAT, "missing shape in .npy header");
    v++;
    int64_t shape[MT_ARRAY_MAXDIM];
    int nd = 0;
    for (;;) {
        v = skip_ws(v, he);
        if (v >= he) return mt_err_set(err, MT_ERR_FORMAT, "unterminated shape in .npy header");
        if (*v == ')') break;
        if (!isdigit((unsigned char)*v)) return mt_err_set(err, MT_ERR_FORMAT, "bad shape in .npy header");
        int64_t d = 0;
        while (v < he && isdigit((unsigned char)*v)) {
            if (d > (INT64_MAX - 9) / 10) return mt_err_set(err, MT_ERR_FORMAT, "shape overflow in .npy header");
            d = d * 10 + (*v - '0');
            v++;
        }
        if (nd >= MT_ARRAY_MAXDIM) return mt_err_set(err, MT_ERR_FORMAT, "too many dimensions in .npy");
        shape[nd++] = d;
        v = skip_ws(v, he);
        if (v < he && *v == ',') v++;
    }
    /* Check that the declared size fits the bytes we have, without overflow. */
    size_t es = mt_dtype_size(t);
    uint64_t n = 1;
    for (int i = 0; i < nd; i++) {
        if (shape[i] != 0 && n > (uint64_t)(len) / (uint64_t)shape[i] + 1)
            return mt_err_set(err, MT_ERR_FORMAT, "shape larger than the file (truncated .npy?)");
        n *= (uint64_t)shape[i];
    }
    size_t data_off = off + hl;
    if (n > (len - data_off) / es)
        return mt_err_set(err, MT_ERR_FORMAT,
                          "truncated .npy: header promises %llu elements, file holds %zu",
                          (unsigned long long)n, (len - data_off) / es);
    mt_status s = mt_array_alloc(out, t, nd, shape, err);
    if (s) return s;
    memcpy(out->data, b + data_off, (size_t)n * es);
    return MT_OK;
}

mt_status mt_npy_read(const char *path, mt_array *out, mt_err *err)
{
    void *buf;
    size_t len;
    mt_status s = mt_file_read_all(path, &buf, &len, 0, err);
    if (s) return s;
    s = mt_npy_parse(buf, len, out, err);
    free(buf);
    if (s) return mt_err_prefix(err, s, "%s", path);
    return MT_OK;
}

static const char *npy_descr(mt_dtype t)
{
    switch (t) {
    case MT_F32: return "<f4";
    case MT_F64: return "<f8";
    case MT_I32: return "<i4";
    case MT_I64: return "<i8";
    case MT_I16: return "<i2";
    case MT_U8: return "|u1";
    case MT_I8: return "|i1";
    }
    return "?";
}

mt_status mt_npy_write(const char *path, const mt_array *a, mt_err *err)
{
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     npy_descr(a->dtype));
    for (int i = 0; i < a->ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld,%s", (long long)a->shape[i],
                      (i + 1 < a->ndim) ? " " : "");
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    /* Total header (magic 10 bytes + dict + padding + '\n') is a multiple of 64. */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hl = (size_t)n + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff),
                             (unsigned char)(hl >> 8)};
    mt_atomic_file af;
    mt_status s = mt_atomic_open(&af, path, err);
    if (s) return s;
    fwrite(pre, 1, 10, af.fp);
    fwrite(dict, 1, (size_t)n, af.fp);
    for (size_t i = 0; i < pad; i++) fputc(' ', af.fp);
    fputc('\n', af.fp);
    size_t bytes = (size_t)mt_array_numel(a) * mt_dtype_size(a->dtype);
    if (bytes && fwrite(a->data, 1, bytes, af.fp) != bytes) {
        mt_atomic_abort(&af);
        return mt_err_set(err, MT_ERR_IO, "%s: write failed", path);
    }
    return mt_atomic_commit(&af, err);
}

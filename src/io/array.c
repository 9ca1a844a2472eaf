/* Arrays, whole-file reads and atomic writes. */
#include "materia/io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

size_t mt_dtype_size(mt_dtype t)
{
    switch (t) {
    case MT_F32: case MT_I32: return 4;
    case MT_F64: case MT_I64: return 8;
    case MT_I16: return 2;
    case MT_U8: case MT_I8: return 1;
    }
    return 0;
}

const char *mt_dtype_name(mt_dtype t)
{
    switch (t) {
    case MT_F32: return "F32";
    case MT_F64: return "F64";
    case MT_I32: return "I32";
    case MT_I64: return "I64";
    case MT_I16: return "I16";
    case MT_U8: return "U8";
    case MT_I8: return "I8";
    }
    return "?";
}

int64_t mt_array_numel(const mt_array *a)
{
    int64_t n = 1;
    for (int i = 0; i < a->ndim; i++) n *= a->shape[i];
    return n;
}

mt_status mt_array_alloc(mt_array *a, mt_dtype t, int ndim, const int64_t *shape, mt_err *err)
{
    memset(a, 0, sizeof *a);
    if (ndim < 0 || ndim > MT_ARRAY_MAXDIM)
        return mt_err_set(err, MT_ERR_ARG, "array rank %d out of range", ndim);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && n > INT64_MAX / 16 / shape[i]))
            return mt_err_set(err, MT_ERR_ARG, "array shape too large");
        n *= shape[i];
        a->shape[i] = shape[i];
    }
    a->dtype = t;
    a->ndim = ndim;
    size_t bytes = (size_t)n * mt_dtype_size(t);
    a->data = calloc(bytes ? bytes : 1, 1);
    if (!a->data) return mt_err_set(err, MT_ERR_NOMEM, "cannot allocate %zu bytes", bytes);
    return MT_OK;
}

void mt_array_free(mt_array *a)
{
    if (!a) return;
    free(a->data);
    a->data = NULL;
    a->ndim = 0;
}

mt_status mt_array_to_f32(mt_array *a, mt_err *err)
{
    if (a->dtype == MT_F32) return MT_OK;
    int64_t n = mt_array_numel(a);
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    if (!f) return mt_err_set(err, MT_ERR_NOMEM, "cannot allocate %lld floats", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        switch (a->dtype) {
        case MT_F64: f[i] = (float)((const double *)a->data)[i]; break;
        case MT_I32: f[i] = (float)((const int32_t *)a->data)[i]; break;
        case MT_I64: f[i] = (float)((const int64_t *)a->data)[i]; break;
        case MT_I16: f[i] = (float)((const int16_t *)a->data)[i]; break;
        case MT_U8: f[i] = (float)((const uint8_t *)a->data)[i]; break;
        case MT_I8: f[i] = (float)((const int8_t *)a->data)[i]; break;
        case MT_F32: break;
        }
    }
    free(a->data);
    a->data = f;
    a->dtype = MT_F32;
    return MT_OK;
}

mt_status mt_file_read_all(const char *path, void **buf, size_t *len, size_t max_bytes, mt_err *err)
{
    *buf = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return mt_err_set(err, MT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return mt_err_set(err, MT_ERR_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    if (max_bytes && n > max_bytes) {
        fclose(fp);
        return mt_err_set(err, MT_ERR_FORMAT, "%s: file too large (%zu bytes)", path, n);
    }
    unsigned char *b = malloc(n + 1);
    if (!b) {
        fclose(fp);
        return mt_err_set(err, MT_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n);
    }
    size_t got = fread(b, 1, n, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || got != n) {
        free(b);
        return mt_err_set(err, MT_ERR_IO, "%s: read error", path);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return MT_OK;
}

mt_status mt_atomic_open(mt_atomic_file *af, const char *path, mt_err *err)
{
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path)
        return mt_err_set(err, MT_ERR_ARG, "%s: path too long", path);
    strcpy(af->path, path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp, "wb");
    if (!af->fp)
        return mt_err_set(err, MT_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    return MT_OK;
}

mt_status mt_atomic_commit(mt_atomic_file *af, mt_err *err)
{
    if (!af->fp) return mt_err_set(err, MT_ERR_STATE, "%s: file not open", af->path);
    int bad = ferror(af->fp);
    if (fflush(af->fp) != 0) bad = 1;
    if (fclose(af->fp) != 0) bad = 1;
    af->fp = NULL;
    if (bad) {
        remove(af->tmp);
        return mt_err_set(err, MT_ERR_IO, "%s: write failed (disk full?)", af->path);
    }
    if (rename(af->tmp, af->path) != 0) {
        int e = errno;
        remove(af->tmp);
        return mt_err_set(err, MT_ERR_IO, "%s: cannot rename into place: %s", af->path, strerror(e));
    }
    return MT_OK;
}

void mt_atomic_abort(mt_atomic_file *af)
{
    if (af->fp) {
        fclose(af->fp);
        af->fp = NULL;
    }
    if (af->tmp[0]) remove(af->tmp);
}

mt_status mt_file_write_all(const char *path, const void *buf, size_t len, mt_err *err)
{
    mt_atomic_file af;
    mt_status s = mt_atomic_open(&af, path, err);
    if (s) return s;
    if (len && fwrite(buf, 1, len, af.fp) != len) {
        mt_atomic_abort(&af);
        return mt_err_set(err, MT_ERR_IO, "%s: write failed", path);
    }
    return mt_atomic_commit(&af, err);
}

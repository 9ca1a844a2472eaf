/* safetensors reader/writer.
 * Layout: u64 little-endian header length H, H bytes of UTF-8 JSON
 *   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "string", ...}}
 * then the byte buffer; offsets are relative to its start.  We write tensors in the order given,
 * 8-byte aligned header, no holes. */
#include "materia/io.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER (100u << 20)

static int dtype_from_name(const char *s, mt_dtype *t)
{
    static const struct { const char *n; mt_dtype t; } tab[] = {
        {"F32", MT_F32}, {"F64", MT_F64}, {"I32", MT_I32}, {"I64", MT_I64},
        {"I16", MT_I16}, {"U8", MT_U8},   {"I8", MT_I8},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(s, tab[i].n) == 0) {
            *t = tab[i].t;
            return 0;
        }
    return -1;
}

void mt_st_free(mt_safetensors *st)
{
    if (!st) return;
    for (int i = 0; i < st->n; i++) {
        free(st->t[i].name);
        mt_array_free(&st->t[i].a);
    }
    free(st->t);
    free(st->metadata);
    memset(st, 0, sizeof *st);
}

mt_status mt_st_parse(const void *buf, size_t len, mt_safetensors *out, mt_err *err)
{
    memset(out, 0, sizeof *out);
    const unsigned char *b = buf;
    if (len < 8) return mt_err_set(err, MT_ERR_FORMAT, "truncated safetensors file (no header)");
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | b[i];
    if (hl > ST_MAX_HEADER || hl > len - 8)
        return mt_err_set(err, MT_ERR_FORMAT, "safetensors header length %llu exceeds file",
                          (unsigned long long)hl);
    cJSON *root = cJSON_ParseWithLength((const char *)b + 8, (size_t)hl);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mt_err_set(err, MT_ERR_FORMAT, "safetensors header is not a JSON object");
    }
    const unsigned char *data = b + 8 + hl;
    size_t dlen = len - 8 - (size_t)hl;
    int cap = cJSON_GetArraySize(root);
    mt_status s = MT_OK;
    out->t = calloc((size_t)(cap > 0 ? cap : 1), sizeof *out->t);
    if (!out->t) {
        cJSON_Delete(root);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        if (strcmp(it->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) {
                s = mt_err_set(err, MT_ERR_FORMAT, "__metadata__ is not an object");
                break;
            }
            cJSON *m;
            cJSON_ArrayForEach(m, it) if (!cJSON_IsString(m))
            {
                s = mt_err_set(err, MT_ERR_FORMAT, "__metadata__ value '%s' is not a string", m->string);
                break;
            }
            if (s) break;
            out->metadata = cJSON_PrintUnformatted(it);
            continue;
        }
        cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        cJSON *of = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        mt_dtype t;
        if (!cJSON_IsString(dt) || dtype_from_name(dt->valuestring, &t) != 0) {
            s = mt_err_set(err, MT_ERR_FORMAT, "tensor '%s': missing or unsupported dtype", it->string);
            break;
        }
        if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) > MT_ARRAY_MAXDIM || !cJSON_IsArray(of) ||
            cJSON_GetArraySize(of) != 2) {
            s = mt_err_set(err, MT_ERR_FORMAT, "tensor '%s': bad shape or data_offsets", it->string);
            break;
        }
        int64_t shape[MT_ARRAY_MAXDIM];
        int nd = 0;
        double numel = 1;
        cJSON *d;
        cJSON_ArrayForEach(d, sh)
        {
            if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 1e15 ||
                d->valuedouble != (double)(int64_t)d->valuedouble) {
                s = mt_err_set(err, MT_ERR_FORMAT, "tensor '%s': bad dimension", it->string);
                break;
            }
            shape[nd++] = (int64_t)d->valuedouble;
            numel *= d->valuedouble;
        }
        if (s) break;
        double o0 = cJSON_GetArrayItem(of, 0)->valuedouble, o1 = cJSON_GetArrayItem(of, 1)->valuedouble;
        if (!cJSON_IsNumber(cJSON_GetArrayItem(of, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(of, 1)) ||
            o0 < 0 || o1 < o0 || o1 > (double)dlen) {
            s = mt_err_set(err, MT_ERR_FORMAT, "tensor '%s': data_offsets outside the file (truncated?)",
                           it->string);
            break;
        }
        if (numel * (double)mt_dtype_size(t) != o1 - o0) {
            s = mt_err_set(err, MT_ERR_FORMAT, "tensor '%s': shape does not match its byte range",
                           it->string);
            break;
        }
        mt_st_tensor *T = &out->t[out->n];
        s = mt_array_alloc(&T->a, t, nd, shape, err);
        if (s) break;
        T->name = strdup(it->string);
        out->n++;
        if (!T->name) {
            s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(T->a.data, data + (size_t)o0, (size_t)(o1 - o0));
    }
    cJSON_Delete(root);
    if (s) mt_st_free(out);
    return s;
}

mt_status mt_st_read(const char *path, mt_safetensors *out, mt_err *err)
{
    void *buf;
    size_t len;
    mt_status s = mt_file_read_all(path, &buf, &len, 0, err);
    if (s) return s;
    s = mt_st_parse(buf, len, out, err);
    free(buf);
    if (s) return mt_err_prefix(err, s, "%s", path);
    return MT_OK;
}

mt_status mt_st_write(const char *path, const mt_st_tensor *t, int n, const char *metadata,
                      mt_err *err)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    if (metadata) {
        cJSON *m = cJSON_Parse(metadata);
        if (!m || !cJSON_IsObject(m)) {
            cJSON_Delete(m);
            cJSON_Delete(root);
            return mt_err_set(err, MT_ERR_ARG, "%s: metadata is not a JSON object", path);
        }
        cJSON_AddItemToObject(root, "__metadata__", m);
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "dtype", mt_dtype_name(t[i].a.dtype));
        cJSON *sh = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t[i].a.ndim; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t[i].a.shape[d]));
        size_t bytes = (size_t)mt_array_numel(&t[i].a) * mt_dtype_size(t[i].a.dtype);
        cJSON *of = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
        cJSON_AddItemToObject(root, t[i].name, o);
    }
    char *h = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!h) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    size_t hl = strlen(h);
    size_t padded = (hl + 7) / 8 * 8;
    unsigned char pre[8];
    for (int i = 0; i < 8; i++) pre[i] = (unsigned char)(((uint64_t)padded >> (8 * i)) & 0xff);
    mt_atomic_file af;
    mt_status s = mt_atomic_open(&af, path, err);
    if (s) {
        free(h);
        return s;
    }
    fwrite(pre, 1, 8, af.fp);
    fwrite(h, 1, hl, af.fp);
    for (size_t i = hl; i < padded; i++) fputc(' ', af.fp);
    free(h);
    for (int i = 0; i < n; i++) {
        size_t bytes = (size_t)mt_array_numel(&t[i].a) * mt_dtype_size(t[i].a.dtype);
        if (bytes && fwrite(t[i].a.data, 1, bytes, af.fp) != bytes) {
            mt_atomic_abort(&af);
            return mt_err_set(err, MT_ERR_IO, "%s: write failed", path);
        }
    }
    return mt_atomic_commit(&af, err);
}

const mt_array *mt_st_get(const mt_safetensors *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0) return &st->t[i].a;
    return NULL;
}

char *mt_st_meta_get(const mt_safetensors *st, const char *key)
{
    if (!st->metadata) return NULL;
    cJSON *m = cJSON_Parse(st->metadata);
    if (!m) return NULL;
    cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    char *r = (cJSON_IsString(v)) ? strdup(v->valuestring) : NULL;
    cJSON_Delete(m);
    return r;
}

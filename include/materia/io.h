/* materia — array files: NumPy .npy, safetensors, atomic writes.
 *
 * Every writer writes to "<path>.tmp.<pid>" and renames when complete, so no half-written file
 * ever sits where a finished one is expected.  Every parser validates sizes against the buffer
 * before touching data and rejects lying headers, unknown dtypes and truncation.
 */
#ifndef MATERIA_IO_H
#define MATERIA_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "materia/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_dtype { MT_F32 = 0, MT_F64, MT_I32, MT_I64, MT_I16, MT_U8, MT_I8 } mt_dtype;

#define MT_ARRAY_MAXDIM 8

/* A dense, C-ordered, little-endian array that owns its data (free with mt_array_free). */
typedef struct mt_array {
    mt_dtype dtype;
    int ndim;
    int64_t shape[MT_ARRAY_MAXDIM];
    void *data;
} mt_array;

size_t mt_dtype_size(mt_dtype t);
const char *mt_dtype_name(mt_dtype t); /* "F32", ... (safetensors spelling) */
int64_t mt_array_numel(const mt_array *a);
/* Allocate a zeroed array; shape has ndim entries. */
mt_status mt_array_alloc(mt_array *a, mt_dtype t, int ndim, const int64_t *shape, mt_err *err);
void mt_array_free(mt_array *a);
/* Convert in place to float32 (from any numeric dtype). */
mt_status mt_array_to_f32(mt_array *a, mt_err *err);

/* ---- whole-file helpers ---- */
/* Read a whole file into a malloc'd buffer (*len bytes).  max_bytes 0 = no limit. */
mt_status mt_file_read_all(const char *path, void **buf, size_t *len, size_t max_bytes, mt_err *err);

/* Atomic writer: fopen a temporary sibling of path; commit renames it over path, abort removes. */
typedef struct mt_atomic_file {
    FILE *fp;
    char path[4096];
    char tmp[4096 + 32];
} mt_atomic_file;
mt_status mt_atomic_open(mt_atomic_file *af, const char *path, mt_err *err);
mt_status mt_atomic_commit(mt_atomic_file *af, mt_err *err);
void mt_atomic_abort(mt_atomic_file *af);
/* Write a whole buffer atomically. */
mt_status mt_file_write_all(const char *path, const void *buf, size_t len, mt_err *err);

/* ---- NumPy .npy (format versions 1.0-3.0; little-endian; C order) ---- */
mt_status mt_npy_parse(const void *buf, size_t len, mt_array *out, mt_err *err);
mt_status mt_npy_read(const char *path, mt_array *out, mt_err *err);
mt_status mt_npy_write(const char *path, const mt_array *a, mt_err *err);

/* ---- safetensors ---- */
typedef struct mt_st_tensor {
    char *name;
    mt_array a;
} mt_st_tensor;

typedef struct mt_safetensors {
    int n;
    mt_st_tensor *t;
    char *metadata; /* JSON text of the "__metadata__" object (string -> string), or NULL */
} mt_safetensors;

mt_status mt_st_parse(const void *buf, size_t len, mt_safetensors *out, mt_err *err);
mt_status mt_st_read(const char *path, mt_safetensors *out, mt_err *err);
/* metadata: JSON object text with string values only, or NULL. */
mt_status mt_st_write(const char *path, const mt_st_tensor *t, int n, const char *metadata,
                      mt_err *err);
const mt_array *mt_st_get(const mt_safetensors *st, const char *name);
/* Value of one metadata key as a malloc'd string, or NULL. */
char *mt_st_meta_get(const mt_safetensors *st, const char *key);
void mt_st_free(mt_safetensors *st);

#ifdef __cplusplus
}
#endif
#endif

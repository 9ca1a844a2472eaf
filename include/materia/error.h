/* materia — error reporting.
 *
 * Library functions return an mt_status and, when given a non-NULL mt_err, fill it with one
 * human-readable line naming the file (or object) and the problem.  There is no global error
 * state: the caller owns the mt_err.  Only the CLI prints and exits.
 */
#ifndef MATERIA_ERROR_H
#define MATERIA_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_status {
    MT_OK = 0,
    MT_ERR_ARG = 1,     /* invalid argument or option value */
    MT_ERR_IO = 2,      /* file missing, unreadable or unwritable */
    MT_ERR_FORMAT = 3,  /* malformed, truncated or unsupported file content */
    MT_ERR_DATA = 4,    /* well-formed but unusable data (empty class, NaN, wrong rate...) */
    MT_ERR_NOMEM = 5,   /* allocation failed */
    MT_ERR_STATE = 6,   /* object used in the wrong state */
    MT_ERR_INTERNAL = 7 /* a bug: an invariant failed */
} mt_status;

#define MT_ERR_MSG_MAX 1024

/* Caller-owned error record.  Zero-initialise (mt_err e = {0};). */
typedef struct mt_err {
    mt_status code;
    char msg[MT_ERR_MSG_MAX];
} mt_err;

/* Record an error (if err != NULL) and return code.  printf-style message, no trailing newline. */
mt_status mt_err_set(mt_err *err, mt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message ("context: old message"); returns err->code (or code if err NULL). */
mt_status mt_err_prefix(mt_err *err, mt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Short static name of a status ("I/O error", ...). */
const char *mt_status_str(mt_status s);

#ifdef __cplusplus
}
#endif
#endif

#include "materia/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

mt_status mt_err_set(mt_err *err, mt_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

mt_status mt_err_prefix(mt_err *err, mt_status code, const char *fmt, ...)
{
    if (!err) return code;
    char pre[MT_ERR_MSG_MAX], old[MT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    if (err->code == MT_OK) err->code = code;
    snprintf(err->msg, sizeof err->msg, "%s: %s", pre, old);
    return err->code;
}

const char *mt_status_str(mt_status s)
{
    switch (s) {
    case MT_OK: return "ok";
    case MT_ERR_ARG: return "invalid argument";
    case MT_ERR_IO: return "I/O error";
    case MT_ERR_FORMAT: return "bad file format";
    case MT_ERR_DATA: return "unusable data";
    case MT_ERR_NOMEM: return "out of memory";
    case MT_ERR_STATE: return "invalid state";
    case MT_ERR_INTERNAL: return "internal error";
    }
    return "unknown error";
}

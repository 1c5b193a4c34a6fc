/* error.c: filling meter_error and naming status codes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

void mc_copy_text(char *dst, size_t size, const char *src)
{
    if (!dst || size == 0)
        return;
    if (!src)
        src = "";
    size_t len = strlen(src);
    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void mc_clear(meter_error *error)
{
    if (!error)
        return;
    error->code = METER_OK;
    error->reason[0] = '\0';
    error->message[0] = '\0';
}

int mc_fail(meter_error *error, int code, const char *reason, const char *fmt, ...)
{
    if (error) {
        error->code = code;
        mc_copy_text(error->reason, sizeof error->reason, reason);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(error->message, sizeof error->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *meter_status_name(int code)
{
    static const char *const names[] = {
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    if (code < 0 || (size_t)code >= sizeof names / sizeof names[0])
        return "UNKNOWN_STATUS";
    return names[code];
}

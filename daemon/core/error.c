/* Descriptions of the ioc_err_t codes. */
#include "ioc/error.h"

const char *ioc_strerror(int code)
{
    switch (code) {
    case IOC_OK: return "ok";
    case IOC_ENOMEM: return "out of memory";
    case IOC_EINVAL: return "invalid input";
    case IOC_EIO: return "I/O error";
    case IOC_EFULL: return "queue or store full";
    case IOC_EAGAIN: return "try again later";
    case IOC_ENOTFOUND: return "not found";
    case IOC_EABI: return "plugin ABI mismatch";
    case IOC_EDB: return "database error";
    case IOC_ECORRUPT: return "corrupt data";
    case IOC_ETIMEDOUT: return "timed out";
    case IOC_ECLOSED: return "closed";
    case IOC_ETOOBIG: return "too big";
    case IOC_EPERM: return "not permitted";
    default: return "unknown error";
    }
}

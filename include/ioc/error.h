/* iocd error vocabulary: negative codes shared by the daemon and plugins. */
#ifndef IOC_ERROR_H
#define IOC_ERROR_H

/* Codes are never renumbered or removed; new ones are appended. */
typedef enum ioc_err {
    IOC_OK = 0,
    IOC_ENOMEM = -1,     /* out of memory */
    IOC_EINVAL = -2,     /* invalid argument or input */
    IOC_EIO = -3,        /* I/O error (disk, socket) */
    IOC_EFULL = -4,      /* a bounded queue or store is full */
    IOC_EAGAIN = -5,     /* try again later */
    IOC_ENOTFOUND = -6,  /* no such thing */
    IOC_EABI = -7,       /* plugin ABI mismatch */
    IOC_EDB = -8,        /* database error or database unavailable */
    IOC_ECORRUPT = -9,   /* data failed a checksum or framing check */
    IOC_ETIMEDOUT = -10, /* operation timed out */
    IOC_ECLOSED = -11,   /* the object is closing or closed */
    IOC_ETOOBIG = -12,   /* input over a size limit */
    IOC_EPERM = -13      /* not allowed */
} ioc_err_t;

/* Returns a static, human-readable description of an ioc_err_t code. */
const char *ioc_strerror(int code);

#endif

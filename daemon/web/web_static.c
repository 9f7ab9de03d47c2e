/* Static files under the static root, read with asynchronous uv_fs calls (never blocking). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/log.h"
#include "ioc/error.h"
#include "web/web_int.h"

static const struct {
    const char *ext, *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
};

const char *web_static_type(const char *name)
{
    const char *slash = strrchr(name, '/'), *dot = strrchr(name, '.');
    size_t i;

    if (dot && (!slash || dot > slash))
        for (i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcasecmp(dot + 1, types[i].ext))
                return types[i].type;
    return "application/octet-stream";
}

/* True if the decoded path could name something outside the root or is otherwise odd:
 * backslashes, '%' (left over from double encoding), control bytes, "." or ".." segments. */
static bool path_suspicious(const char *path)
{
    const char *p, *seg;
    size_t len;

    if (path[0] != '/')
        return true;
    for (p = path; *p; p++)
        if (*p == '\\' || *p == '%' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return true;
    for (seg = path + 1;; seg = p + 1) {
        p = strchr(seg, '/');
        len = p ? (size_t)(p - seg) : strlen(seg);
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return true;
        if (!p)
            return false;
    }
}

static void on_realpath(uv_fs_t *fs);

/* Ends a file-system step: frees an orphaned request and returns true if the caller stops. */
static bool step_done(web_req_t *req)
{
    uv_fs_req_cleanup(&req->fs);
    if (req->wsi)
        return false;
    web_req_free(req);
    return true;
}

static void fail(web_req_t *req, int status, const char *text)
{
    web_req_error(req, status, text);
}

static void start_realpath(web_req_t *req)
{
    int rc = uv_fs_realpath(req->w->loop, &req->fs, req->fpath, on_realpath);

    if (rc < 0) {
        uv_fs_req_cleanup(&req->fs);
        fail(req, 500, "Internal Server Error");
    }
}

static void close_fd(web_req_t *req)
{
    uv_fs_t close_req;

    uv_fs_close(NULL, &close_req, req->fd, NULL); /* a regular file: close does not block */
    uv_fs_req_cleanup(&close_req);
    req->fd = -1;
}

static void on_read(uv_fs_t *fs)
{
    web_req_t *req = fs->data;
    ssize_t n = fs->result;
    unsigned char *buf;
    uv_buf_t b;

    if (step_done(req))
        return;
    if (n < 0) {
        log_warn("web", "event=static_read_failed file=%s err=%s", req->fpath, uv_strerror((int)n));
        fail(req, 500, "Internal Server Error");
        return;
    }
    req->fgot += (size_t)n;
    if (n > 0 && req->fgot < req->fsize) {
        b = uv_buf_init((char *)req->resp + LWS_PRE + req->fgot,
                        (unsigned int)(req->fsize - req->fgot));
        req->fs.data = req;
        if (uv_fs_read(req->w->loop, &req->fs, req->fd, &b, 1, (int64_t)req->fgot, on_read) < 0) {
            uv_fs_req_cleanup(&req->fs);
            fail(req, 500, "Internal Server Error");
        }
        return;
    }
    close_fd(req);
    buf = req->resp;
    req->resp = NULL;
    web_req_reply_take(req, 200, web_static_type(req->fpath), buf, req->fgot, NULL);
}

static void on_fstat(uv_fs_t *fs)
{
    web_req_t *req = fs->data;
    uv_stat_t st = fs->statbuf;
    size_t len;
    char *idx;
    uv_buf_t b;
    int rc = (int)fs->result;

    if (step_done(req))
        return;
    if (rc < 0) {
        fail(req, 404, "Not Found");
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        close_fd(req);
        if (req->index_tried) {
            fail(req, 404, "Not Found");
            return;
        }
        len = strlen(req->fpath);
        idx = malloc(len + sizeof "/index.html");
        if (!idx) {
            fail(req, 500, "Internal Server Error");
            return;
        }
        memcpy(idx, req->fpath, len);
        memcpy(idx + len, "/index.html", sizeof "/index.html");
        free(req->fpath);
        req->fpath = idx;
        req->index_tried = true;
        req->fs.data = req;
        start_realpath(req);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(req, 404, "Not Found");
        return;
    }
    if (st.st_size > WEB_MAX_FILE) {
        log_warn("web", "event=static_too_large file=%s bytes=%llu max=%u", req->fpath,
                 (unsigned long long)st.st_size, WEB_MAX_FILE);
        fail(req, 404, "Not Found");
        return;
    }
    req->fsize = (size_t)st.st_size;
    req->fgot = 0;
    free(req->resp);
    req->resp = malloc(LWS_PRE + req->fsize + 1);
    if (!req->resp) {
        fail(req, 500, "Internal Server Error");
        return;
    }
    if (req->head || !req->fsize) {
        /* HEAD needs only the length: keep resp_len right, skip the read */
        req->fgot = req->fsize;
        close_fd(req);
        idx = (char *)req->resp;
        req->resp = NULL;
        web_req_reply_take(req, 200, web_static_type(req->fpath), (unsigned char *)idx,
                           req->fsize, NULL);
        return;
    }
    b = uv_buf_init((char *)req->resp + LWS_PRE, (unsigned int)req->fsize);
    req->fs.data = req;
    if (uv_fs_read(req->w->loop, &req->fs, req->fd, &b, 1, 0, on_read) < 0) {
        uv_fs_req_cleanup(&req->fs);
        fail(req, 500, "Internal Server Error");
    }
}

static void on_open(uv_fs_t *fs)
{
    web_req_t *req = fs->data;
    int rc = (int)fs->result;

    if (rc >= 0)
        req->fd = rc; /* owned by req from here on, also when orphaned */
    if (step_done(req))
        return;
    if (rc < 0) {
        fail(req, 404, "Not Found");
        return;
    }
    req->fs.data = req;
    if (uv_fs_fstat(req->w->loop, &req->fs, req->fd, on_fstat) < 0) {
        uv_fs_req_cleanup(&req->fs);
        fail(req, 500, "Internal Server Error");
    }
}

static void on_realpath(uv_fs_t *fs)
{
    web_req_t *req = fs->data;
    const char *root;
    char *real;
    size_t rlen;

    if (fs->result < 0 || !fs->ptr) {
        if (!step_done(req))
            fail(req, 404, "Not Found");
        return;
    }
    real = strdup(fs->ptr);
    if (step_done(req)) {
        free(real);
        return;
    }
    if (!real) {
        fail(req, 500, "Internal Server Error");
        return;
    }
    root = req->w->static_root;
    rlen = strlen(root);
    if (strncmp(real, root, rlen) || (real[rlen] != '/' && real[rlen] != '\0')) {
        log_warn("web", "event=static_outside_root path=%s peer=%s", req->path, req->peer);
        free(real);
        fail(req, 404, "Not Found");
        return;
    }
    free(req->fpath);
    req->fpath = real;
    req->fs.data = req;
    if (uv_fs_open(req->w->loop, &req->fs, real, O_RDONLY | O_CLOEXEC, 0, on_open) < 0) {
        uv_fs_req_cleanup(&req->fs);
        fail(req, 404, "Not Found");
    }
}

void web_static_serve(web_req_t *req)
{
    const char *root = req->w->static_root;
    size_t rlen, plen;
    char q[256];

    if (path_suspicious(req->path)) {
        log_warn("web", "event=static_bad_path path=%s peer=%s", log_q(q, sizeof q, req->path),
                 req->peer);
        fail(req, 400, "Bad Request");
        return;
    }
    if (!root) {
        fail(req, 404, "Not Found");
        return;
    }
    rlen = strlen(root);
    plen = strlen(req->path);
    req->fpath = malloc(rlen + plen + 1);
    if (!req->fpath) {
        fail(req, 500, "Internal Server Error");
        return;
    }
    memcpy(req->fpath, root, rlen);
    memcpy(req->fpath + rlen, req->path, plen + 1);
    req->state = WEB_REQ_STATIC;
    req->fs.data = req;
    start_realpath(req);
}

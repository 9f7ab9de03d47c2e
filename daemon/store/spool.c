/* The disk spool on the loop: runs spool_disk operations on the libuv threadpool one at a time,
 * in call order, and calls back on the loop.
 * Durability: every appended record is written and fdatasync'd (its segment's directory entry
 * fsync'd when the segment is created) before its append callback reports IOC_OK, so an
 * acknowledged batch survives a crash or power loss. The cursor is replaced atomically (temp
 * file, fsync, rename, directory fsync); a crash may replay popped records, never lose any.
 * Bounds: appends in flight count against max_bytes, so the operation queue holds at most
 * max_bytes of copied records (plus one peek, one pop per peek and the close). */
#include <stdlib.h>
#include <string.h>

#include "ioc/error.h"
#include "store/spool.h"
#include "store/spool_disk.h"

typedef enum op_kind { OP_APPEND, OP_REJECT, OP_PEEK, OP_POP, OP_CLOSE } op_kind_t;

typedef struct op {
    uv_work_t req;
    struct op *next;
    spool_t *sp;
    op_kind_t kind;
    int status;
    void *data; /* OP_APPEND: the copied record (owned) */
    size_t len;
    const void *rec; /* OP_PEEK: the record read (owned by the disk core) */
    spool_append_cb append_cb;
    spool_peek_cb peek_cb;
    void (*done)(void *ud);
    void *ud;
} op_t;

struct spool {
    uv_loop_t *loop;
    spool_disk_t *disk;
    uint64_t max_bytes;
    op_t *head, *tail; /* FIFO; head runs on the threadpool while running is set */
    bool running, closing;
    bool peek_busy;       /* a peek is queued or running */
    bool have_peek;       /* the last peek returned a record that has not been popped */
    size_t peek_len;
    spool_disk_stats_t disk_stats;      /* as of the last completed operation */
    uint64_t inflight_records, inflight_bytes; /* appends queued, not yet completed */
    uint64_t popping_records, popping_bytes;   /* pops queued, not yet completed */
    uint64_t records_appended, records_popped, rejected_full;
    op_t close_op; /* embedded so that closing never needs memory */
};

static void start_next(spool_t *sp);

static void work_cb(uv_work_t *req)
{
    op_t *op = req->data;
    spool_disk_t *d = op->sp->disk;
    switch (op->kind) {
    case OP_APPEND:
        op->status = spool_disk_append(d, op->data, op->len);
        break;
    case OP_PEEK:
        op->status = spool_disk_read(d, &op->rec, &op->len);
        break;
    case OP_POP:
        op->status = spool_disk_consume(d);
        break;
    case OP_CLOSE:
        spool_disk_close(d);
        break;
    case OP_REJECT:
        break;
    }
}

static void after_cb(uv_work_t *req, int uvstatus)
{
    op_t *op = req->data;
    spool_t *sp = op->sp;
    (void)uvstatus; /* work is never cancelled */
    sp->head = op->next;
    if (!sp->head)
        sp->tail = NULL;
    sp->running = false;
    if (op->kind == OP_CLOSE) {
        void (*done)(void *) = op->done;
        void *ud = op->ud;
        free(sp);
        if (done)
            done(ud);
        return;
    }
    spool_disk_get_stats(sp->disk, &sp->disk_stats);
    switch (op->kind) {
    case OP_APPEND:
        sp->inflight_records--;
        sp->inflight_bytes -= SPOOL_REC_HEADER + op->len;
        if (op->status == 0)
            sp->records_appended++;
        op->append_cb(op->ud, op->status);
        break;
    case OP_REJECT:
        op->append_cb(op->ud, op->status);
        break;
    case OP_PEEK:
        sp->peek_busy = false;
        sp->have_peek = op->status == 0;
        sp->peek_len = op->status == 0 ? op->len : 0;
        op->peek_cb(op->ud, op->status, op->status == 0 ? op->rec : NULL,
                    op->status == 0 ? op->len : 0);
        break;
    case OP_POP:
        sp->popping_records--;
        sp->popping_bytes -= SPOOL_REC_HEADER + op->len;
        break;
    case OP_CLOSE:
        break;
    }
    free(op->data);
    free(op);
    start_next(sp);
}

static void start_next(spool_t *sp)
{
    if (sp->running || !sp->head)
        return;
    sp->running = true;
    sp->head->req.data = sp->head;
    /* uv_queue_work fails only for a NULL work_cb. */
    uv_queue_work(sp->loop, &sp->head->req, work_cb, after_cb);
}

static op_t *op_new(spool_t *sp, op_kind_t kind)
{
    op_t *op = calloc(1, sizeof *op);
    if (op) {
        op->sp = sp;
        op->kind = kind;
    }
    return op;
}

static void enqueue(spool_t *sp, op_t *op)
{
    if (sp->tail)
        sp->tail->next = op;
    else
        sp->head = op;
    sp->tail = op;
    start_next(sp);
}

int spool_open(uv_loop_t *loop, const spool_opts_t *opts, spool_t **out)
{
    *out = NULL;
    if (!loop || !opts || !opts->dir || opts->max_bytes == 0)
        return IOC_EINVAL;
    spool_t *sp = calloc(1, sizeof *sp);
    if (!sp)
        return IOC_ENOMEM;
    int rc = spool_disk_open(opts->dir, opts->segment_bytes, &sp->disk);
    if (rc) {
        free(sp);
        return rc;
    }
    sp->loop = loop;
    sp->max_bytes = opts->max_bytes;
    spool_disk_get_stats(sp->disk, &sp->disk_stats);
    *out = sp;
    return 0;
}

int spool_append(spool_t *sp, const void *rec, size_t len, spool_append_cb cb, void *ud)
{
    if (!cb || (len && !rec))
        return IOC_EINVAL;
    if (sp->closing)
        return IOC_ECLOSED;
    if (len > SPOOL_REC_MAX)
        return IOC_ETOOBIG;
    uint64_t need = SPOOL_REC_HEADER + (uint64_t)len;
    bool full = spool_bytes(sp) + need > sp->max_bytes;
    op_t *op = op_new(sp, full ? OP_REJECT : OP_APPEND);
    if (!op)
        return IOC_ENOMEM;
    op->append_cb = cb;
    op->ud = ud;
    if (full) {
        op->status = IOC_EFULL;
        sp->rejected_full++;
    } else {
        op->data = malloc(len ? len : 1);
        if (!op->data) {
            free(op);
            return IOC_ENOMEM;
        }
        memcpy(op->data, rec, len);
        op->len = len;
        sp->inflight_records++;
        sp->inflight_bytes += need;
    }
    enqueue(sp, op);
    return 0;
}

int spool_peek(spool_t *sp, spool_peek_cb cb, void *ud)
{
    if (!cb)
        return IOC_EINVAL;
    if (sp->closing)
        return IOC_ECLOSED;
    if (sp->peek_busy)
        return IOC_EAGAIN;
    op_t *op = op_new(sp, OP_PEEK);
    if (!op)
        return IOC_ENOMEM;
    op->peek_cb = cb;
    op->ud = ud;
    sp->peek_busy = true;
    sp->have_peek = false;
    enqueue(sp, op);
    return 0;
}

int spool_pop(spool_t *sp)
{
    if (sp->closing)
        return IOC_ECLOSED;
    if (!sp->have_peek || sp->peek_busy)
        return IOC_EINVAL;
    op_t *op = op_new(sp, OP_POP);
    if (!op)
        return IOC_ENOMEM;
    op->len = sp->peek_len;
    sp->have_peek = false;
    sp->popping_records++;
    sp->popping_bytes += SPOOL_REC_HEADER + op->len;
    sp->records_popped++;
    enqueue(sp, op);
    return 0;
}

uint64_t spool_records(const spool_t *sp)
{
    return sp->disk_stats.records + sp->inflight_records - sp->popping_records;
}

uint64_t spool_bytes(const spool_t *sp)
{
    return sp->disk_stats.bytes + sp->inflight_bytes - sp->popping_bytes;
}

void spool_close(spool_t *sp, void (*done)(void *ud), void *ud)
{
    if (sp->closing)
        return;
    sp->closing = true;
    sp->close_op = (op_t){.sp = sp, .kind = OP_CLOSE, .done = done, .ud = ud};
    enqueue(sp, &sp->close_op);
}

void spool_get_stats(const spool_t *sp, spool_stats_t *out)
{
    *out = (spool_stats_t){
        .records_appended = sp->records_appended,
        .records_popped = sp->records_popped,
        .rejected_full = sp->rejected_full,
        .write_errors = sp->disk_stats.write_errors,
        .corrupt_cuts = sp->disk_stats.corrupt_cuts,
        .bytes_cut = sp->disk_stats.bytes_cut,
    };
}

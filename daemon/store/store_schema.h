/* The store's schema: numbered migrations and the daily partitions of samples. */
#ifndef IOCD_STORE_SCHEMA_H
#define IOCD_STORE_SCHEMA_H

#include <stdint.h>

#include "core/strbuf.h"

typedef struct store_migration {
    int version;     /* 1, 2, ... in order; never renumbered */
    const char *sql; /* constant DDL, run in one transaction with its record */
} store_migration_t;

/* The migrations in order, and how many there are. */
extern const store_migration_t store_migrations[];
extern const int store_nmigrations;

/* Advisory lock key taken while migrating and while creating or dropping partitions. */
#define STORE_LOCK_KEY 1768908644 /* "iocd" */

/* First and last day (days since 1970-01-01, UTC) a partition may cover: years 1000..9999,
 * so that names stay samples_YYYYMMDD. */
#define STORE_DAY_MIN (-354285)
#define STORE_DAY_MAX 2932896

/* Day (since 1970-01-01, UTC) holding a time in microseconds since the epoch. */
int64_t store_day_of_us(int64_t ts_us);
/* Parses a partition name "samples_YYYYMMDD"; returns the day, or INT64_MIN if it is not one. */
int64_t store_day_parse(const char *name);
/* Appends SQL creating the partition for a day if missing (constant text built from the day
 * number; nothing from input). Returns 0 or an ioc_err_t from strbuf. */
int store_sql_create_partition(strbuf_t *sql, int64_t day);
/* Appends SQL dropping the partition of a day if it exists. Returns 0 or an ioc_err_t. */
int store_sql_drop_partition(strbuf_t *sql, int64_t day);

#endif

/* Internal interface of the simulator collector: the simulated province and its parts. */
#ifndef SIM_H
#define SIM_H

#include <stddef.h>
#include <stdint.h>

#include "ioc/collector.h"

#define SIM_NDISTRICTS 15
#define SIM_US 1000000LL
#define SIM_DAY_S 86400
#define SIM_TZ_OFFSET_S (7 * 3600)     /* Asia/Ho_Chi_Minh, UTC+7, no DST */
#define SIM_STEP_US (60 * SIM_US)      /* longest step of the state machines */
#define SIM_JUMP_US (3600 * SIM_US)    /* gaps longer than this resample the state */
#define SIM_CHUNK 1024                 /* samples per emit call */
#define SIM_MAX_SCALE 100.0
#define SIM_ID_LEN 32

/* Deterministic PRNG state (xoshiro256**). */
typedef struct sim_rng {
    uint64_t s[4];
} sim_rng_t;

/* Static facts about one district-level unit of Long An. */
typedef struct sim_district_info {
    const char *name;  /* Vietnamese, UTF-8: the `district` tag */
    const char *code;  /* ASCII prefix of entity ids */
    double population; /* thousands; weights services and feedback */
    int sensors;       /* traffic sensors at scale 1 */
    int lights;        /* streetlights at scale 1 */
    int cameras;       /* cameras at scale 1 */
    double free_speed; /* typical free-flow speed, km/h */
} sim_district_info_t;

extern const sim_district_info_t sim_districts[SIM_NDISTRICTS];

/* A checked instance configuration. */
typedef struct sim_config {
    uint64_t seed;
    double scale;
    int64_t time_offset_us;
    uint32_t district_mask; /* bit i set: sim_districts[i] is simulated */
} sim_config_t;

/* Rate curves over the local day (relative rates, dimensionless). */
typedef enum sim_curve {
    SIM_CURVE_TRAFFIC = 0, /* road demand: night low, rush hours high */
    SIM_CURVE_OFFICE,      /* public offices open */
    SIM_CURVE_ONLINE,      /* online dossier submissions */
    SIM_CURVE_FEEDBACK,    /* 1022 hotline contacts */
    SIM_CURVE_EVENTS,      /* security events seen by cameras */
    SIM_NCURVES
} sim_curve_t;

typedef struct sim_sensor {
    int district;
    char id[SIM_ID_LEN];
    ioc_tag_t tags[2];
    double capacity;   /* vehicles/min at saturation */
    double free_speed; /* km/h */
    double noise;      /* Ornstein-Uhlenbeck deviation of demand */
    int incident;      /* an incident is open on this road section */
} sim_sensor_t;

typedef struct sim_cabinet {
    int district;
    char id[SIM_ID_LEN];
    ioc_tag_t tags[2];
    int64_t total;
    int64_t faulty;
    double kw_per_light;
    double dusk_s; /* local second of day the photocell switches on */
    double dawn_s; /* local second of day it switches off */
} sim_cabinet_t;

typedef struct sim_camgroup {
    int district;
    char id[SIM_ID_LEN];
    ioc_tag_t tags[2];
    int64_t total;
    int64_t down;  /* individual cameras offline */
    int outage;    /* the whole group is offline (link or power) */
} sim_camgroup_t;

/* Per-district state; the counters are cumulative for the current local day. */
typedef struct sim_district {
    int enabled;
    ioc_tag_t tag; /* district=<name> */
    int64_t events;
    int64_t dossiers_online, dossiers_offline, on_time, late, backlog;
    int64_t fb_received, fb_resolved, fb_overdue, fb_open;
    double late_share;
} sim_district_t;

/* The whole simulated province of one instance. */
typedef struct sim_world {
    sim_config_t cfg;
    sim_rng_t rng;
    int started;
    int64_t t_us; /* simulated time the state is at */
    double curve_mean[SIM_NCURVES]; /* weekday mean of each curve */
    sim_district_t districts[SIM_NDISTRICTS];
    sim_sensor_t *sensors;
    size_t nsensors;
    sim_cabinet_t *cabinets;
    size_t ncabinets;
    sim_camgroup_t *groups;
    size_t ngroups;
} sim_world_t;

/* Buffers samples and hands them to the host SIM_CHUNK at a time. */
typedef struct sim_emitter {
    const ioc_host_services_t *svc;
    ioc_host_t *host;
    int64_t ts_us;
    int status; /* first non-OK emit result; later samples are dropped */
    size_t n;
    size_t total; /* samples handed to the host */
    ioc_sample_t buf[SIM_CHUNK];
} sim_emitter_t;

/* sim_rng.c */
/* Seeds r from a 64-bit seed (splitmix64), so every seed, 0 included, is usable. */
void sim_rng_seed(sim_rng_t *r, uint64_t seed);
/* Returns a uniform double in [0, 1). */
double sim_rng_unit(sim_rng_t *r);
/* Returns a uniform double in [lo, hi). */
double sim_rng_range(sim_rng_t *r, double lo, double hi);
/* Returns a uniform integer in [lo, hi]. */
int64_t sim_rng_int(sim_rng_t *r, int64_t lo, int64_t hi);
/* Returns a standard normal deviate. */
double sim_rng_gauss(sim_rng_t *r);
/* Returns a Poisson deviate of the given mean (0 for mean <= 0). */
int64_t sim_rng_poisson(sim_rng_t *r, double mean);
/* Returns a binomial deviate: successes among n trials of probability p. */
int64_t sim_rng_binomial(sim_rng_t *r, int64_t n, double p);
/* Returns a stateless pseudo-random double in [0, 1) for the pair (a, b). */
double sim_hash_unit(uint64_t a, uint64_t b);

/* sim_clock.c */
/* Returns the local (UTC+7) day number of t_us, day 0 being 1970-01-01. */
int64_t sim_local_day(int64_t t_us);
/* Returns the local seconds since midnight of t_us, in [0, 86400). */
double sim_local_sod(int64_t t_us);
/* Returns the UTC microseconds at which local day `day` starts. */
int64_t sim_day_start_us(int64_t day);
/* Returns 1 for a local Saturday or Sunday. */
int sim_is_weekend(int64_t day);
/* Returns the relative rate of curve c at local second s of a (weekend) day. */
double sim_curve(sim_curve_t c, double s, int weekend);
/* Returns the integral of curve c over [s0, s0 + dt] seconds of one local day. */
double sim_curve_integral(sim_curve_t c, double s0, double dt, int weekend);

/* sim_config.c */
/* Checks the instance config object into *out; returns IOC_OK, or IOC_EINVAL with a message
 * naming the key (or array element) written into err. */
int sim_config_parse(const cJSON *obj, sim_config_t *out, char *err, size_t errlen);

/* sim_emit.c */
/* Starts a round: samples get timestamp ts_us and go to svc->emit(host, ...). */
void sim_emit_begin(sim_emitter_t *em, const ioc_host_services_t *svc, ioc_host_t *host,
                    int64_t ts_us);
/* Queues one sample (strings borrowed until the next flush); returns the emitter status. */
int sim_emit(sim_emitter_t *em, const char *metric, const ioc_tag_t *tags, size_t ntags,
             double value);
/* Hands the queued samples to the host; returns the emitter status. */
int sim_emit_flush(sim_emitter_t *em);

/* sim_world.c */
/* Builds the province for cfg; returns IOC_OK or IOC_ENOMEM. Free with sim_world_free. */
int sim_world_init(sim_world_t *w, const sim_config_t *cfg);
/* Frees the entity arrays; w can be initialised again. */
void sim_world_free(sim_world_t *w);
/* Moves the state to simulated time t_us (steps, or resamples after a long gap). */
void sim_world_advance(sim_world_t *w, int64_t t_us);
/* Emits one sample per entity and metric for the current state; returns the emitter status. */
int sim_world_emit(sim_world_t *w, sim_emitter_t *em);
/* Returns the number of samples one collect emits. */
size_t sim_world_series(const sim_world_t *w);
/* Fills an entity's tags: district=<name of district d>, id=<id>. */
void sim_entity_tags(ioc_tag_t tags[2], int d, const char *id);

/* Each part of the province has the same life cycle:
 * build  allocates its entities (static traits drawn from the seed); returns IOC_OK or IOC_ENOMEM;
 * settle draws the changing state from its steady state (start, or after a long gap);
 * step   moves the changing state on by dt seconds (dt <= 60) at local second s;
 * accrue adds the day's counted arrivals over [s0, s0 + dt] of one local day;
 * emit   queues one sample per entity and metric; returns the emitter status. */

/* sim_traffic.c: traffic sensors and incidents */
int sim_traffic_build(sim_world_t *w);
void sim_traffic_settle(sim_world_t *w, double s, int weekend);
void sim_traffic_step(sim_world_t *w, double s, int weekend, double dt);
int sim_traffic_emit(sim_world_t *w, sim_emitter_t *em, double s, int weekend);

/* sim_lighting.c: streetlight cabinets */
int sim_lighting_build(sim_world_t *w);
void sim_lighting_settle(sim_world_t *w);
void sim_lighting_step(sim_world_t *w, double dt);
int sim_lighting_emit(sim_world_t *w, sim_emitter_t *em, double s);

/* sim_camera.c: camera groups and security events */
int sim_camera_build(sim_world_t *w);
void sim_camera_settle(sim_world_t *w);
void sim_camera_step(sim_world_t *w, double dt);
void sim_camera_accrue(sim_world_t *w, double s0, double dt, int weekend);
int sim_camera_emit(sim_world_t *w, sim_emitter_t *em);

/* sim_civic.c: public services and 1022 feedback; new_day zeroes the daily counters */
void sim_civic_build(sim_world_t *w);
void sim_civic_settle(sim_world_t *w);
void sim_civic_new_day(sim_world_t *w);
void sim_civic_accrue(sim_world_t *w, double s0, double dt, int weekend);
int sim_civic_emit(sim_world_t *w, sim_emitter_t *em);

#endif

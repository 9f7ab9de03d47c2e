/* Local time (Asia/Ho_Chi_Minh) and the daily rate curves that drive the simulation. */
#include <math.h>

#include "sim.h"

#define H(x) ((x) * 3600.0)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t sim_local_day(int64_t t_us)
{
    return floor_div(floor_div(t_us, SIM_US) + SIM_TZ_OFFSET_S, SIM_DAY_S);
}

double sim_local_sod(int64_t t_us)
{
    int64_t local_us = t_us + (int64_t)SIM_TZ_OFFSET_S * SIM_US;
    int64_t day_us = (int64_t)SIM_DAY_S * SIM_US;
    return (double)(local_us - floor_div(local_us, day_us) * day_us) / (double)SIM_US;
}

int64_t sim_day_start_us(int64_t day)
{
    return (day * SIM_DAY_S - SIM_TZ_OFFSET_S) * SIM_US;
}

int sim_is_weekend(int64_t day)
{
    int64_t wd = ((day + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday; 0 is Sunday */
    return wd == 0 || wd == 6;
}

static double logistic(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* Close to 1 between a and b, close to 0 outside, with edges `w` seconds wide. */
static double window(double s, double a, double b, double w)
{
    return logistic((s - a) / w) * logistic((b - s) / w);
}

static double bump(double s, double centre, double sigma)
{
    double z = (s - centre) / sigma;
    return exp(-0.5 * z * z);
}

static double office(double s, int weekend)
{
    if (weekend)
        return 0.05 * window(s, H(7.5), H(11.5), 600.0);
    return window(s, H(7.5), H(11.5), 600.0) + window(s, H(13.5), H(17.0), 600.0);
}

double sim_curve(sim_curve_t c, double s, int weekend)
{
    switch (c) {
    case SIM_CURVE_TRAFFIC: {
        double rush = weekend ? 0.3 : 1.0;
        return 0.06 + 0.42 * window(s, H(5.5), H(21.5), 1800.0) +
               rush * (0.45 * bump(s, H(7.75), 2400.0) + 0.5 * bump(s, H(17.5), 2700.0));
    }
    case SIM_CURVE_OFFICE:
        return office(s, weekend);
    case SIM_CURVE_ONLINE:
        return 0.12 + 0.5 * window(s, H(6.0), H(22.5), 1800.0) +
               (weekend ? 0.3 : 1.0) * office(s, 0);
    case SIM_CURVE_FEEDBACK:
        return 0.08 + 0.5 * window(s, H(6.5), H(22.0), 1800.0) +
               (weekend ? 0.4 : 1.2) * office(s, 0);
    case SIM_CURVE_EVENTS:
        return 0.5 + 0.5 * window(s, H(6.0), H(22.0), 1800.0) + 0.8 * bump(s, H(20.5), H(1.5));
    case SIM_NCURVES:
        break;
    }
    return 0.0;
}

double sim_curve_integral(sim_curve_t c, double s0, double dt, int weekend)
{
    int n = (int)ceil(dt / 60.0);
    if (n < 1)
        n = 1;
    double h = dt / n, sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += sim_curve(c, s0 + (i + 0.5) * h, weekend);
    return sum * h;
}

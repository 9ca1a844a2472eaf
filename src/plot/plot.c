/* Figures with cairo: line plots, points with error bars, grouped scatter, histograms and heat
 * maps with a colour bar; PNG (image surface) or SVG (vector), written atomically.
 *
 * Look: white background, a thin black frame, outward ticks on the bottom and left axes, light
 * grey grid lines at the major ticks, the Okabe-Ito colour-blind-safe palette, a viridis colour
 * map, DejaVu/"sans-serif" text through cairo's toy font API.  Sizes scale with the figure.
 *
 * Coordinates: data (x, y) → axis value t = x or log10(x) → pixel
 *   px = L + (t − t_lo) / (t_hi − t_lo) · W,   py = T + H − (t − t_lo) / (t_hi − t_lo) · H
 * where (L, T, W, H) is the plot area in device pixels (origin top left).
 * Non-finite values (and non-positive ones on a log axis) are skipped: lines break there.
 */
#include <cairo-svg.h>
#include <cairo.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "materia/plot.h"

/* ---------------- palette and colour map ---------------- */

typedef struct rgb {
    double r, g, b;
} rgb;

/* Okabe & Ito (2008) colour-blind-safe palette; yellow last (low contrast on white). */
static const rgb palette[8] = {
    {0.000, 0.447, 0.698}, /* blue       #0072B2 */
    {0.835, 0.369, 0.000}, /* vermillion #D55E00 */
    {0.000, 0.620, 0.451}, /* green      #009E73 */
    {0.800, 0.475, 0.655}, /* purple     #CC79A7 */
    {0.902, 0.624, 0.000}, /* orange     #E69F00 */
    {0.337, 0.706, 0.914}, /* sky blue   #56B4E9 */
    {0.000, 0.000, 0.000}, /* black      #000000 */
    {0.941, 0.894, 0.259}, /* yellow     #F0E442 */
};

/* Viridis (matplotlib) at 9 evenly spaced stops; linear interpolation between them. */
static const rgb viridis[9] = {
    {0.267, 0.005, 0.329}, {0.279, 0.175, 0.483}, {0.230, 0.322, 0.546},
    {0.173, 0.449, 0.558}, {0.128, 0.567, 0.551}, {0.154, 0.680, 0.504},
    {0.360, 0.785, 0.387}, {0.667, 0.862, 0.196}, {0.993, 0.906, 0.144},
};

static rgb cmap(double t)
{
    if (!(t > 0)) t = 0; /* also NaN */
    if (t > 1) t = 1;
    double f = t * 8.0;
    int i = (int)f;
    if (i >= 8) return viridis[8];
    double a = f - i;
    rgb c = {viridis[i].r + a * (viridis[i + 1].r - viridis[i].r),
             viridis[i].g + a * (viridis[i + 1].g - viridis[i].g),
             viridis[i].b + a * (viridis[i + 1].b - viridis[i].b)};
    return c;
}

/* ---------------- the figure object ---------------- */

typedef enum skind { S_LINE, S_POINTS, S_SCATTER, S_HIST, S_IMAGE } skind;

typedef struct series {
    skind kind;
    int n;
    double *x, *y, *e; /* line/points/scatter data; e = y error (points) */
    int *g;            /* scatter groups */
    char **gnames;     /* scatter legend names (ngroups), may be NULL */
    int ngroups;
    char *label;
    int colour;        /* palette index */
    /* histogram: bins equal bins over [lo, hi], counts */
    int bins;
    double lo, hi, *counts;
    /* image */
    float *z;
    int rows, cols, annotate;
    double ext[4]; /* x0 x1 y0 y1 */
    char *zlabel;
} series;

struct mt_plot {
    char *title, *xlabel, *ylabel;
    int w, h;
    int logx, logy;
    int fixx, fixy;
    double fx0, fx1, fy0, fy1;
    int ns, cap;
    series *s;
    int ncolours; /* palette entries handed out */
    char **xticks, **yticks;
    int nxt, nyt;
    mt_status bad; /* first error from a void call, reported by mt_plot_save */
    char badmsg[256];
};

static char *dupstr(mt_plot *p, const char *s)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d && p && !p->bad) {
        p->bad = MT_ERR_NOMEM;
        snprintf(p->badmsg, sizeof p->badmsg, "out of memory");
    }
    return d;
}

static void set_bad(mt_plot *p, mt_status st, const char *msg)
{
    if (p->bad) return;
    p->bad = st;
    snprintf(p->badmsg, sizeof p->badmsg, "%s", msg);
}

mt_plot *mt_plot_new(const char *title, const char *xlabel, const char *ylabel)
{
    mt_plot *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->w = 800;
    p->h = 500;
    p->title = dupstr(NULL, title);
    p->xlabel = dupstr(NULL, xlabel);
    p->ylabel = dupstr(NULL, ylabel);
    if ((title && !p->title) || (xlabel && !p->xlabel) || (ylabel && !p->ylabel)) {
        mt_plot_free(p);
        return NULL;
    }
    return p;
}

void mt_plot_size(mt_plot *p, int width_px, int height_px)
{
    if (!p) return;
    if (width_px < 64 || height_px < 64 || width_px > 16384 || height_px > 16384) {
        char m[128];
        snprintf(m, sizeof m, "plot size %dx%d px out of range (64..16384)", width_px, height_px);
        set_bad(p, MT_ERR_ARG, m);
        return;
    }
    p->w = width_px;
    p->h = height_px;
}

void mt_plot_logx(mt_plot *p, int on)
{
    if (p) p->logx = on != 0;
}
void mt_plot_logy(mt_plot *p, int on)
{
    if (p) p->logy = on != 0;
}

void mt_plot_xrange(mt_plot *p, double lo, double hi)
{
    if (!p) return;
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi)) {
        set_bad(p, MT_ERR_ARG, "x range must be finite with lo < hi");
        return;
    }
    p->fixx = 1;
    p->fx0 = lo;
    p->fx1 = hi;
}

void mt_plot_yrange(mt_plot *p, double lo, double hi)
{
    if (!p) return;
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi)) {
        set_bad(p, MT_ERR_ARG, "y range must be finite with lo < hi");
        return;
    }
    p->fixy = 1;
    p->fy0 = lo;
    p->fy1 = hi;
}

/* Append a zeroed series; NULL on allocation failure (recorded). */
static series *add_series(mt_plot *p, skind k, const char *label)
{
    if (p->ns == p->cap) {
        int cap = p->cap ? 2 * p->cap : 8;
        series *ns = realloc(p->s, (size_t)cap * sizeof *ns);
        if (!ns) {
            set_bad(p, MT_ERR_NOMEM, "out of memory");
            return NULL;
        }
        p->s = ns;
        p->cap = cap;
    }
    series *s = &p->s[p->ns++];
    memset(s, 0, sizeof *s);
    s->kind = k;
    s->label = dupstr(p, label);
    s->colour = -1;
    return s;
}

static double *dup_d(mt_plot *p, const double *v, int n)
{
    if (!v) return NULL;
    double *d = malloc((size_t)(n > 0 ? n : 1) * sizeof *d);
    if (!d) {
        set_bad(p, MT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(d, v, (size_t)n * sizeof *d);
    return d;
}

static int check_xy(mt_plot *p, const double *x, const double *y, int n, const char *what)
{
    if (n < 0 || (n > 0 && (!x || !y))) {
        char m[128];
        snprintf(m, sizeof m, "%s: need x and y arrays and n >= 0 (n = %d)", what, n);
        set_bad(p, MT_ERR_ARG, m);
        return -1;
    }
    return 0;
}

void mt_plot_line(mt_plot *p, const double *x, const double *y, int n, const char *label)
{
    if (!p || check_xy(p, x, y, n, "line")) return;
    series *s = add_series(p, S_LINE, label);
    if (!s) return;
    s->n = n;
    s->x = dup_d(p, x, n);
    s->y = dup_d(p, y, n);
    s->colour = p->ncolours++ % 8;
}

void mt_plot_points(mt_plot *p, const double *x, const double *y, const double *yerr, int n, const char *label)
{
    if (!p || check_xy(p, x, y, n, "points")) return;
    series *s = add_series(p, S_POINTS, label);
    if (!s) return;
    s->n = n;
    s->x = dup_d(p, x, n);
    s->y = dup_d(p, y, n);
    s->e = dup_d(p, yerr, n);
    s->colour = p->ncolours++ % 8;
}

void mt_plot_scatter(mt_plot *p, const double *x, const double *y, const int *group, int n,
                     const char *const *group_names, int ngroups)
{
    if (!p || check_xy(p, x, y, n, "scatter")) return;
    if (ngroups < 0 || ngroups > 1000) {
        set_bad(p, MT_ERR_ARG, "scatter: ngroups out of range 0..1000");
        return;
    }
    series *s = add_series(p, S_SCATTER, NULL);
    if (!s) return;
    s->n = n;
    s->x = dup_d(p, x, n);
    s->y = dup_d(p, y, n);
    if (group) {
        s->g = malloc((size_t)(n > 0 ? n : 1) * sizeof *s->g);
        if (!s->g) set_bad(p, MT_ERR_NOMEM, "out of memory");
        else memcpy(s->g, group, (size_t)n * sizeof *s->g);
    } else {
        s->colour = p->ncolours++ % 8;
    }
    s->ngroups = ngroups;
    if (group_names && ngroups > 0) {
        s->gnames = calloc((size_t)ngroups, sizeof *s->gnames);
        if (!s->gnames) set_bad(p, MT_ERR_NOMEM, "out of memory");
        for (int i = 0; s->gnames && i < ngroups; i++) s->gnames[i] = dupstr(p, group_names[i]);
    }
}

void mt_plot_hist(mt_plot *p, const double *v, int n, int bins, const char *label)
{
    if (!p) return;
    if (n < 0 || (n > 0 && !v) || bins < 1 || bins > 100000) {
        set_bad(p, MT_ERR_ARG, "hist: need values, n >= 0 and 1..100000 bins");
        return;
    }
    series *s = add_series(p, S_HIST, label);
    if (!s) return;
    s->colour = p->ncolours++ % 8;
    s->bins = bins;
    s->counts = calloc((size_t)bins, sizeof *s->counts);
    if (!s->counts) {
        set_bad(p, MT_ERR_NOMEM, "out of memory");
        return;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            lo = fmin(lo, v[i]);
            hi = fmax(hi, v[i]);
        }
    if (!(lo <= hi)) { /* no finite value: an empty histogram on [0, 1] */
        s->lo = 0;
        s->hi = 1;
        return;
    }
    if (hi == lo) { /* all equal: one unit-wide span centred on the value */
        lo -= 0.5;
        hi += 0.5;
    }
    s->lo = lo;
    s->hi = hi;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        int b = (int)((v[i] - lo) / (hi - lo) * bins);
        if (b >= bins) b = bins - 1; /* the maximum falls in the last bin */
        if (b < 0) b = 0;
        s->counts[b] += 1.0;
    }
}

void mt_plot_image(mt_plot *p, const float *z, int rows, int cols, double x0, double x1, double y0,
                   double y1, const char *zlabel, int annotate)
{
    if (!p) return;
    if (!z || rows < 1 || cols < 1 || (int64_t)rows * cols > 50000000 || !isfinite(x0) || !isfinite(x1) ||
        !isfinite(y0) || !isfinite(y1) || x0 == x1 || y0 == y1) {
        set_bad(p, MT_ERR_ARG, "image: need z, rows, cols >= 1 and a finite non-empty extent");
        return;
    }
    series *s = add_series(p, S_IMAGE, NULL);
    if (!s) return;
    s->rows = rows;
    s->cols = cols;
    s->ext[0] = x0;
    s->ext[1] = x1;
    s->ext[2] = y0;
    s->ext[3] = y1;
    s->annotate = annotate != 0;
    s->zlabel = dupstr(p, zlabel);
    s->z = malloc((size_t)rows * (size_t)cols * sizeof *s->z);
    if (!s->z) set_bad(p, MT_ERR_NOMEM, "out of memory");
    else memcpy(s->z, z, (size_t)rows * (size_t)cols * sizeof *s->z);
}

static char **dup_strs(mt_plot *p, const char *const *v, int n)
{
    if (!v || n <= 0) return NULL;
    char **d = calloc((size_t)n, sizeof *d);
    if (!d) {
        set_bad(p, MT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) d[i] = dupstr(p, v[i] ? v[i] : "");
    return d;
}

static void free_strs(char **v, int n)
{
    if (!v) return;
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

void mt_plot_image_ticks(mt_plot *p, const char *const *xticks, int nx, const char *const *yticks, int ny)
{
    if (!p) return;
    free_strs(p->xticks, p->nxt);
    free_strs(p->yticks, p->nyt);
    p->nxt = xticks && nx > 0 ? nx : 0;
    p->nyt = yticks && ny > 0 ? ny : 0;
    p->xticks = dup_strs(p, xticks, p->nxt);
    p->yticks = dup_strs(p, yticks, p->nyt);
    if (!p->xticks) p->nxt = 0;
    if (!p->yticks) p->nyt = 0;
}

void mt_plot_free(mt_plot *p)
{
    if (!p) return;
    for (int i = 0; i < p->ns; i++) {
        series *s = &p->s[i];
        free(s->x);
        free(s->y);
        free(s->e);
        free(s->g);
        free_strs(s->gnames, s->ngroups);
        free(s->label);
        free(s->counts);
        free(s->z);
        free(s->zlabel);
    }
    free(p->s);
    free_strs(p->xticks, p->nxt);
    free_strs(p->yticks, p->nyt);
    free(p->title);
    free(p->xlabel);
    free(p->ylabel);
    free(p);
}

/* ---------------- axes: ranges and ticks ---------------- */

#define MAXTICKS 64

typedef struct tick {
    double v;       /* data value */
    char txt[64];   /* label ("" for a minor tick) */
    char sup[16];   /* superscript (log decades: "10" with sup "3") */
    int minor;
} tick;

typedef struct axis {
    int log;
    double lo, hi; /* data range shown */
    int nt;
    tick t[MAXTICKS];
} axis;

static double tr(const axis *a, double v) { return a->log ? log10(v) : v; }

/* Usable value on this axis? */
static int ok(const axis *a, double v) { return isfinite(v) && (!a->log || v > 0); }

/* Replace ASCII '-' by the typographic minus U+2212. */
static void fix_minus(char *s, size_t cap)
{
    char tmp[64];
    size_t j = 0;
    for (size_t i = 0; s[i] && j + 4 < sizeof tmp; i++) {
        if (s[i] == '-' && (i == 0 || s[i - 1] != 'e')) {
            tmp[j++] = (char)0xE2;
            tmp[j++] = (char)0x88;
            tmp[j++] = (char)0x92;
        } else {
            tmp[j++] = s[i];
        }
    }
    tmp[j] = 0;
    snprintf(s, cap, "%s", tmp);
}

/* A "nice" step (1, 2, 2.5 or 5 × 10^k) giving about `target` intervals over span. */
static double nice_step(double span, double target, int *quarter)
{
    double raw = span / target, mag = pow(10.0, floor(log10(raw))), r = raw / mag;
    *quarter = 0;
    if (r < 1.5) return mag;
    if (r < 2.25) return 2 * mag;
    if (r < 3.5) {
        *quarter = 1;
        return 2.5 * mag;
    }
    if (r < 7.5) return 5 * mag;
    return 10 * mag;
}

static void linear_ticks(axis *a, double target)
{
    int quarter;
    double span = a->hi - a->lo, step = nice_step(span, target, &quarter);
    double big = fmax(fabs(a->lo), fabs(a->hi));
    int sci = big >= 1e6 || big < 1e-3;
    int dec = (int)fmax(0.0, -floor(log10(step) + 1e-9)) + (quarter && step < 10 ? 1 : 0);
    a->nt = 0;
    for (double k = ceil(a->lo / step - 1e-9); a->nt < MAXTICKS; k += 1) {
        double v = k * step;
        if (v > a->hi + 1e-9 * span) break;
        if (fabs(v) < 1e-9 * step) v = 0;
        tick *t = &a->t[a->nt++];
        memset(t, 0, sizeof *t);
        t->v = v;
        if (sci && v != 0) snprintf(t->txt, sizeof t->txt, "%.3g", v);
        else snprintf(t->txt, sizeof t->txt, "%.*f", dec, v);
        fix_minus(t->txt, sizeof t->txt);
    }
}

static void log_ticks(axis *a)
{
    a->nt = 0;
    int k0 = (int)floor(log10(a->lo) + 1e-9), k1 = (int)ceil(log10(a->hi) - 1e-9);
    int decades = 0;
    for (int k = k0; k <= k1; k++)
        if (pow(10.0, k) >= a->lo * (1 - 1e-9) && pow(10.0, k) <= a->hi * (1 + 1e-9)) decades++;
    /* Label every decade (every 2nd, 3rd... if there are many); with fewer than two decades
     * in view, also label 2 and 5 × 10^k. */
    int every = decades > 8 ? (decades + 7) / 8 : 1;
    /* One style per axis: plain numbers when every decade shown is within 0.1..1000, else
     * 10 with a superscript exponent. */
    double dlo = pow(10.0, k0), dhi = pow(10.0, k1);
    if (dlo < a->lo * (1 - 1e-9)) dlo *= 10;
    if (dhi > a->hi * (1 + 1e-9)) dhi /= 10;
    int plain = dlo >= 0.1 * (1 - 1e-9) && dhi <= 1000 * (1 + 1e-9);
    for (int k = k0; k <= k1 && a->nt < MAXTICKS; k++) {
        for (int m = 1; m <= 9 && a->nt < MAXTICKS; m++) {
            double v = m * pow(10.0, k);
            if (v < a->lo * (1 - 1e-9) || v > a->hi * (1 + 1e-9)) continue;
            tick *t = &a->t[a->nt++];
            memset(t, 0, sizeof *t);
            t->v = v;
            if (m == 1 && ((k % every) == 0)) {
                if (plain) snprintf(t->txt, sizeof t->txt, "%g", v);
                else {
                    snprintf(t->txt, sizeof t->txt, "10");
                    snprintf(t->sup, sizeof t->sup, "%d", k);
                    fix_minus(t->sup, sizeof t->sup);
                }
            } else if (decades < 2 && (m == 2 || m == 5 || m == 1)) {
                snprintf(t->txt, sizeof t->txt, "%g", v);
            } else {
                t->minor = 1;
            }
        }
    }
}

/* Data extent of all series along x (dim 0) or y (dim 1); returns 0 if there is none. */
static int data_extent(const mt_plot *p, int dim, const axis *a, double *lo, double *hi, int *sticky0,
                       int *has_image)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    *sticky0 = 0;
    *has_image = 0;
    for (int i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        if (s->kind == S_IMAGE) {
            *has_image = 1;
            for (int k = 0; k < 2; k++) {
                double v = s->ext[2 * dim + k];
                if (ok(a, v)) {
                    *lo = fmin(*lo, v);
                    *hi = fmax(*hi, v);
                }
            }
            continue;
        }
        if (s->kind == S_HIST) {
            double a0 = dim == 0 ? s->lo : 0, a1 = s->hi;
            if (dim == 1) {
                a1 = 0;
                for (int b = 0; b < s->bins; b++) a1 = fmax(a1, s->counts[b]);
                *sticky0 = !a->log;
                if (a->log) a0 = INFINITY; /* zero counts are not drawn on a log axis */
                for (int b = 0; a->log && b < s->bins; b++)
                    if (s->counts[b] > 0) a0 = fmin(a0, s->counts[b]);
            }
            if (ok(a, a0)) *lo = fmin(*lo, a0);
            if (ok(a, a1)) *hi = fmax(*hi, a1);
            if (ok(a, a0)) *hi = fmax(*hi, a0);
            if (ok(a, a1)) *lo = fmin(*lo, a1);
            continue;
        }
        const double *v = dim == 0 ? s->x : s->y;
        if (!v) continue;
        for (int k = 0; k < s->n; k++) {
            if (!ok(a, v[k])) continue;
            double l = v[k], h = v[k];
            if (dim == 1 && s->e && isfinite(s->e[k])) {
                double e = fabs(s->e[k]);
                if (ok(a, v[k] - e)) l = v[k] - e;
                h = v[k] + e;
            }
            *lo = fmin(*lo, l);
            *hi = fmax(*hi, h);
        }
    }
    return *lo <= *hi;
}

static mt_status make_axis(const mt_plot *p, int dim, axis *a, double target, char *msg, size_t mn)
{
    memset(a, 0, sizeof *a);
    a->log = dim == 0 ? p->logx : p->logy;
    int fixed = dim == 0 ? p->fixx : p->fixy;
    if (fixed) {
        a->lo = dim == 0 ? p->fx0 : p->fy0;
        a->hi = dim == 0 ? p->fx1 : p->fy1;
        if (a->log && !(a->lo > 0)) {
            snprintf(msg, mn, "%s range must be positive on a log axis", dim == 0 ? "x" : "y");
            return MT_ERR_ARG;
        }
    } else {
        double lo, hi;
        int sticky0, has_image;
        if (!data_extent(p, dim, a, &lo, &hi, &sticky0, &has_image)) {
            lo = a->log ? 1 : 0;
            hi = a->log ? 10 : 1;
        } else if (lo == hi) {
            if (a->log) {
                lo /= 2;
                hi *= 2;
            } else {
                double d = lo != 0 ? fabs(lo) * 0.1 : 0.5;
                lo -= d;
                hi += d;
            }
        } else if (!has_image) { /* 4 % margins, none below a histogram's zero */
            if (a->log) {
                double m = 0.04 * (log10(hi) - log10(lo));
                lo = pow(10.0, log10(lo) - m);
                hi = pow(10.0, log10(hi) + m);
            } else {
                double m = 0.04 * (hi - lo);
                lo = (sticky0 && lo == 0) ? 0 : lo - m;
                hi += m;
            }
        }
        a->lo = lo;
        a->hi = hi;
    }
    if (a->log) log_ticks(a);
    else linear_ticks(a, target);
    return MT_OK;
}

/* ---------------- drawing helpers ---------------- */

typedef struct frame {
    double L, T, W, H; /* plot area, px */
    axis x, y;
    double fs;         /* tick font size, px */
    double lw;         /* base line width, px */
} frame;

static double px(const frame *f, double v)
{
    return f->L + (tr(&f->x, v) - tr(&f->x, f->x.lo)) / (tr(&f->x, f->x.hi) - tr(&f->x, f->x.lo)) * f->W;
}
static double py(const frame *f, double v)
{
    return f->T + f->H - (tr(&f->y, v) - tr(&f->y, f->y.lo)) / (tr(&f->y, f->y.hi) - tr(&f->y, f->y.lo)) * f->H;
}

static void set_rgb(cairo_t *cr, rgb c, double alpha) { cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha); }

static void font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_w(cairo_t *cr, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Width of a tick label, superscript included (current font size fs). */
static double tick_w(cairo_t *cr, const tick *t, double fs)
{
    double w = text_w(cr, t->txt);
    if (t->sup[0]) {
        cairo_set_font_size(cr, fs * 0.72);
        w += text_w(cr, t->sup);
        cairo_set_font_size(cr, fs);
    }
    return w;
}

/* Draw text anchored at (x, y): ax = 0 left, 0.5 centre, 1 right; ay = 0 top, 0.5 middle,
 * 1 baseline-ish bottom (uses the font's ascent so labels of different glyphs line up). */
static void text_at(cairo_t *cr, const char *s, double x, double y, double ax, double ay)
{
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double w = text_w(cr, s), h = fe.ascent * 0.78; /* cap height ≈ 0.72-0.78 ascent */
    cairo_move_to(cr, x - ax * w, y + (1 - ay) * h);
    cairo_show_text(cr, s);
}

static void tick_label(cairo_t *cr, const tick *t, double x, double y, double ax, double ay, double fs)
{
    double w = tick_w(cr, t, fs);
    double x0 = x - ax * w;
    text_at(cr, t->txt, x0, y, 0, ay);
    if (t->sup[0]) {
        double bw = text_w(cr, t->txt);
        cairo_set_font_size(cr, fs * 0.72);
        text_at(cr, t->sup, x0 + bw, y - 0.45 * fs, 0, ay);
        cairo_set_font_size(cr, fs);
    }
}

/* Marker of shape k (0 circle, 1 square, 2 triangle, 3 diamond) centred at (x, y). */
static void marker(cairo_t *cr, int k, double x, double y, double r)
{
    switch (k % 4) {
    case 0: cairo_new_sub_path(cr); cairo_arc(cr, x, y, r, 0, 2 * M_PI); break;
    case 1: cairo_rectangle(cr, x - 0.88 * r, y - 0.88 * r, 1.76 * r, 1.76 * r); break;
    case 2:
        cairo_move_to(cr, x, y - 1.15 * r);
        cairo_line_to(cr, x + r, y + 0.72 * r);
        cairo_line_to(cr, x - r, y + 0.72 * r);
        cairo_close_path(cr);
        break;
    default:
        cairo_move_to(cr, x, y - 1.2 * r);
        cairo_line_to(cr, x + r, y);
        cairo_line_to(cr, x, y + 1.2 * r);
        cairo_line_to(cr, x - r, y);
        cairo_close_path(cr);
        break;
    }
}

static void z_range(const series *s, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int64_t i = 0; i < (int64_t)s->rows * s->cols; i++)
        if (isfinite(s->z[i])) {
            *lo = fmin(*lo, s->z[i]);
            *hi = fmax(*hi, s->z[i]);
        }
    if (!(*lo <= *hi)) {
        *lo = 0;
        *hi = 1;
    } else if (*lo == *hi) {
        *lo -= 0.5;
        *hi += 0.5;
    }
}

/* Format an annotation: integers as integers, else 2 decimals (or 3 significant digits). */
static void cell_text(char *b, size_t n, float v, int all_int)
{
    if (!isfinite(v)) b[0] = 0;
    else if (all_int) snprintf(b, n, "%.0f", (double)v);
    else if (fabsf(v) >= 100 || (fabsf(v) < 0.01f && v != 0)) snprintf(b, n, "%.3g", (double)v);
    else snprintf(b, n, "%.2f", (double)v);
    fix_minus(b, n);
}

static void draw_image(cairo_t *cr, const frame *f, const series *s)
{
    double zlo, zhi;
    z_range(s, &zlo, &zhi);
    double X0 = px(f, s->ext[0]), X1 = px(f, s->ext[1]);
    double Y0 = py(f, s->ext[2]), Y1 = py(f, s->ext[3]);
    int64_t cells = (int64_t)s->rows * s->cols;
    if (cells <= 20000) {
        /* Vector cells (crisp in SVG); a hair of overlap hides anti-aliasing seams. */
        for (int r = 0; r < s->rows; r++)
            for (int c = 0; c < s->cols; c++) {
                float v = s->z[(int64_t)r * s->cols + c];
                /* Edges on whole pixels: cells tile exactly, without anti-aliased seams. */
                double xa = round(X0 + (X1 - X0) * c / s->cols), xb = round(X0 + (X1 - X0) * (c + 1) / s->cols);
                double ya = round(Y0 + (Y1 - Y0) * r / s->rows), yb = round(Y0 + (Y1 - Y0) * (r + 1) / s->rows);
                if (isfinite(v)) set_rgb(cr, cmap((v - zlo) / (zhi - zlo)), 1);
                else cairo_set_source_rgb(cr, 0.85, 0.85, 0.85); /* NaN: light grey */
                cairo_rectangle(cr, fmin(xa, xb), fmin(ya, yb), fabs(xb - xa), fabs(yb - ya));
                cairo_fill(cr);
            }
    } else {
        /* Large maps: an image of at most one texel per device pixel (cells averaged where
         * there are more cells than pixels, NaNs left out), scaled up with nearest-neighbour
         * filtering so cell edges stay crisp. */
        int iw = s->cols, ih = s->rows;
        int pw = (int)ceil(fabs(X1 - X0)), ph = (int)ceil(fabs(Y0 - Y1));
        if (pw >= 1 && iw > pw) iw = pw;
        if (ph >= 1 && ih > ph) ih = ph;
        cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, iw, ih);
        if (cairo_surface_status(img) == CAIRO_STATUS_SUCCESS) {
            unsigned char *d = cairo_image_surface_get_data(img);
            int stride = cairo_image_surface_get_stride(img);
            cairo_surface_flush(img);
            for (int r = 0; r < ih; r++) {
                int r0 = (int)((int64_t)r * s->rows / ih), r1 = (int)((int64_t)(r + 1) * s->rows / ih);
                /* texel row 0 is the top of the picture = the last data row */
                uint32_t *row = (uint32_t *)(void *)(d + (size_t)(ih - 1 - r) * (size_t)stride);
                for (int c = 0; c < iw; c++) {
                    int c0 = (int)((int64_t)c * s->cols / iw), c1 = (int)((int64_t)(c + 1) * s->cols / iw);
                    double sum = 0;
                    int cnt = 0;
                    for (int rr = r0; rr < (r1 > r0 ? r1 : r0 + 1); rr++)
                        for (int cc = c0; cc < (c1 > c0 ? c1 : c0 + 1); cc++) {
                            float v = s->z[(int64_t)rr * s->cols + cc];
                            if (isfinite(v)) {
                                sum += v;
                                cnt++;
                            }
                        }
                    rgb k = cnt ? cmap((sum / cnt - zlo) / (zhi - zlo)) : (rgb){0.85, 0.85, 0.85};
                    row[c] = ((uint32_t)lround(k.r * 255) << 16) | ((uint32_t)lround(k.g * 255) << 8) |
                             (uint32_t)lround(k.b * 255);
                }
            }
            cairo_surface_mark_dirty(img);
            cairo_save(cr);
            cairo_translate(cr, X0, Y1);
            cairo_scale(cr, (X1 - X0) / iw, (Y0 - Y1) / ih);
            cairo_set_source_surface(cr, img, 0, 0);
            cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
            cairo_rectangle(cr, 0, 0, iw, ih);
            cairo_fill(cr);
            cairo_restore(cr);
        }
        cairo_surface_destroy(img);
    }
    if (!s->annotate) return;
    int all_int = 1;
    for (int64_t i = 0; i < cells; i++)
        if (isfinite(s->z[i]) && (s->z[i] != floorf(s->z[i]) || fabsf(s->z[i]) > 1e7f)) all_int = 0;
    double cw = fabs(X1 - X0) / s->cols, ch = fabs(Y1 - Y0) / s->rows;
    /* Widest label decides the size: fit 85 % of the cell width, 45 % of its height. */
    font(cr, 10, 0);
    double wmax = 1;
    for (int64_t i = 0; i < cells; i++) {
        char b[32];
        cell_text(b, sizeof b, s->z[i], all_int);
        wmax = fmax(wmax, text_w(cr, b));
    }
    double size = fmin(f->fs, fmin(10 * 0.85 * cw / wmax, 0.45 * ch));
    if (size < 5) return; /* too small to read */
    font(cr, size, 0);
    for (int r = 0; r < s->rows; r++)
        for (int c = 0; c < s->cols; c++) {
            float v = s->z[(int64_t)r * s->cols + c];
            if (!isfinite(v)) continue;
            char b[32];
            cell_text(b, sizeof b, v, all_int);
            rgb k = cmap((v - zlo) / (zhi - zlo));
            double lum = 0.2126 * k.r + 0.7152 * k.g + 0.0722 * k.b;
            if (lum < 0.45) cairo_set_source_rgb(cr, 1, 1, 1);
            else cairo_set_source_rgb(cr, 0, 0, 0);
            double xc = X0 + (X1 - X0) * (c + 0.5) / s->cols, yc = Y0 + (Y1 - Y0) * (r + 0.5) / s->rows;
            text_at(cr, b, xc, yc, 0.5, 0.5);
        }
}

/* A line with breaks at unusable points. */
static void draw_line(cairo_t *cr, const frame *f, const series *s)
{
    int pen = 0;
    for (int i = 0; i < s->n; i++) {
        if (!ok(&f->x, s->x[i]) || !ok(&f->y, s->y[i])) {
            pen = 0;
            continue;
        }
        double X = px(f, s->x[i]), Y = py(f, s->y[i]);
        if (pen) cairo_line_to(cr, X, Y);
        else cairo_move_to(cr, X, Y);
        pen = 1;
    }
    set_rgb(cr, palette[s->colour], 1);
    cairo_set_line_width(cr, 1.6 * f->lw);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cairo_stroke(cr);
}

static void draw_points(cairo_t *cr, const frame *f, const series *s)
{
    double r = 3.2 * f->lw, cap = 2.6 * f->lw;
    set_rgb(cr, palette[s->colour], 1);
    cairo_set_line_width(cr, 1.0 * f->lw);
    for (int i = 0; s->e && i < s->n; i++) {
        if (!ok(&f->x, s->x[i]) || !ok(&f->y, s->y[i]) || !isfinite(s->e[i])) continue;
        double e = fabs(s->e[i]), X = px(f, s->x[i]);
        double lo = s->y[i] - e, hi = s->y[i] + e;
        double Ylo = ok(&f->y, lo) ? py(f, lo) : f->T + f->H, Yhi = py(f, hi);
        cairo_move_to(cr, X, Ylo);
        cairo_line_to(cr, X, Yhi);
        cairo_move_to(cr, X - cap, Ylo);
        cairo_line_to(cr, X + cap, Ylo);
        cairo_move_to(cr, X - cap, Yhi);
        cairo_line_to(cr, X + cap, Yhi);
    }
    cairo_stroke(cr);
    for (int i = 0; i < s->n; i++) {
        if (!ok(&f->x, s->x[i]) || !ok(&f->y, s->y[i])) continue;
        marker(cr, 0, px(f, s->x[i]), py(f, s->y[i]), r);
    }
    set_rgb(cr, palette[s->colour], 1);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, 0.6 * f->lw);
    cairo_stroke(cr);
}

static void scatter_style(const series *s, int g, rgb *c, int *shape)
{
    if (!s->g) {
        *c = palette[s->colour];
        *shape = 0;
        return;
    }
    int gg = g < 0 ? -g : g;
    *c = palette[gg % 8];
    *shape = (gg / 8) % 4;
}

static void draw_scatter(cairo_t *cr, const frame *f, const series *s)
{
    double r = 2.8 * f->lw;
    cairo_set_line_width(cr, 0.8 * f->lw);
    for (int i = 0; i < s->n; i++) {
        if (!ok(&f->x, s->x[i]) || !ok(&f->y, s->y[i])) continue;
        rgb c;
        int shape;
        scatter_style(s, s->g ? s->g[i] : 0, &c, &shape);
        marker(cr, shape, px(f, s->x[i]), py(f, s->y[i]), r);
        set_rgb(cr, c, 0.75);
        cairo_fill_preserve(cr);
        set_rgb(cr, c, 1);
        cairo_stroke(cr);
    }
}

static void draw_hist(cairo_t *cr, const frame *f, const series *s)
{
    double base = f->y.log ? f->y.lo : fmax(f->y.lo, fmin(0.0, f->y.hi));
    double Yb = py(f, base);
    for (int b = 0; b < s->bins; b++) {
        if (s->counts[b] <= 0) continue;
        double xa = s->lo + (s->hi - s->lo) * b / s->bins, xb = s->lo + (s->hi - s->lo) * (b + 1) / s->bins;
        if (!ok(&f->x, xa) || !ok(&f->x, xb)) continue;
        double X0 = px(f, xa), X1 = px(f, xb), Y = py(f, s->counts[b]);
        cairo_rectangle(cr, X0, Y, X1 - X0, Yb - Y);
    }
    set_rgb(cr, palette[s->colour], 0.55);
    cairo_fill_preserve(cr);
    set_rgb(cr, palette[s->colour], 1);
    cairo_set_line_width(cr, 0.8 * f->lw);
    cairo_stroke(cr);
}

/* ---------------- legend ---------------- */

typedef struct lentry {
    const char *text;
    int kind; /* 0 line, 1 marker, 2 box */
    rgb c;
    int shape;
} lentry;

static int legend_entries(const mt_plot *p, lentry *le, int max)
{
    int n = 0;
    for (int i = 0; i < p->ns && n < max; i++) {
        const series *s = &p->s[i];
        if (s->kind == S_SCATTER) {
            for (int g = 0; s->gnames && g < s->ngroups && n < max; g++) {
                if (!s->gnames[g] || !s->gnames[g][0]) continue;
                lentry *e = &le[n++];
                e->text = s->gnames[g];
                e->kind = 1;
                scatter_style(s, g, &e->c, &e->shape);
            }
            continue;
        }
        if (!s->label || !s->label[0] || s->kind == S_IMAGE) continue;
        lentry *e = &le[n++];
        e->text = s->label;
        e->kind = s->kind == S_LINE ? 0 : s->kind == S_POINTS ? 1 : 2;
        e->c = palette[s->colour];
        e->shape = 0;
    }
    return n;
}

/* Count drawn data points inside a pixel rectangle (to place the legend where it hides least). */
static int points_in(const mt_plot *p, const frame *f, double x0, double y0, double x1, double y1)
{
    int cnt = 0;
    for (int i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        if (s->kind == S_HIST) {
            for (int b = 0; b < s->bins; b++) {
                double xc = s->lo + (s->hi - s->lo) * (b + 0.5) / s->bins;
                if (s->counts[b] <= 0 || !ok(&f->x, xc)) continue;
                double X = px(f, xc), Y = py(f, s->counts[b]);
                if (X >= x0 && X <= x1 && Y <= y1) cnt += 4; /* a bar reaching into the box */
            }
            continue;
        }
        if (s->kind == S_IMAGE) continue;
        int stride = s->n > 4000 ? s->n / 4000 : 1;
        for (int k = 0; k < s->n; k += stride) {
            if (!ok(&f->x, s->x[k]) || !ok(&f->y, s->y[k])) continue;
            double X = px(f, s->x[k]), Y = py(f, s->y[k]);
            if (X >= x0 && X <= x1 && Y >= y0 && Y <= y1) cnt++;
        }
        /* Line segments crossing the box count too: sample midpoints. */
        if (s->kind == S_LINE)
            for (int k = 0; k + stride < s->n; k += stride) {
                if (!ok(&f->x, s->x[k]) || !ok(&f->y, s->y[k]) || !ok(&f->x, s->x[k + stride]) ||
                    !ok(&f->y, s->y[k + stride]))
                    continue;
                for (int q = 1; q < 4; q++) {
                    double X = px(f, s->x[k]) + (px(f, s->x[k + stride]) - px(f, s->x[k])) * q / 4;
                    double Y = py(f, s->y[k]) + (py(f, s->y[k + stride]) - py(f, s->y[k])) * q / 4;
                    if (X >= x0 && X <= x1 && Y >= y0 && Y <= y1) cnt++;
                }
            }
    }
    return cnt;
}

static void draw_legend(cairo_t *cr, const mt_plot *p, const frame *f)
{
    lentry le[64];
    int n = legend_entries(p, le, 64);
    if (!n) return;
    double fs = f->fs * 0.95;
    font(cr, fs, 0);
    double tw = 0;
    for (int i = 0; i < n; i++) tw = fmax(tw, text_w(cr, le[i].text));
    double row = fs * 1.45, pad = fs * 0.55, sw = fs * 1.9;
    double bw = pad + sw + pad * 0.8 + tw + pad, bh = 2 * pad + n * row - (row - fs);
    double m = fs * 0.7;
    /* The four corners of the plot area; the one hiding fewest data points wins (ties: upper
     * right, upper left, lower right, lower left). */
    double cx[4] = {f->L + f->W - m - bw, f->L + m, f->L + f->W - m - bw, f->L + m};
    double cy[4] = {f->T + m, f->T + m, f->T + f->H - m - bh, f->T + f->H - m - bh};
    int best = 0, bc = -1;
    for (int k = 0; k < 4; k++) {
        int c = points_in(p, f, cx[k], cy[k], cx[k] + bw, cy[k] + bh);
        if (bc < 0 || c < bc) {
            bc = c;
            best = k;
        }
    }
    double x = cx[best], y = cy[best];
    cairo_rectangle(cr, x, y, bw, bh);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
    cairo_set_line_width(cr, 0.8 * f->lw);
    cairo_stroke(cr);
    for (int i = 0; i < n; i++) {
        double yc = y + pad + i * row + fs * 0.5, xs = x + pad;
        const lentry *e = &le[i];
        if (e->kind == 0) {
            cairo_move_to(cr, xs, yc);
            cairo_line_to(cr, xs + sw, yc);
            set_rgb(cr, e->c, 1);
            cairo_set_line_width(cr, 1.6 * f->lw);
            cairo_stroke(cr);
        } else if (e->kind == 1) {
            marker(cr, e->shape, xs + sw / 2, yc, 3.2 * f->lw);
            set_rgb(cr, e->c, 1);
            cairo_fill(cr);
        } else {
            cairo_rectangle(cr, xs + sw * 0.15, yc - fs * 0.42, sw * 0.7, fs * 0.84);
            set_rgb(cr, e->c, 0.55);
            cairo_fill_preserve(cr);
            set_rgb(cr, e->c, 1);
            cairo_set_line_width(cr, 0.8 * f->lw);
            cairo_stroke(cr);
        }
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text_at(cr, e->text, xs + sw + pad * 0.8, yc, 0, 0.5);
    }
}

/* ---------------- the whole figure ---------------- */

static const series *last_image(const mt_plot *p)
{
    for (int i = p->ns - 1; i >= 0; i--)
        if (p->s[i].kind == S_IMAGE) return &p->s[i];
    return NULL;
}

/* Positions (data values) of categorical ticks over the last image's extent. */
static double cat_pos(const series *img, int dim, int i, int n)
{
    double a = img->ext[2 * dim], b = img->ext[2 * dim + 1];
    return a + (b - a) * (i + 0.5) / n;
}

static mt_status render(const mt_plot *p, cairo_t *cr, char *msg, size_t mn)
{
    const double W = p->w, H = p->h;
    frame f;
    memset(&f, 0, sizeof f);
    double scale = fmin(3.0, fmax(0.7, sqrt(W * H / (800.0 * 500.0))));
    f.fs = 13.0 * scale;
    f.lw = 1.0 * scale;
    const double tick_len = 0.4 * f.fs, gap = 0.35 * f.fs;
    mt_status st = make_axis(p, 0, &f.x, fmax(3.0, fmin(8.0, W / (7.0 * f.fs))), msg, mn);
    if (!st) st = make_axis(p, 1, &f.y, fmax(3.0, fmin(8.0, H / (4.0 * f.fs))), msg, mn);
    if (st) return st;
    const series *img = last_image(p);
    int catx = img && p->nxt > 0, caty = img && p->nyt > 0;

    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);

    /* ---- margins from the text sizes ---- */
    font(cr, f.fs, 0);
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double cap_h = fe.ascent * 0.78;
    double ytw = 0;
    if (caty)
        for (int i = 0; i < p->nyt; i++) ytw = fmax(ytw, text_w(cr, p->yticks[i]));
    else
        for (int i = 0; i < f.y.nt; i++)
            if (!f.y.t[i].minor) ytw = fmax(ytw, tick_w(cr, &f.y.t[i], f.fs));
    double xtw = 0;
    for (int i = 0; catx && i < p->nxt; i++) xtw = fmax(xtw, text_w(cr, p->xticks[i]));
    double lab_fs = f.fs * 1.08, title_fs = f.fs * 1.2;
    double left = gap + (p->ylabel && p->ylabel[0] ? lab_fs * 1.25 : 0) + ytw + tick_len + gap;
    double top = p->title && p->title[0] ? title_fs * 2.0 : f.fs * 0.9;
    /* Rotate categorical x labels (45°) when they would not fit side by side. */
    double plot_w_guess = W - left - f.fs * 2;
    int rot = catx && xtw * p->nxt > 0.9 * plot_w_guess;
    double xlab_h = rot ? xtw * 0.7071 + cap_h * 0.7071 : cap_h;
    int xsup = 0; /* any superscript (log decades) lowers the whole row of x labels */
    for (int i = 0; !catx && i < f.x.nt; i++) xsup |= f.x.t[i].sup[0] != 0;
    if (xsup) xlab_h += 0.45 * f.fs;
    double bottom = tick_len + gap + xlab_h + gap + (p->xlabel && p->xlabel[0] ? lab_fs * 1.35 : 0) + gap;
    double right = f.fs * 1.2;
    if (!catx && f.x.nt) { /* the last x tick label may stick out to the right */
        double lw = tick_w(cr, &f.x.t[f.x.nt - 1], f.fs);
        right = fmax(right, lw / 2 + gap);
    }
    double cb_w = 0, zlo = 0, zhi = 1;
    axis zax;
    memset(&zax, 0, sizeof zax);
    if (img) { /* colour bar: gap, bar, ticks, labels, z label */
        z_range(img, &zlo, &zhi);
        zax.lo = zlo;
        zax.hi = zhi;
        linear_ticks(&zax, fmax(3.0, fmin(7.0, H / (4.5 * f.fs))));
        double zw = 0;
        for (int i = 0; i < zax.nt; i++) zw = fmax(zw, text_w(cr, zax.t[i].txt));
        cb_w = 1.1 * f.fs;
        right = f.fs * 1.0 + cb_w + tick_len + gap + zw + (img->zlabel && img->zlabel[0] ? gap + lab_fs * 1.3 : 0) + gap;
    }
    f.L = left;
    f.T = top;
    f.W = W - left - right;
    f.H = H - top - bottom;
    if (f.W < 10 || f.H < 10) {
        snprintf(msg, mn, "figure %dx%d px too small for its labels", p->w, p->h);
        return MT_ERR_ARG;
    }

    /* ---- grid ---- */
    cairo_set_line_width(cr, 0.7 * f.lw);
    cairo_set_source_rgb(cr, 0.89, 0.89, 0.89);
    if (!img) {
        for (int i = 0; i < f.x.nt; i++)
            if (!f.x.t[i].minor) {
                double X = round(px(&f, f.x.t[i].v)) + 0.5;
                cairo_move_to(cr, X, f.T);
                cairo_line_to(cr, X, f.T + f.H);
            }
        for (int i = 0; i < f.y.nt; i++)
            if (!f.y.t[i].minor) {
                double Y = round(py(&f, f.y.t[i].v)) + 0.5;
                cairo_move_to(cr, f.L, Y);
                cairo_line_to(cr, f.L + f.W, Y);
            }
        cairo_stroke(cr);
    }

    /* ---- data, clipped to the plot area ---- */
    cairo_save(cr);
    cairo_rectangle(cr, f.L, f.T, f.W, f.H);
    cairo_clip(cr);
    for (int pass = 0; pass < 2; pass++) /* images and histograms under lines and markers */
        for (int i = 0; i < p->ns; i++) {
            const series *s = &p->s[i];
            int under = s->kind == S_IMAGE || s->kind == S_HIST;
            if (under != (pass == 0)) continue;
            switch (s->kind) {
            case S_IMAGE: draw_image(cr, &f, s); break;
            case S_HIST: draw_hist(cr, &f, s); break;
            case S_LINE: draw_line(cr, &f, s); break;
            case S_POINTS: draw_points(cr, &f, s); break;
            case S_SCATTER: draw_scatter(cr, &f, s); break;
            }
        }
    cairo_restore(cr);

    /* ---- frame and ticks ---- */
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 0.9 * f.lw);
    cairo_rectangle(cr, round(f.L) + 0.5, round(f.T) + 0.5, round(f.W), round(f.H));
    cairo_stroke(cr);
    font(cr, f.fs, 0);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    double xlab_y = f.T + f.H + tick_len + gap;
    if (catx) {
        for (int i = 0; i < p->nxt; i++) {
            double X = px(&f, cat_pos(img, 0, i, p->nxt));
            cairo_move_to(cr, X, f.T + f.H);
            cairo_line_to(cr, X, f.T + f.H + tick_len);
            cairo_stroke(cr);
            if (rot) {
                cairo_save(cr);
                cairo_translate(cr, X + cap_h * 0.35, xlab_y);
                cairo_rotate(cr, -M_PI / 4);
                text_at(cr, p->xticks[i], 0, 0, 1, 0);
                cairo_restore(cr);
            } else {
                text_at(cr, p->xticks[i], X, xlab_y, 0.5, 0);
            }
        }
    } else {
        for (int i = 0; i < f.x.nt; i++) {
            const tick *t = &f.x.t[i];
            double X = round(px(&f, t->v)) + 0.5, len = t->minor ? tick_len * 0.55 : tick_len;
            cairo_move_to(cr, X, f.T + f.H);
            cairo_line_to(cr, X, f.T + f.H + len);
            cairo_stroke(cr);
            if (!t->minor && t->txt[0])
                tick_label(cr, t, X, xlab_y + (xsup ? 0.45 * f.fs : 0), 0.5, 0, f.fs);
        }
    }
    if (caty) {
        for (int i = 0; i < p->nyt; i++) {
            double Y = py(&f, cat_pos(img, 1, i, p->nyt));
            cairo_move_to(cr, f.L, Y);
            cairo_line_to(cr, f.L - tick_len, Y);
            cairo_stroke(cr);
            text_at(cr, p->yticks[i], f.L - tick_len - gap, Y, 1, 0.5);
        }
    } else {
        for (int i = 0; i < f.y.nt; i++) {
            const tick *t = &f.y.t[i];
            double Y = round(py(&f, t->v)) + 0.5, len = t->minor ? tick_len * 0.55 : tick_len;
            cairo_move_to(cr, f.L, Y);
            cairo_line_to(cr, f.L - len, Y);
            cairo_stroke(cr);
            if (!t->minor && t->txt[0]) tick_label(cr, t, f.L - tick_len - gap, Y, 1, 0.5, f.fs);
        }
    }

    /* ---- colour bar ---- */
    if (img) {
        double bx = f.L + f.W + f.fs * 1.0, by = f.T, bh = f.H;
        cairo_pattern_t *g = cairo_pattern_create_linear(0, by + bh, 0, by);
        for (int k = 0; k <= 8; k++) cairo_pattern_add_color_stop_rgb(g, k / 8.0, viridis[k].r, viridis[k].g, viridis[k].b);
        cairo_rectangle(cr, bx, by, cb_w, bh);
        cairo_set_source(cr, g);
        cairo_fill(cr);
        cairo_pattern_destroy(g);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_line_width(cr, 0.8 * f.lw);
        cairo_rectangle(cr, round(bx) + 0.5, round(by) + 0.5, round(cb_w), round(bh));
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        double zw = 0;
        for (int i = 0; i < zax.nt; i++) {
            double Y = by + bh - (zax.t[i].v - zlo) / (zhi - zlo) * bh;
            cairo_move_to(cr, bx + cb_w, Y);
            cairo_line_to(cr, bx + cb_w + tick_len, Y);
            cairo_stroke(cr);
            text_at(cr, zax.t[i].txt, bx + cb_w + tick_len + gap, Y, 0, 0.5);
            zw = fmax(zw, text_w(cr, zax.t[i].txt));
        }
        if (img->zlabel && img->zlabel[0]) {
            font(cr, lab_fs, 0);
            cairo_save(cr);
            cairo_translate(cr, bx + cb_w + tick_len + gap + zw + gap + lab_fs * 0.2, by + bh / 2);
            cairo_rotate(cr, M_PI / 2);
            text_at(cr, img->zlabel, 0, 0, 0.5, 1);
            cairo_restore(cr);
        }
    }

    /* ---- labels and title ---- */
    cairo_set_source_rgb(cr, 0, 0, 0);
    if (p->xlabel && p->xlabel[0]) {
        font(cr, lab_fs, 0);
        text_at(cr, p->xlabel, f.L + f.W / 2, H - gap - lab_fs * 0.35, 0.5, 1);
    }
    if (p->ylabel && p->ylabel[0]) {
        font(cr, lab_fs, 0);
        cairo_save(cr);
        cairo_translate(cr, gap + lab_fs * 0.1, f.T + f.H / 2);
        cairo_rotate(cr, -M_PI / 2);
        text_at(cr, p->ylabel, 0, 0, 0.5, 0);
        cairo_restore(cr);
    }
    if (p->title && p->title[0]) {
        font(cr, title_fs, 1);
        text_at(cr, p->title, f.L + f.W / 2, top * 0.55, 0.5, 0.5);
    }
    draw_legend(cr, p, &f);
    return MT_OK;
}

/* ---------------- saving ---------------- */

mt_status mt_plot_save(const mt_plot *p, const char *path, mt_err *err)
{
    if (!p) return mt_err_set(err, MT_ERR_ARG, "plot: no figure");
    if (!path || !*path) return mt_err_set(err, MT_ERR_ARG, "plot: no output path");
    if (p->bad) return mt_err_set(err, p->bad, "%s: %s", path, p->badmsg);
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    int svg;
    if (dot && (!slash || dot > slash) && strcasecmp(dot, ".png") == 0) svg = 0;
    else if (dot && (!slash || dot > slash) && strcasecmp(dot, ".svg") == 0) svg = 1;
    else return mt_err_set(err, MT_ERR_ARG, "%s: unsupported figure format (use .png or .svg)", path);
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return mt_err_set(err, MT_ERR_ARG, "%s: path too long", path);

    cairo_surface_t *sf = svg ? cairo_svg_surface_create(tmp, p->w, p->h)
                              : cairo_image_surface_create(CAIRO_FORMAT_ARGB32, p->w, p->h);
    if (cairo_surface_status(sf) != CAIRO_STATUS_SUCCESS) {
        mt_status st = cairo_surface_status(sf) == CAIRO_STATUS_NO_MEMORY ? MT_ERR_NOMEM : MT_ERR_IO;
        mt_err_set(err, st, "%s: cannot create figure: %s", path, cairo_status_to_string(cairo_surface_status(sf)));
        cairo_surface_destroy(sf);
        unlink(tmp);
        return st;
    }
    if (svg) {
        cairo_svg_surface_restrict_to_version(sf, CAIRO_SVG_VERSION_1_1);
        cairo_svg_surface_set_document_unit(sf, CAIRO_SVG_UNIT_PX); /* same size as the PNG */
    }
    cairo_t *cr = cairo_create(sf);
    char msg[256] = "";
    mt_status st = render(p, cr, msg, sizeof msg);
    cairo_status_t cs = cairo_status(cr);
    cairo_destroy(cr);
    if (!st && cs != CAIRO_STATUS_SUCCESS) {
        st = MT_ERR_INTERNAL;
        snprintf(msg, sizeof msg, "drawing failed: %s", cairo_status_to_string(cs));
    }
    if (!st) {
        if (svg) {
            cairo_surface_finish(sf);
            cs = cairo_surface_status(sf);
        } else {
            cs = cairo_surface_write_to_png(sf, tmp);
        }
        if (cs != CAIRO_STATUS_SUCCESS) {
            st = MT_ERR_IO;
            snprintf(msg, sizeof msg, "cannot write: %s", cairo_status_to_string(cs));
        }
    }
    cairo_surface_destroy(sf);
    if (!st && rename(tmp, path) != 0) {
        st = MT_ERR_IO;
        snprintf(msg, sizeof msg, "cannot rename into place: %s", strerror(errno));
    }
    if (st) {
        unlink(tmp);
        return mt_err_set(err, st, "%s: %s", path, msg);
    }
    return MT_OK;
}

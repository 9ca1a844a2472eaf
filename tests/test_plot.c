/* plot: every kind renders to PNG and SVG at the requested size and is not blank; data land at
 * the right pixels (linear and log axes, heat-map orientation and colours); bad paths and bad
 * arguments are errors; NaNs are skipped. */
#include "testutil.h"

#include <cairo.h>
#include <dlfcn.h>
#include <dirent.h>
#include <math.h>

#include "materia/plot.h"

static char dir[256];
static int setup(void **st) { (void)st; tu_tmpdir(dir, sizeof dir); return 0; }
static int teardown(void **st) { (void)st; tu_rmrf(dir); return 0; }

/* ---- reading PNGs back ---- */

typedef struct png {
    cairo_surface_t *s;
    int w, h, stride;
    unsigned char *d;
} png;

static void png_open(png *p, const char *path)
{
    p->s = cairo_image_surface_create_from_png(path);
    assert_int_equal(cairo_surface_status(p->s), CAIRO_STATUS_SUCCESS);
    p->w = cairo_image_surface_get_width(p->s);
    p->h = cairo_image_surface_get_height(p->s);
    p->stride = cairo_image_surface_get_stride(p->s);
    p->d = cairo_image_surface_get_data(p->s);
}

static void png_close(png *p) { cairo_surface_destroy(p->s); }

/* Pixel (x, y) as 0xRRGGBB (opaque figures: no un-premultiplying needed). */
static uint32_t px_at(const png *p, int x, int y)
{
    uint32_t v;
    memcpy(&v, p->d + (size_t)y * (size_t)p->stride + 4 * (size_t)x, 4);
    return v & 0xffffff;
}

static int near(uint32_t c, uint32_t ref, int tol)
{
    for (int sh = 0; sh < 24; sh += 8) {
        int a = (int)((c >> sh) & 255), b = (int)((ref >> sh) & 255);
        if (abs(a - b) > tol) return 0;
    }
    return 1;
}

/* Distinct colours (up to 4096 tracked) and the fraction of non-white pixels. */
static void variety(const png *p, int *ncol, double *ink)
{
    static const int cap = 4096;
    uint32_t *seen = malloc(cap * sizeof *seen);
    int n = 0;
    long dark = 0;
    for (int y = 0; y < p->h; y++)
        for (int x = 0; x < p->w; x++) {
            uint32_t c = px_at(p, x, y);
            if (c != 0xffffff) dark++;
            int k;
            for (k = 0; k < n && seen[k] != c; k++) {}
            if (k == n && n < cap) seen[n++] = c;
        }
    free(seen);
    *ncol = n;
    *ink = (double)dark / ((double)p->w * p->h);
}

/* The plot frame: the first two groups of columns (from the left) and the first and last rows
 * holding a long run of near-black pixels.  The frame is the only long black line (text is
 * short; grid lines are light grey; a colour bar's outline comes after the frame). */
static void find_frame(const png *p, int *L, int *R, int *T, int *B)
{
    int groups[8], ng = 0, prev = -10;
    for (int x = 0; x < p->w && ng < 8; x++) {
        int run = 0, best = 0;
        for (int y = 0; y < p->h; y++) {
            uint32_t c = px_at(p, x, y);
            run = near(c, 0x000000, 70) ? run + 1 : 0;
            if (run > best) best = run;
        }
        if (best > p->h / 3) {
            if (x > prev + 1) groups[ng++] = x;
            prev = x;
        }
    }
    assert_true(ng >= 2);
    *L = groups[0];
    *R = groups[1];
    *T = *B = -1;
    for (int y = 0; y < p->h; y++) {
        int cnt = 0;
        for (int x = *L; x <= *R; x++) cnt += near(px_at(p, x, y), 0x000000, 70);
        if (cnt > (*R - *L) * 9 / 10) {
            if (*T < 0) *T = y;
            *B = y;
        }
    }
    assert_true(*T >= 0 && *B > *T + 10);
}

/* Mean position of pixels near a colour inside a box; returns the count.  Lines are
 * anti-aliased: a 1.6-px line split over two pixel columns leaves each about 80 % covered, so
 * line colours are matched with a tolerance of 70 per channel. */
static int centroid(const png *p, uint32_t col, int tol, int x0, int x1, int y0, int y1, double *mx, double *my)
{
    double sx = 0, sy = 0;
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            if (near(px_at(p, x, y), col, tol)) {
                sx += x;
                sy += y;
                n++;
            }
    *mx = n ? sx / n : NAN;
    *my = n ? sy / n : NAN;
    return n;
}

static void save_ok(const mt_plot *p, const char *name, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", dir, name);
    mt_err err = {0};
    if (mt_plot_save(p, path, &err)) fail_msg("%s", err.msg);
}

/* PNG of the right size with real content; SVG a well-formed-looking vector file. */
static void check_both(const mt_plot *p, const char *stem, int w, int h, int min_colours)
{
    char path[512], name[128];
    snprintf(name, sizeof name, "%s.png", stem);
    save_ok(p, name, path, sizeof path);
    png g;
    png_open(&g, path);
    assert_int_equal(g.w, w);
    assert_int_equal(g.h, h);
    int ncol;
    double ink;
    variety(&g, &ncol, &ink);
    assert_true(ncol >= min_colours);
    assert_true(ink > 0.01 && ink < 0.95);
    png_close(&g);
    snprintf(name, sizeof name, "%s.svg", stem);
    save_ok(p, name, path, sizeof path);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[4096];
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = 0;
    assert_true(got > 500);
    assert_non_null(strstr(buf, "<svg"));
    char want[64];
    snprintf(want, sizeof want, "width=\"%d", w);
    assert_non_null(strstr(buf, want));
}

/* ---- every kind ---- */

static void test_kinds_render(void **st)
{
    (void)st;
    double x[200], y[200], y2[200], e[200];
    for (int i = 0; i < 200; i++) {
        x[i] = i * 0.05;
        y[i] = sin(x[i]);
        y2[i] = cos(x[i]) * exp(-x[i] / 5);
        e[i] = 0.05 + 0.01 * (i % 5);
    }
    mt_plot *p = mt_plot_new("Lines", "time (ms)", "V (V)");
    mt_plot_line(p, x, y, 200, "sin");
    mt_plot_line(p, x, y2, 200, "damped cos");
    check_both(p, "line", 800, 500, 20);
    mt_plot_free(p);

    p = mt_plot_new("Points", "channels", "accuracy (%)");
    mt_plot_size(p, 640, 480);
    mt_plot_points(p, x, y, e, 20, "mean ± sd");
    mt_plot_points(p, x, y2, NULL, 20, NULL);
    check_both(p, "points", 640, 480, 20);
    mt_plot_free(p);

    int g[200];
    for (int i = 0; i < 200; i++) g[i] = i % 12; /* > 8 groups: colours repeat, shapes change */
    static const char *const names[12] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"};
    p = mt_plot_new("Scatter", "x", "y");
    mt_plot_scatter(p, y, y2, g, 200, names, 12);
    check_both(p, "scatter", 800, 500, 30);
    mt_plot_free(p);

    p = mt_plot_new("Histogram", "G (µS)", "count");
    mt_plot_hist(p, y, 200, 25, "sin");
    mt_plot_hist(p, y2, 200, 25, "cos");
    check_both(p, "hist", 800, 500, 10);
    mt_plot_free(p);

    float cm[16] = {30, 2, 0, 1, 3, 25, 4, 0, 0, 1, 28, 2, 1, 0, 3, 31};
    static const char *const cls[4] = {"yes", "no", "up", "down"};
    p = mt_plot_new("Confusion", "predicted", "true");
    mt_plot_size(p, 500, 460);
    mt_plot_image(p, cm, 4, 4, -0.5, 3.5, -0.5, 3.5, "count", 1);
    mt_plot_image_ticks(p, cls, 4, cls, 4);
    check_both(p, "confusion", 500, 460, 30);
    mt_plot_free(p);

    /* A large map (more cells than pixels) goes through the image path. */
    int R = 64, C = 1250;
    float *z = malloc((size_t)R * C * sizeof *z);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) z[r * C + c] = sinf(0.01f * c * (1 + 0.05f * r));
    p = mt_plot_new("Features", "time (s)", "channel");
    mt_plot_size(p, 900, 400);
    mt_plot_image(p, z, R, C, 0, 1, 0, R, "V", 0);
    check_both(p, "features", 900, 400, 50);
    mt_plot_free(p);
    free(z);

    double f[100], pw[100];
    for (int i = 0; i < 100; i++) {
        f[i] = pow(10, 1 + i * 0.04);
        pw[i] = 1e-3 / (1 + pow(f[i] / 300, 2));
    }
    p = mt_plot_new("Log-log", "f (Hz)", "P (W)");
    mt_plot_logx(p, 1);
    mt_plot_logy(p, 1);
    mt_plot_line(p, f, pw, 100, "low-pass");
    check_both(p, "loglog", 800, 500, 20);
    mt_plot_free(p);

    /* Nothing at all still makes an (empty) framed figure. */
    p = mt_plot_new(NULL, NULL, NULL);
    check_both(p, "empty", 800, 500, 2);
    mt_plot_free(p);
}

/* ---- geometry: data coordinates to pixels ---- */

static void test_line_position(void **st)
{
    (void)st;
    /* y = 5 across x ∈ [0, 10] (blue, first palette colour) and x = 2.5 over y ∈ [0, 10]
     * (vermillion) on fixed [0, 10] ranges: the horizontal line sits halfway between the frame's
     * top and bottom, the vertical one a quarter of the way from the left. */
    double hx[2] = {0, 10}, hy[2] = {5, 5}, vx[2] = {2.5, 2.5}, vy[2] = {0, 10};
    mt_plot *p = mt_plot_new("Geometry", "x", "y");
    mt_plot_xrange(p, 0, 10);
    mt_plot_yrange(p, 0, 10);
    mt_plot_line(p, hx, hy, 2, NULL);
    mt_plot_line(p, vx, vy, 2, NULL);
    char path[512];
    save_ok(p, "geom.png", path, sizeof path);
    mt_plot_free(p);
    png g;
    png_open(&g, path);
    int L, R, T, B;
    find_frame(&g, &L, &R, &T, &B);
    double mx, my;
    int n = centroid(&g, 0x0072B2, 70, L + 3, R - 3, T + 3, B - 3, &mx, &my);
    assert_true(n > (R - L) / 2); /* a line across the plot */
    assert_true(fabs(my - (T + B) / 2.0) < 2.0);
    n = centroid(&g, 0xD55E00, 70, L + 3, R - 3, T + 3, B - 3, &mx, &my);
    assert_true(n > (B - T) / 2);
    assert_true(fabs(mx - (L + 0.25 * (R - L))) < 2.0);
    png_close(&g);

    /* Log x on [1, 1000]: x = 10 is a third of the way across. */
    double lx[2] = {10, 10}, ly[2] = {0, 1};
    p = mt_plot_new(NULL, "f (Hz)", NULL);
    mt_plot_logx(p, 1);
    mt_plot_xrange(p, 1, 1000);
    mt_plot_yrange(p, 0, 1);
    mt_plot_line(p, lx, ly, 2, NULL);
    save_ok(p, "geomlog.png", path, sizeof path);
    mt_plot_free(p);
    png_open(&g, path);
    find_frame(&g, &L, &R, &T, &B);
    n = centroid(&g, 0x0072B2, 70, L + 3, R - 3, T + 3, B - 3, &mx, &my);
    assert_true(n > (B - T) / 2);
    assert_true(fabs(mx - (L + (R - L) / 3.0)) < 2.0);
    png_close(&g);
}

static void test_image_orientation(void **st)
{
    (void)st;
    /* 2 rows x 1 col: row 0 (z = 0, viridis dark purple #440154) must be at the bottom, row 1
     * (z = 1, yellow #FDE725) at the top.  Then 1 x 2: column 0 on the left. */
    float z[2] = {0, 1};
    mt_plot *p = mt_plot_new(NULL, NULL, NULL);
    mt_plot_image(p, z, 2, 1, 0, 1, 0, 1, "z", 0);
    char path[512];
    save_ok(p, "rows.png", path, sizeof path);
    mt_plot_free(p);
    png g;
    png_open(&g, path);
    int L, R, T, B;
    find_frame(&g, &L, &R, &T, &B);
    double px0, py0, px1, py1;
    int n0 = centroid(&g, 0x440154, 12, L + 2, R - 2, T + 2, B - 2, &px0, &py0);
    int n1 = centroid(&g, 0xFDE725, 12, L + 2, R - 2, T + 2, B - 2, &px1, &py1);
    int area = (R - L) * (B - T);
    assert_true(n0 > area / 3 && n1 > area / 3); /* each fills its half */
    assert_true(py0 > (T + B) / 2.0 && py1 < (T + B) / 2.0);
    png_close(&g);

    p = mt_plot_new(NULL, NULL, NULL);
    mt_plot_image(p, z, 1, 2, 0, 1, 0, 1, NULL, 0);
    save_ok(p, "cols.png", path, sizeof path);
    mt_plot_free(p);
    png_open(&g, path);
    find_frame(&g, &L, &R, &T, &B);
    n0 = centroid(&g, 0x440154, 12, L + 2, R - 2, T + 2, B - 2, &px0, &py0);
    n1 = centroid(&g, 0xFDE725, 12, L + 2, R - 2, T + 2, B - 2, &px1, &py1);
    assert_true(n0 > area / 4 && n1 > area / 4);
    assert_true(px0 < (L + R) / 2.0 && px1 > (L + R) / 2.0);
    png_close(&g);
}

/* ---- errors and NaNs ---- */

static int leftovers(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp")) n++;
    closedir(d);
    return n;
}

static void test_errors(void **st)
{
    (void)st;
    double x[3] = {0, 1, 2}, y[3] = {1, 2, 3};
    mt_err err = {0};
    mt_plot *p = mt_plot_new("t", "x", "y");
    mt_plot_line(p, x, y, 3, "a");
    assert_int_equal(mt_plot_save(p, "/nonexistent-dir/sub/fig.png", &err), MT_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/sub/fig.png"));
    assert_int_equal(mt_plot_save(p, "/nonexistent-dir/sub/fig.svg", &err), MT_ERR_IO);
    char path[512];
    snprintf(path, sizeof path, "%s/fig.jpg", dir);
    assert_int_equal(mt_plot_save(p, path, &err), MT_ERR_ARG);
    assert_non_null(strstr(err.msg, ".png"));
    assert_int_equal(mt_plot_save(p, "", &err), MT_ERR_ARG);
    /* Saving twice over the same name replaces it; nothing temporary is left. */
    save_ok(p, "twice.png", path, sizeof path);
    save_ok(p, "twice.png", path, sizeof path);
    assert_int_equal(leftovers(), 0);
    mt_plot_free(p);

    p = mt_plot_new(NULL, NULL, NULL);
    mt_plot_xrange(p, 2, 1);
    assert_int_equal(mt_plot_save(p, path, &err), MT_ERR_ARG);
    mt_plot_free(p);
    p = mt_plot_new(NULL, NULL, NULL);
    mt_plot_size(p, 10, 10);
    assert_int_equal(mt_plot_save(p, path, &err), MT_ERR_ARG);
    mt_plot_free(p);
    p = mt_plot_new(NULL, NULL, NULL);
    mt_plot_logy(p, 1);
    mt_plot_yrange(p, -1, 1);
    assert_int_equal(mt_plot_save(p, path, &err), MT_ERR_ARG);
    mt_plot_free(p);
    p = mt_plot_new(NULL, NULL, NULL);
    mt_plot_line(p, NULL, y, 3, "x missing");
    assert_int_equal(mt_plot_save(p, path, &err), MT_ERR_ARG);
    mt_plot_free(p);
    assert_int_equal(leftovers(), 0);
    mt_plot_free(NULL);
}

static void test_nans(void **st)
{
    (void)st;
    double x[50], y[50];
    for (int i = 0; i < 50; i++) {
        x[i] = i;
        y[i] = (i % 7 == 3) ? NAN : (i % 11 == 5 ? INFINITY : sin(i * 0.2));
    }
    x[20] = NAN;
    int g[50];
    for (int i = 0; i < 50; i++) g[i] = i % 3;
    mt_plot *p = mt_plot_new("NaNs", "x", "y");
    mt_plot_line(p, x, y, 50, "gappy");
    mt_plot_points(p, x, y, y, 50, "err NaN too");
    mt_plot_scatter(p, y, x, g, 50, NULL, 3);
    check_both(p, "nan_line", 800, 500, 10);
    mt_plot_free(p);

    /* The automatic range ignores the NaNs and infinities: the line's extreme values
     * (|sin| <= 1) set it, so the finite data still fill the plot vertically. */
    p = mt_plot_new(NULL, NULL, NULL);
    mt_plot_line(p, x, y, 50, NULL);
    char path[512];
    save_ok(p, "nan_range.png", path, sizeof path);
    mt_plot_free(p);
    png gimg;
    png_open(&gimg, path);
    int L, R, T, B;
    find_frame(&gimg, &L, &R, &T, &B);
    int top = -1, bot = -1;
    for (int yy = T + 1; yy < B; yy++)
        for (int xx = L + 1; xx < R; xx++)
            if (near(px_at(&gimg, xx, yy), 0x0072B2, 60)) {
                if (top < 0) top = yy;
                bot = yy;
            }
    assert_true(top >= 0);
    assert_true(top - T < 0.1 * (B - T) && B - bot < 0.1 * (B - T));
    png_close(&gimg);

    double v[6] = {NAN, 1, 2, INFINITY, 2, -INFINITY};
    float z[6] = {NAN, 1, 2, 3, NAN, 5};
    p = mt_plot_new("NaN hist and map", NULL, NULL);
    mt_plot_hist(p, v, 6, 3, "h");
    check_both(p, "nan_hist", 800, 500, 5);
    mt_plot_free(p);
    p = mt_plot_new(NULL, NULL, NULL);
    mt_plot_image(p, z, 2, 3, 0, 3, 0, 2, "z", 1);
    check_both(p, "nan_image", 800, 500, 10);
    mt_plot_free(p);

    /* All NaN: still a figure, no crash. */
    double nn[4] = {NAN, NAN, NAN, NAN};
    float zn[4] = {NAN, NAN, NAN, NAN};
    p = mt_plot_new("all NaN", "x", "y");
    mt_plot_line(p, nn, nn, 4, "none");
    mt_plot_hist(p, nn, 4, 4, NULL);
    mt_plot_logy(p, 1);
    check_both(p, "all_nan", 800, 500, 2);
    mt_plot_free(p);
    p = mt_plot_new(NULL, NULL, NULL);
    mt_plot_image(p, zn, 2, 2, 0, 1, 0, 1, NULL, 1);
    check_both(p, "all_nan_image", 800, 500, 2);
    mt_plot_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kinds_render, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_orientation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nans, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    /* cairo's toy-font cache and fontconfig keep their patterns until exit; release them so
     * LeakSanitizer (make asan) sees only real leaks.  FcFini is looked up at run time because
     * the build links cairo, not fontconfig, directly (cairo loads it). */
    cairo_debug_reset_static_data();
    void (*fc_fini)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "FcFini");
    if (fc_fini) fc_fini();
    return rc;
}

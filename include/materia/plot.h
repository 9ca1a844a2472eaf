/* materia — figures (cairo): line plots, scatter, histograms, heat maps; PNG or SVG.
 *
 * Build a figure, add series, save.  The output format follows the file extension (.png, .svg).
 * Example:
 *     mt_plot *p = mt_plot_new("Step response", "time (ms)", "V_out (V)");
 *     mt_plot_line(p, t, v, n, "config 0");
 *     mt_plot_save(p, "step.png", &err);
 *     mt_plot_free(p);
 */
#ifndef MATERIA_PLOT_H
#define MATERIA_PLOT_H

#include "materia/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_plot mt_plot;

/* New figure (default 800 x 500 px).  Strings are copied.  Returns NULL on allocation failure. */
mt_plot *mt_plot_new(const char *title, const char *xlabel, const char *ylabel);
void mt_plot_size(mt_plot *p, int width_px, int height_px);
void mt_plot_logx(mt_plot *p, int on);
void mt_plot_logy(mt_plot *p, int on);
/* Fix an axis range (default: automatic from the data). */
void mt_plot_xrange(mt_plot *p, double lo, double hi);
void mt_plot_yrange(mt_plot *p, double lo, double hi);

/* A polyline; label may be NULL (no legend entry).  Data are copied. */
void mt_plot_line(mt_plot *p, const double *x, const double *y, int n, const char *label);
/* Points with optional error bars (yerr may be NULL). */
void mt_plot_points(mt_plot *p, const double *x, const double *y, const double *yerr, int n,
                    const char *label);
/* Scatter coloured by an integer group (e.g. class), group may be NULL; group_names (ngroups
 * strings) label the legend, may be NULL. */
void mt_plot_scatter(mt_plot *p, const double *x, const double *y, const int *group, int n,
                     const char *const *group_names, int ngroups);
/* Histogram of n values into `bins` equal bins over [min, max] of the data. */
void mt_plot_hist(mt_plot *p, const double *v, int n, int bins, const char *label);
/* Heat map of z [rows, cols] (row 0 at the bottom), spanning x0..x1, y0..y1, with a colour bar
 * labelled zlabel.  With annotate != 0 each cell prints its value (confusion matrices). */
void mt_plot_image(mt_plot *p, const float *z, int rows, int cols, double x0, double x1,
                   double y0, double y1, const char *zlabel, int annotate);
/* Tick labels for a heat map's axes (e.g. class names), n strings each, may be NULL. */
void mt_plot_image_ticks(mt_plot *p, const char *const *xticks, int nx, const char *const *yticks,
                         int ny);

/* Render to path (.png or .svg, chosen by extension), atomically. */
mt_status mt_plot_save(const mt_plot *p, const char *path, mt_err *err);
void mt_plot_free(mt_plot *p);

#ifdef __cplusplus
}
#endif
#endif

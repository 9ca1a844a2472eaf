/* Chip mapping, energy and latency (the paper's Methods, "System-level efficiency analysis"),
 * and the whole-system energy of one inference.  Pure arithmetic; docs/aimc.md explains every
 * rule and figure. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "materia/aimc.h"

/* ------------------------------------------------------------------------------------------ */
/* Layer lists                                                                                 */
/* ------------------------------------------------------------------------------------------ */

mt_status mt_aimc_layers_from_model(const mt_model *m, mt_aimc_layer **out, int *n, mt_err *err)
{
    *out = NULL;
    *n = 0;
    if (!m || m->nlayers < 1) return mt_err_set(err, MT_ERR_ARG, "aimc: no model");
    mt_aimc_layer *L = calloc((size_t)m->nlayers, sizeof *L);
    if (!L) return mt_err_set(err, MT_ERR_NOMEM, "aimc: out of memory");
    int k = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const mt_layer *l = &m->layers[i];
        if (!l->analog || (l->type != MT_LAYER_CONV && l->type != MT_LAYER_LINEAR)) continue;
        mt_aimc_layer *a = &L[k++];
        snprintf(a->name, sizeof a->name, "%s", l->name[0] ? l->name : (l->type == MT_LAYER_CONV ? "conv" : "linear"));
        if (l->type == MT_LAYER_CONV) {
            a->kind = MT_AIMC_CONV;
            a->rows = l->in_c * l->k; /* im2col rows: C_in × kernel */
            a->cols = l->out_c;
            a->positions = l->out_t;  /* one MVM per output position */
        } else {
            a->kind = MT_AIMC_LINEAR;
            a->rows = l->in_c * l->in_t;
            a->cols = l->out_c * l->out_t;
            a->positions = 1;
        }
    }
    if (!k) {
        free(L);
        return mt_err_set(err, MT_ERR_ARG, "aimc: the model has no analog (conv/linear) layer");
    }
    *out = L;
    *n = k;
    return MT_OK;
}

static int parse_i64(const char **s, int64_t *v)
{
    if (**s < '0' || **s > '9') return -1;
    char *e;
    errno = 0;
    long long x = strtoll(*s, &e, 10);
    if (errno || x < 1 || x > (1LL << 40)) return -1;
    *v = x;
    *s = e;
    return 0;
}

mt_status mt_aimc_layers_parse(const char *s, mt_aimc_layer **out, int *n, mt_err *err)
{
    *out = NULL;
    *n = 0;
    if (!s || !*s) return mt_err_set(err, MT_ERR_ARG, "--layers: empty layer list");
    int cap = 1;
    for (const char *q = s; *q; q++) cap += *q == ',';
    mt_aimc_layer *L = calloc((size_t)cap, sizeof *L);
    if (!L) return mt_err_set(err, MT_ERR_NOMEM, "aimc: out of memory");
    const char *p = s;
    int k = 0, conv = 0, lin = 0;
    while (*p) {
        const char *tok = p;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        mt_aimc_layer *a = &L[k];
        if (strncmp(p, "conv:", 5) == 0) {
            a->kind = MT_AIMC_CONV;
            p += 5;
        } else if (strncmp(p, "linear:", 7) == 0) {
            a->kind = MT_AIMC_LINEAR;
            p += 7;
        } else if (strncmp(p, "fc:", 3) == 0) {
            a->kind = MT_AIMC_LINEAR;
            p += 3;
        } else {
            goto bad;
        }
        if (parse_i64(&p, &a->rows) || (*p != 'x' && *p != 'X')) goto bad;
        p++;
        if (parse_i64(&p, &a->cols)) goto bad;
        a->positions = 1;
        if (*p == '@') {
            p++;
            if (parse_i64(&p, &a->positions)) goto bad;
        }
        if (p != tok + len) goto bad;
        if (a->kind == MT_AIMC_CONV) snprintf(a->name, sizeof a->name, "conv%d", conv++);
        else snprintf(a->name, sizeof a->name, "fc%d", lin++);
        k++;
        if (!end) break;
        p = end + 1;
        if (!*p) goto bad_empty;
        continue;
    bad:
        free(L);
        return mt_err_set(err, MT_ERR_ARG,
                          "--layers: bad layer '%.*s' (expected conv|linear:ROWSxCOLS[@POSITIONS], "
                          "e.g. conv:512x64@1977)", (int)len, tok);
    }
    *out = L;
    *n = k;
    return MT_OK;
bad_empty:
    free(L);
    return mt_err_set(err, MT_ERR_ARG, "--layers: empty entry after ','");
}

/* ------------------------------------------------------------------------------------------ */
/* Chip figures                                                                                */
/* ------------------------------------------------------------------------------------------ */

mt_status mt_chip_hermes(mt_chip *c, int phases, mt_err *err)
{
    if (phases != 1 && phases != 4)
        return mt_err_set(err, MT_ERR_ARG, "chip: read phases must be 1 or 4, got %d", phases);
    memset(c, 0, sizeof *c);
    c->cores = 64;        /* Le Gallo et al., Nat. Electron. 2023 (abstract) */
    c->core_rows = 256;
    c->core_cols = 256;
    c->phases = phases;
    /* Paper Methods: "0.86 µJ at full use (all 64 cores) ... with a delay of 133 ns" (one-phase;
     * = 64·2·256² ops / 9.76 TOPS/W and / 63.1 TOPS).  Four-phase: the chip's published
     * efficiency and throughput ratios, 9.76/2.48 TOPS/W and 63.1/16.1 TOPS. */
    c->chip_mvm_energy_uj = 0.86;
    c->mvm_latency_ns = 133.0;
    if (phases == 4) {
        c->chip_mvm_energy_uj *= 9.76 / 2.48;
        c->mvm_latency_ns *= 63.1 / 16.1;
        snprintf(c->name, sizeof c->name, "hermes-4phase");
    } else {
        snprintf(c->name, sizeof c->name, "hermes");
    }
    return MT_OK;
}

mt_status mt_chip_by_name(mt_chip *c, const char *name, mt_err *err)
{
    if (name && strcmp(name, "hermes") == 0) return mt_chip_hermes(c, 1, err);
    if (name && (strcmp(name, "hermes-4phase") == 0 || strcmp(name, "hermes4") == 0))
        return mt_chip_hermes(c, 4, err);
    return mt_err_set(err, MT_ERR_ARG, "unknown chip '%s' (hermes | hermes-4phase)", name ? name : "");
}

/* ------------------------------------------------------------------------------------------ */
/* Mapping                                                                                     */
/* ------------------------------------------------------------------------------------------ */

void mt_aimc_map_free(mt_aimc_map *m)
{
    if (!m) return;
    free(m->layers);
    m->layers = NULL;
    m->nlayers = 0;
}

mt_status mt_aimc_map_layers(const mt_aimc_layer *layers, int n, const mt_chip *chip,
                             const int *cores_override, mt_aimc_map *out, mt_err *err)
{
    memset(out, 0, sizeof *out);
    if (!layers || n < 1) return mt_err_set(err, MT_ERR_ARG, "aimc map: no analog layers");
    if (!chip || chip->cores < 1 || chip->core_rows < 1 || chip->core_cols < 1 ||
        !(chip->chip_mvm_energy_uj >= 0) || !(chip->mvm_latency_ns >= 0) ||
        !isfinite(chip->chip_mvm_energy_uj) || !isfinite(chip->mvm_latency_ns))
        return mt_err_set(err, MT_ERR_ARG, "aimc map: invalid chip figures");
    out->layers = calloc((size_t)n, sizeof *out->layers);
    if (!out->layers) return mt_err_set(err, MT_ERR_NOMEM, "aimc map: out of memory");
    out->chip = *chip;
    out->nlayers = n;
    for (int i = 0; i < n; i++) {
        const mt_aimc_layer *a = &layers[i];
        mt_aimc_layer_map *lm = &out->layers[i];
        if (a->rows < 1 || a->cols < 1 || a->positions < 1) {
            mt_aimc_map_free(out);
            return mt_err_set(err, MT_ERR_ARG, "aimc map: layer %d (%s) has an empty shape", i, a->name);
        }
        lm->layer = *a;
        /* Rule: rows (C_in·K or in_features) and columns (C_out) each split over ceil(n/256)
         * cores; every core of the layer performs one MVM per output position. */
        lm->row_blocks = (int)((a->rows + chip->core_rows - 1) / chip->core_rows);
        lm->col_blocks = (int)((a->cols + chip->core_cols - 1) / chip->core_cols);
        lm->cores = lm->row_blocks * lm->col_blocks;
        if (cores_override) {
            if (cores_override[i] < 1) {
                mt_aimc_map_free(out);
                return mt_err_set(err, MT_ERR_ARG, "aimc map: core count of layer %d (%s) must be >= 1, got %d",
                                  i, a->name, cores_override[i]);
            }
            lm->cores = cores_override[i];
            lm->overridden = 1;
        }
        lm->mvms = a->positions; /* partial MVMs of the layer's cores run in parallel */
        lm->core_mvms = a->positions * lm->cores;
        lm->utilisation = (double)a->rows * (double)a->cols /
                          ((double)lm->cores * chip->core_rows * chip->core_cols);
        lm->energy_uj = (double)lm->core_mvms / chip->cores * chip->chip_mvm_energy_uj;
        lm->latency_us = (double)lm->mvms * chip->mvm_latency_ns * 1e-3;
        out->cores += lm->cores;
        out->mvms += lm->mvms;
        out->core_mvms += lm->core_mvms;
    }
    /* Totals from the summed counts (the paper's arithmetic: 5,861/64 × 0.86 µJ). */
    out->energy_uj = (double)out->core_mvms / chip->cores * chip->chip_mvm_energy_uj;
    out->latency_us = (double)out->mvms * chip->mvm_latency_ns * 1e-3;
    out->fits = out->cores <= chip->cores;
    return MT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* System energy                                                                               */
/* ------------------------------------------------------------------------------------------ */

void mt_system_params_default(mt_system_params *p)
{
    memset(p, 0, sizeof *p);
    p->channels = 64;
    p->duration_s = 1.0;
    p->rnpu_power_w = 5e-9;  /* Methods: conservative 5 nW per RNPU (measured 1.9 ± 0.5 nW) */
    p->adc_rate_hz = 12500.0; /* the ADC samples the RNPU output at 12.5 kS/s and averages 10 */
    p->adc_bits = 8;
    p->adc_fom_j = 5e-15;     /* ASSUMPTION: 5 fJ/conversion-step Walden FoM (docs/aimc.md) */
}

mt_status mt_system_energy_compute(const mt_system_params *p, const mt_aimc_map *map,
                                   mt_system_energy *o, mt_err *err)
{
    memset(o, 0, sizeof *o);
    if (p->channels < 1) return mt_err_set(err, MT_ERR_ARG, "energy: channels must be >= 1, got %d", p->channels);
    if (!(isfinite(p->duration_s) && p->duration_s > 0))
        return mt_err_set(err, MT_ERR_ARG, "energy: duration must be > 0 s");
    if (!(isfinite(p->rnpu_power_w) && p->rnpu_power_w >= 0) || !(isfinite(p->adc_rate_hz) && p->adc_rate_hz >= 0) ||
        !(isfinite(p->adc_fom_j) && p->adc_fom_j >= 0) || p->adc_bits < 0 || p->adc_bits > 24)
        return mt_err_set(err, MT_ERR_ARG, "energy: RNPU power, ADC rate, bits and FoM must be finite and >= 0");
    o->rnpu_uj = p->channels * p->rnpu_power_w * p->duration_s * 1e6;
    o->adc_uj = p->channels * p->adc_rate_hz * p->duration_s * p->adc_fom_j * ldexp(1.0, p->adc_bits) * 1e6;
    o->aimc_uj = map ? map->energy_uj : 0.0;
    o->latency_us = map ? map->latency_us : 0.0;
    o->total_uj = o->rnpu_uj + o->adc_uj + o->aimc_uj;
    o->edp_uj_us = o->total_uj * o->latency_us;
    return MT_OK;
}

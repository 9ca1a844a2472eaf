/* Architecture strings, the model zoo and --model resolution.
 *
 * Grammar (docs/models.md): comma-separated tokens, applied left to right to one [C, T] sample.
 *   bn                           BatchNorm1d(C)
 *   conv<C>k<K>[s<S>][p<P>][d<D>] Conv1d(C_in -> C, kernel K, stride S=1, padding P=0, dilation D=1)
 *   fc[<N>]                      Linear(C·T -> N) on the flattened input; bare "fc" = classes
 *   maxpool<K>[s<S>]             MaxPool1d(K, stride S=K), floor
 *   avgpool<K>[s<S>]             AvgPool1d(K, stride S=K), floor
 *   gap                          mean over time -> [C, 1]
 *   tanh | relu | swish | silu | logsigmoid
 *   dropout<P>                   dropout with probability P in [0, 1)
 *   decimate<N>                  x[:, :, ::N]
 *   time<A>:<B>[:<S>]            x[:, :, A:B:S] (B may be empty = to the end; Python clamping)
 *   chans<A>:<B>                 x[:, A:B, :]
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "materia/io.h"
#include "nn/nn_impl.h"

static const char *const type_names[MT_LAYER_NTYPES] = {
    "conv", "linear", "bn", "maxpool", "avgpool", "gap", "tanh", "relu", "swish", "logsigmoid",
    "dropout", "slice"};

const char *mt_layer_type_name(mt_layer_type t)
{
    return (t >= 0 && t < MT_LAYER_NTYPES) ? type_names[t] : "?";
}

/* The zoo: the paper's models (shared/spec/paper-code.md §3).  Parameter and MAC counts on the
 * listed input are checked by tests/test_nn_model.c and tabulated in docs/models.md. */
static const mt_zoo_entry zoo[] = {
    {"linear", "chans0:10,time0:971,bn,fc", 64, 1250, 10,
     "TI-46 LinearLayer: 10 RNPU channels x 971 samples, BN, linear (97,130 params)"},
    {"linear-raw", "fc,logsigmoid", 1, 12500, 10,
     "paper: linear layer on 1 s of raw 12.5 kHz audio with log-sigmoid (~18 %; not in the code)"},
    {"cnn1-k3", "bn,conv32k3,bn,relu,maxpool8,gap,fc", 64, 1250, 10,
     "TI-46 M1Compact (code): 1-layer CNN, kernel 3, all input channels"},
    {"cnn1-k3-c16", "chans0:16,time0:972,bn,conv32k3,bn,relu,maxpool8,gap,fc", 64, 1250, 10,
     "TI-46 M1Compact exactly as the code slices it: x[:, 0:16, 0:972] (1,994 params)"},
    {"cnn1-k3-c32", "chans0:32,bn,conv32k3,bn,relu,maxpool8,gap,fc", 64, 1250, 10,
     "M1Compact on 32 RNPU channels (kernel 3)"},
    {"cnn1-k8", "bn,conv32k8,bn,relu,maxpool8,gap,fc", 64, 1250, 10,
     "TI-46 paper 1-layer CNN, kernel 8, all input channels (16,938 params on 64 ch)"},
    {"cnn1-k8-c16", "chans0:16,bn,conv32k8,bn,relu,maxpool8,gap,fc", 64, 1250, 10,
     "paper 1-layer CNN on 16 RNPU channels (4,554 params; Fig. 3d)"},
    {"cnn1-k8-c32", "chans0:32,bn,conv32k8,bn,relu,maxpool8,gap,fc", 64, 1250, 10,
     "paper 1-layer CNN on 32 RNPU channels (8,682 params; Fig. 3d)"},
    {"convnet", "bn,conv32k3,bn,tanh,maxpool8,gap,fc", 64, 971, 10,
     "ConvNet: the common classifier of the front-end comparison (ED Table 1; 6,698 params)"},
    {"cnn2", "time0:972:2,bn,conv32k3,bn,tanh,maxpool8,conv32k3,bn,tanh,maxpool8,gap,fc", 64, 1250,
     10, "TI-46 M2Compact: x[:, :, 0:972:2], 2 conv layers (9,866 params)"},
    {"cnn3", "conv96k8,bn,tanh,maxpool8,conv96k3,bn,tanh,maxpool4,conv96k3,bn,tanh,gap,fc", 64,
     1250, 10, "TI-46 AIMC model M3Compact (fix B: 96 channels, kernels 8/3/3; ED Fig. 6)"},
    {"cnn3-bn",
     "bn,conv96k8,bn,tanh,maxpool8,conv96k3,bn,tanh,maxpool4,conv96k3,bn,tanh,gap,fc", 64, 1250,
     10, "cnn3 with the input BatchNorm of every other RNPU model (digital; fits the DAC per channel)"},
    {"m3", "decimate4,bn,maxpool4,conv64k3,bn,tanh,maxpool4,conv128k3,bn,tanh,maxpool4,gap,fc", 64,
     1984, 12, "GSC main_dnpu M3: the 4-layer RNPU CNN (2.28 M MACs with BN; 83.5 %)"},
    {"m4",
     "decimate4,bn,maxpool4,conv64k3,bn,relu,maxpool4,conv128k3,bn,relu,maxpool4,conv128k3,bn,"
     "relu,conv128k3,bn,tanh,gap,fc",
     64, 1984, 12, "GSC main_dnpu M4: the 6-layer RNPU CNN (91.1 %)"},
    {"m4-swish",
     "decimate4,bn,maxpool4,conv64k3,bn,swish,maxpool4,conv128k3,bn,swish,maxpool4,conv128k3,bn,"
     "swish,conv128k3,bn,swish,gap,fc",
     64, 1984, 12, "M4 with Swish/SiLU activations (the paper's 93.1 % variant; not in the code)"},
    {"hwa6",
     "bn,conv64k8,bn,tanh,maxpool4,conv256k3,bn,tanh,maxpool4,conv256k3,bn,tanh,maxpool4,"
     "conv256k3,bn,tanh,maxpool4,gap,fc64,tanh,fc",
     64, 1984, 12, "GSC HWA model for the AIMC chip (Fig. 4d, 6 analog layers)"},
    {"m5raw",
     "conv64k80s16,bn,relu,maxpool4,conv64k3,bn,relu,maxpool4,conv128k3,bn,relu,maxpool4,"
     "conv128k3,bn,relu,maxpool4,gap,fc",
     1, 8000, 12, "GSC raw-audio M5 baseline, 10 ms / 2 ms first layer at 8 kHz (84.5 %)"},
    {"m5raw-12k5",
     "conv64k125s25,bn,relu,maxpool4,conv64k3,bn,relu,maxpool4,conv128k3,bn,relu,maxpool4,"
     "conv128k3,bn,relu,gap,fc",
     1, 9710, 10, "TI-46 raw-audio M5, 10 ms / 2 ms first layer at 12.5 kHz"},
    {"kws-mel",
     "bn,conv64k3p1,bn,relu,maxpool2,conv64k3p1,bn,relu,maxpool2,conv128k3p1,bn,relu,maxpool2,"
     "conv128k3p1,bn,relu,gap,fc",
     40, 98, 12, "log-mel (40 x 98) + small 4-layer CNN: the front-end a KWS engineer would pick (baseline, not in the paper)"},
    {NULL, NULL, 0, 0, 0, NULL},
};

const mt_zoo_entry *mt_zoo(void) { return zoo; }

const mt_zoo_entry *mt_zoo_find(const char *name)
{
    for (const mt_zoo_entry *z = zoo; z->name; z++)
        if (strcmp(z->name, name) == 0) return z;
    return NULL;
}

/* ---- token parsing ---- */

/* Parse a non-negative decimal integer at *s (advancing); -1 when absent or too large. */
static int64_t parse_uint(const char **s)
{
    const char *p = *s;
    if (!isdigit((unsigned char)*p)) return -1;
    int64_t v = 0;
    while (isdigit((unsigned char)*p)) {
        v = v * 10 + (*p - '0');
        if (v > 100000000) return -1;
        p++;
    }
    *s = p;
    return v;
}

static mt_status bad_token(mt_err *err, const char *tok, const char *why)
{
    return mt_err_set(err, MT_ERR_ARG, "architecture token '%s': %s", tok, why);
}

/* Suffix options "s<N>", "p<N>", "d<N>" in any order; each at most once. */
static mt_status parse_opts(const char *tok, const char *p, const char *allowed, int *s, int *pd,
                            int *d, mt_err *err)
{
    int seen[3] = {0, 0, 0};
    while (*p) {
        char c = *p++;
        const char *a = strchr(allowed, c);
        if (!a || c == 0) return bad_token(err, tok, "unknown option letter (see docs/models.md)");
        int64_t v = parse_uint(&p);
        if (v < 0) return bad_token(err, tok, "option needs a number");
        int which = c == 's' ? 0 : c == 'p' ? 1 : 2;
        if (seen[which]++) return bad_token(err, tok, "option given twice");
        if (which == 0) {
            if (v < 1) return bad_token(err, tok, "stride must be >= 1");
            *s = (int)v;
        } else if (which == 1) {
            *pd = (int)v;
        } else {
            if (v < 1) return bad_token(err, tok, "dilation must be >= 1");
            *d = (int)v;
        }
    }
    return MT_OK;
}

static int starts(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0) return 0;
    *rest = s + n;
    return 1;
}

mt_status nn_parse_token(const char *tok, mt_layer *L, int64_t in_c, int64_t in_t, int nclasses,
                         int is_last, mt_err *err)
{
    memset(L, 0, sizeof *L);
    L->in_c = in_c;
    L->in_t = in_t;
    L->out_c = in_c;
    L->out_t = in_t;
    L->stride = 1;
    L->dilation = 1;
    const char *r;
    if (strlen(tok) >= sizeof L->spec) return bad_token(err, tok, "too long");
    if (strcmp(tok, "bn") == 0) {
        L->type = MT_LAYER_BN;
        L->params = 2 * in_c;
        L->nw = L->nb = in_c;
        L->bn_ops = 2 * in_c * in_t;
        L->bn_eps = 1e-5f;
        L->bn_momentum = 0.1f;
        snprintf(L->spec, sizeof L->spec, "bn");
    } else if (starts(tok, "conv", &r)) {
        L->type = MT_LAYER_CONV;
        int64_t oc = parse_uint(&r);
        if (oc < 1) return bad_token(err, tok, "expected conv<channels>k<kernel>");
        if (*r++ != 'k') return bad_token(err, tok, "expected conv<channels>k<kernel>");
        int64_t k = parse_uint(&r);
        if (k < 1 || k > 100000) return bad_token(err, tok, "kernel must be 1..100000");
        int s = 1, p = 0, d = 1;
        mt_status st = parse_opts(tok, r, "spd", &s, &p, &d, err);
        if (st) return st;
        L->k = (int)k;
        L->stride = s;
        L->pad = p;
        L->dilation = d;
        L->out_c = oc;
        int64_t span = (int64_t)d * (k - 1) + 1;
        int64_t avail = in_t + 2 * (int64_t)p;
        if (avail < span)
            return mt_err_set(err, MT_ERR_ARG,
                              "architecture token '%s': input of %lld samples is shorter than the "
                              "kernel span %lld",
                              tok, (long long)in_t, (long long)span);
        L->out_t = (avail - span) / s + 1;
        L->nw = oc * in_c * k;
        L->nb = oc;
        L->params = L->nw + L->nb;
        L->macs = oc * in_c * k * L->out_t;
        L->analog = 1;
        int n = snprintf(L->spec, sizeof L->spec, "conv%lldk%lld", (long long)oc, (long long)k);
        if (s != 1) n += snprintf(L->spec + n, sizeof L->spec - (size_t)n, "s%d", s);
        if (p != 0) n += snprintf(L->spec + n, sizeof L->spec - (size_t)n, "p%d", p);
        if (d != 1) snprintf(L->spec + n, sizeof L->spec - (size_t)n, "d%d", d);
    } else if (starts(tok, "fc", &r)) {
        L->type = MT_LAYER_LINEAR;
        int64_t n;
        if (*r == 0) {
            if (!is_last)
                return bad_token(err, tok, "a bare 'fc' (= classes) must be the last layer (only activations may follow)");
            if (nclasses < 1)
                return bad_token(err, tok, "bare 'fc' needs the number of classes (give fc<N>)");
            n = nclasses;
        } else {
            n = parse_uint(&r);
            if (n < 1 || *r) return bad_token(err, tok, "expected fc<outputs>");
        }
        int64_t nin = in_c * in_t;
        L->out_c = n;
        L->out_t = 1;
        L->nw = n * nin;
        L->nb = n;
        L->params = L->nw + L->nb;
        L->macs = n * nin;
        L->analog = 1;
        snprintf(L->spec, sizeof L->spec, "fc%lld", (long long)n);
    } else if (starts(tok, "maxpool", &r) || starts(tok, "avgpool", &r)) {
        L->type = tok[0] == 'm' ? MT_LAYER_MAXPOOL : MT_LAYER_AVGPOOL;
        int64_t k = parse_uint(&r);
        if (k < 1 || k > 1000000) return bad_token(err, tok, "expected maxpool<K>/avgpool<K>");
        int s = (int)k, p = 0, d = 1;
        mt_status st = parse_opts(tok, r, "s", &s, &p, &d, err);
        if (st) return st;
        L->k = (int)k;
        L->stride = s;
        if (in_t < k)
            return mt_err_set(err, MT_ERR_ARG,
                              "architecture token '%s': input of %lld samples is shorter than the "
                              "pooling window",
                              tok, (long long)in_t);
        L->out_t = (in_t - k) / s + 1;
        int n = snprintf(L->spec, sizeof L->spec, "%s%lld", tok[0] == 'm' ? "maxpool" : "avgpool",
                         (long long)k);
        if (s != k) snprintf(L->spec + n, sizeof L->spec - (size_t)n, "s%d", s);
    } else if (strcmp(tok, "gap") == 0) {
        L->type = MT_LAYER_GAP;
        L->out_t = 1;
        snprintf(L->spec, sizeof L->spec, "gap");
    } else if (strcmp(tok, "tanh") == 0) {
        L->type = MT_LAYER_TANH;
        snprintf(L->spec, sizeof L->spec, "tanh");
    } else if (strcmp(tok, "relu") == 0) {
        L->type = MT_LAYER_RELU;
        snprintf(L->spec, sizeof L->spec, "relu");
    } else if (strcmp(tok, "swish") == 0 || strcmp(tok, "silu") == 0) {
        L->type = MT_LAYER_SWISH;
        snprintf(L->spec, sizeof L->spec, "swish");
    } else if (strcmp(tok, "logsigmoid") == 0) {
        L->type = MT_LAYER_LOGSIGMOID;
        snprintf(L->spec, sizeof L->spec, "logsigmoid");
    } else if (starts(tok, "dropout", &r)) {
        L->type = MT_LAYER_DROPOUT;
        char *end;
        errno = 0;
        double p = strtod(r, &end);
        if (r == end || *end || errno || !(p >= 0.0 && p < 1.0))
            return bad_token(err, tok, "expected dropout<P> with 0 <= P < 1");
        L->p = (float)p;
        snprintf(L->spec, sizeof L->spec, "dropout%g", p);
    } else if (starts(tok, "decimate", &r)) {
        L->type = MT_LAYER_SLICE;
        int64_t n = parse_uint(&r);
        if (n < 1 || *r) return bad_token(err, tok, "expected decimate<N>");
        L->c0 = 0;
        L->c1 = in_c;
        L->t0 = 0;
        L->t1 = in_t;
        L->tstep = n;
        L->out_t = (in_t + n - 1) / n;
        snprintf(L->spec, sizeof L->spec, "decimate%lld", (long long)n);
    } else if (starts(tok, "time", &r)) {
        L->type = MT_LAYER_SLICE;
        int64_t a = parse_uint(&r);
        if (a < 0 || *r++ != ':') return bad_token(err, tok, "expected time<A>:<B>[:<S>]");
        int64_t b = in_t, s = 1;
        if (*r && *r != ':') {
            b = parse_uint(&r);
            if (b < 0) return bad_token(err, tok, "expected time<A>:<B>[:<S>]");
        }
        if (*r == ':') {
            r++;
            s = parse_uint(&r);
            if (s < 1) return bad_token(err, tok, "slice step must be >= 1");
        }
        if (*r) return bad_token(err, tok, "expected time<A>:<B>[:<S>]");
        if (b > in_t) b = in_t; /* Python clamping */
        if (a >= b)
            return mt_err_set(err, MT_ERR_ARG, "architecture token '%s': empty time slice of %lld samples",
                              tok, (long long)in_t);
        L->c0 = 0;
        L->c1 = in_c;
        L->t0 = a;
        L->t1 = b;
        L->tstep = s;
        L->out_t = (b - a + s - 1) / s;
        snprintf(L->spec, sizeof L->spec, "%s", tok);
    } else if (starts(tok, "chans", &r)) {
        L->type = MT_LAYER_SLICE;
        int64_t a = parse_uint(&r);
        if (a < 0 || *r++ != ':') return bad_token(err, tok, "expected chans<A>:<B>");
        int64_t b = parse_uint(&r);
        if (b < 0 || *r) return bad_token(err, tok, "expected chans<A>:<B>");
        if (b > in_c) b = in_c;
        if (a >= b)
            return mt_err_set(err, MT_ERR_ARG, "architecture token '%s': empty channel slice of %lld channels",
                              tok, (long long)in_c);
        L->c0 = a;
        L->c1 = b;
        L->t0 = 0;
        L->t1 = in_t;
        L->tstep = 1;
        L->out_c = b - a;
        snprintf(L->spec, sizeof L->spec, "%s", tok);
    } else {
        return bad_token(err, tok, "unknown layer (see docs/models.md for the grammar)");
    }
    if (L->out_c < 1 || L->out_t < 1)
        return mt_err_set(err, MT_ERR_ARG, "architecture token '%s': output shape vanishes", tok);
    if (L->out_c * L->out_t > ((int64_t)1 << 31) || L->nw > ((int64_t)1 << 31))
        return mt_err_set(err, MT_ERR_ARG, "architecture token '%s': layer too large", tok);
    return MT_OK;
}

/* ---- --model resolution ---- */

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    if (a < b) return 0;
    for (size_t i = 0; i < b; i++)
        if (tolower((unsigned char)s[a - b + i]) != suf[i]) return 0;
    return 1;
}

/* One layer object {"type": "conv", "out": 64, "kernel": 8, ...} -> token text. */
static mt_status layer_obj_token(const cJSON *o, char *buf, size_t n, const char *path, int i,
                                 mt_err *err)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsString(t))
        return mt_err_set(err, MT_ERR_FORMAT, "%s: layers[%d] has no \"type\" string", path, i);
    const char *ty = t->valuestring;
#define NUM(key, def) (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, key)) ? \
        cJSON_GetObjectItemCaseSensitive(o, key)->valuedouble : (def))
    if (strcmp(ty, "conv") == 0) {
        double out = NUM("out", -1), k = NUM("kernel", -1);
        if (out < 1 || k < 1)
            return mt_err_set(err, MT_ERR_FORMAT, "%s: layers[%d] conv needs \"out\" and \"kernel\"",
                              path, i);
        snprintf(buf, n, "conv%dk%ds%dp%dd%d", (int)out, (int)k, (int)NUM("stride", 1),
                 (int)NUM("padding", 0), (int)NUM("dilation", 1));
    } else if (strcmp(ty, "fc") == 0 || strcmp(ty, "linear") == 0) {
        double out = NUM("out", 0);
        if (out >= 1) snprintf(buf, n, "fc%d", (int)out);
        else snprintf(buf, n, "fc");
    } else if (strcmp(ty, "maxpool") == 0 || strcmp(ty, "avgpool") == 0) {
        double k = NUM("kernel", -1);
        if (k < 1) return mt_err_set(err, MT_ERR_FORMAT, "%s: layers[%d] %s needs \"kernel\"", path, i, ty);
        snprintf(buf, n, "%s%ds%d", ty, (int)k, (int)NUM("stride", k));
    } else if (strcmp(ty, "dropout") == 0) {
        snprintf(buf, n, "dropout%g", NUM("p", 0.5));
    } else if (strcmp(ty, "slice") == 0) {
        if (cJSON_GetObjectItemCaseSensitive(o, "channels")) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "channels");
            if (!cJSON_IsArray(c) || cJSON_GetArraySize(c) != 2)
                return mt_err_set(err, MT_ERR_FORMAT, "%s: layers[%d] \"channels\" must be [a, b]", path, i);
            snprintf(buf, n, "chans%d:%d", cJSON_GetArrayItem(c, 0)->valueint,
                     cJSON_GetArrayItem(c, 1)->valueint);
        } else {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "time");
            if (!cJSON_IsArray(c) || cJSON_GetArraySize(c) < 2 || cJSON_GetArraySize(c) > 3)
                return mt_err_set(err, MT_ERR_FORMAT,
                                  "%s: layers[%d] slice needs \"channels\": [a, b] or \"time\": [a, b(, step)]",
                                  path, i);
            const cJSON *b = cJSON_GetArrayItem(c, 1);
            char bs[32] = "";
            if (cJSON_IsNumber(b)) snprintf(bs, sizeof bs, "%d", b->valueint);
            snprintf(buf, n, "time%d:%s:%d", cJSON_GetArrayItem(c, 0)->valueint, bs,
                     cJSON_GetArraySize(c) == 3 ? cJSON_GetArrayItem(c, 2)->valueint : 1);
        }
    } else {
        snprintf(buf, n, "%s", ty); /* bn, gap, tanh, relu, swish, logsigmoid, decimate4... */
    }
#undef NUM
    return MT_OK;
}

static mt_status arch_from_json(const char *path, char **arch, int *classes, mt_err *err)
{
    void *buf;
    size_t len;
    mt_status s = mt_file_read_all(path, &buf, &len, 1u << 20, err);
    if (s) return s;
    cJSON *j = cJSON_ParseWithLength(buf, len);
    free(buf);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return mt_err_set(err, MT_ERR_FORMAT, "%s: not a JSON object", path);
    }
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "arch");
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(j, "layers");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "classes");
    *classes = cJSON_IsNumber(c) ? c->valueint : 0;
    s = MT_OK;
    if (cJSON_IsString(a)) {
        *arch = strdup(a->valuestring);
    } else if (cJSON_IsArray(ls) && cJSON_GetArraySize(ls) > 0) {
        size_t cap = 64 * (size_t)cJSON_GetArraySize(ls) + 1, used = 0;
        char *out = malloc(cap);
        if (!out) s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        int i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, ls)
        {
            if (s) break;
            char tok[64];
            if (cJSON_IsString(e)) snprintf(tok, sizeof tok, "%s", e->valuestring);
            else if (cJSON_IsObject(e)) s = layer_obj_token(e, tok, sizeof tok, path, i, err);
            else s = mt_err_set(err, MT_ERR_FORMAT, "%s: layers[%d] is neither a string nor an object", path, i);
            if (s) break;
            used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? "," : "", tok);
            i++;
        }
        if (s) free(out);
        else *arch = out;
    } else {
        s = mt_err_set(err, MT_ERR_FORMAT, "%s: needs \"arch\" (string) or \"layers\" (array)", path);
    }
    cJSON_Delete(j);
    if (!s && !*arch) s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    return s;
}

mt_status mt_arch_resolve(const char *spec, char **arch, int *classes, char **name, mt_err *err)
{
    *arch = NULL;
    *classes = 0;
    if (name) *name = NULL;
    if (!spec || !*spec) return mt_err_set(err, MT_ERR_ARG, "empty model name");
    const mt_zoo_entry *z = mt_zoo_find(spec);
    const char *nm = "custom";
    if (z) {
        *arch = strdup(z->arch);
        *classes = z->classes;
        nm = z->name;
    } else if (ends_with(spec, ".json")) {
        mt_status s = arch_from_json(spec, arch, classes, err);
        if (s) return s;
        const char *b = strrchr(spec, '/');
        nm = b ? b + 1 : spec;
    } else {
        /* An architecture string: check the syntax of every token now so that a mistyped zoo
         * name gets a clear message (shapes are checked when the model is built). */
        char *dup = strdup(spec);
        if (!dup) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        int ntok = 0;
        mt_status s = MT_OK;
        for (char *sv, *t = strtok_r(dup, ", \t\n", &sv); t; t = strtok_r(NULL, ", \t\n", &sv)) {
            mt_layer L;
            s = nn_parse_token(t, &L, 1, 200000, 2, 1, err);
            if (s) break;
            ntok++;
        }
        free(dup);
        if (s && ntok == 0 && !strchr(spec, ','))
            return mt_err_set(err, MT_ERR_ARG,
                              "unknown model '%s': not a zoo name (see 'materia model list'), a "
                              ".json file or an architecture string",
                              spec);
        if (s) return s;
        *arch = strdup(spec);
    }
    if (!*arch) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    if (name) {
        *name = strdup(nm);
        if (!*name) {
            free(*arch);
            *arch = NULL;
            return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        }
    }
    return MT_OK;
}

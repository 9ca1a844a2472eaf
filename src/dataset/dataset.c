/* Dataset layouts, labels, speakers and splits (see include/materia/dataset.h). */
#include "materia/dataset.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "materia/audio.h"
#include "materia/rng.h"

/* ---------- small string list ---------- */
typedef struct strlist {
    char **s;
    int n, cap;
} strlist;

static int sl_push(strlist *l, const char *v)
{
    if (l->n == l->cap) {
        int nc = l->cap ? 2 * l->cap : 64;
        char **ns = realloc(l->s, (size_t)nc * sizeof *ns);
        if (!ns) return -1;
        l->s = ns;
        l->cap = nc;
    }
    if (!(l->s[l->n] = strdup(v))) return -1;
    l->n++;
    return 0;
}

static void sl_free(strlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

static int sl_find(const strlist *l, const char *v)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->s[i], v) == 0) return i;
    return -1;
}

/* Index of v in l, appending it when new; -1 on allocation failure. */
static int sl_intern(strlist *l, const char *v)
{
    int i = sl_find(l, v);
    if (i >= 0) return i;
    return sl_push(l, v) ? -1 : l->n - 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* ---------- names ---------- */
static const char *const layout_names[] = {"fsdd", "gsc", "ti46", "folder"};
static const char *const split_names[] = {"official", "stratified", "speaker", "auto"};

mt_status mt_layout_parse(const char *name, mt_layout *out, mt_err *err)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, layout_names[i]) == 0) {
            *out = (mt_layout)i;
            return MT_OK;
        }
    return mt_err_set(err, MT_ERR_ARG, "unknown layout '%s' (known: fsdd, gsc, ti46, folder)",
                      name ? name : "");
}
const char *mt_layout_name(mt_layout l) { return (l >= 0 && l <= 3) ? layout_names[l] : "?"; }

mt_status mt_split_method_parse(const char *name, mt_split_method *out, mt_err *err)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, split_names[i]) == 0) {
            *out = (mt_split_method)i;
            return MT_OK;
        }
    return mt_err_set(err, MT_ERR_ARG,
                      "unknown split '%s' (known: official, stratified, speaker, auto)", name ? name : "");
}
const char *mt_split_method_name(mt_split_method m) { return (m >= 0 && m <= 3) ? split_names[m] : "?"; }

/* ---------- directory walk ---------- */
static int is_audio_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    static const char *const ext[] = {".wav", ".flac", ".sph", ".nist", ".wv1", ".wv2", ".aiff", ".aif", ".ogg"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (strcasecmp(dot, ext[i]) == 0) return 1;
    return 0;
}

/* Append every audio file under root/rel (recursively) to out as a path relative to root. */
static mt_status walk(const char *root, const char *rel, int depth, strlist *out, mt_err *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d) return mt_err_set(err, MT_ERR_IO, "%s: cannot read directory: %s", dir, strerror(errno));
    if (depth > 16) {
        closedir(d);
        return mt_err_set(err, MT_ERR_DATA, "%s: directory tree too deep", dir);
    }
    struct dirent *e;
    mt_status s = MT_OK;
    while (!s && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char r[4096], full[8192];
        snprintf(r, sizeof r, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, r);
        struct stat st;
        if (stat(full, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) s = walk(root, r, depth + 1, out, err);
        else if (S_ISREG(st.st_mode) && is_audio_name(e->d_name) && sl_push(out, r))
            s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    closedir(d);
    return s;
}

/* ---------- builder ---------- */
typedef struct builder {
    mt_dataset *ds;
    int cap;
    strlist classes, speakers;
} builder;

static mt_status add_item(builder *b, const char *rel, int64_t off, int64_t len, const char *cls,
                          const char *spk, int split, mt_err *err)
{
    mt_dataset *ds = b->ds;
    if (ds->n == b->cap) {
        int nc = b->cap ? 2 * b->cap : 256;
        mt_item *ni = realloc(ds->items, (size_t)nc * sizeof *ni);
        if (!ni) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        ds->items = ni;
        b->cap = nc;
    }
    mt_item *it = &ds->items[ds->n];
    memset(it, 0, sizeof *it);
    size_t pl = strlen(ds->root) + strlen(rel) + 2;
    it->path = malloc(pl);
    it->rel = strdup(rel);
    if (!it->path || !it->rel) {
        free(it->path);
        free(it->rel);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    ds->n++;
    snprintf(it->path, pl, "%s/%s", ds->root, rel);
    it->offset = off;
    it->length = len;
    it->label = sl_find(&b->classes, cls);
    if (it->label < 0) return mt_err_set(err, MT_ERR_INTERNAL, "class '%s' not declared", cls);
    it->speaker = spk ? sl_intern(&b->speakers, spk) : -1;
    it->split = split;
    return MT_OK;
}

static const char *base_name(const char *rel)
{
    const char *s = strrchr(rel, '/');
    return s ? s + 1 : rel;
}

/* Copy the stem (file name without extension) into buf. */
static void stem(const char *rel, char *buf, size_t n)
{
    snprintf(buf, n, "%s", base_name(rel));
    char *dot = strrchr(buf, '.');
    if (dot) *dot = 0;
}

/* ---- fsdd: {digit}_{speaker}_{index}.wav ---- */
static mt_status build_fsdd(builder *b, const strlist *files, mt_err *err)
{
    for (int d = 0; d < 10; d++) {
        char c[2] = {(char)('0' + d), 0};
        if (sl_push(&b->classes, c)) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    b->ds->has_official = 1;
    for (int i = 0; i < files->n; i++) {
        char st[512], spk[256];
        stem(files->s[i], st, sizeof st);
        int digit, idx, consumed = 0;
        if (sscanf(st, "%d_%255[^_]_%d%n", &digit, spk, &idx, &consumed) != 3 || st[consumed] ||
            digit < 0 || digit > 9 || idx < 0)
            return mt_err_set(err, MT_ERR_DATA,
                              "%s/%s: file name does not match the fsdd layout {digit}_{speaker}_{index}.wav",
                              b->ds->root, files->s[i]);
        char cls[2] = {(char)('0' + digit), 0};
        mt_status s = add_item(b, files->s[i], 0, -1, cls, spk, idx < 5 ? MT_SPLIT_TEST : MT_SPLIT_TRAIN, err);
        if (s) return s;
    }
    return MT_OK;
}

/* ---- gsc ---- */
static const char *const gsc_keywords[10] = {"yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"};
/* The paper's 12 classes (paper-code.md §1.4): 0 unknown, then 11 keywords incl. "house". */
static const char *const paper_classes[12] = {"_unknown_", "down", "go", "left", "no", "off",
                                              "on", "right", "stop", "up", "yes", "house"};

/* Read an official list file into a sorted strlist (missing file: empty list). */
static mt_status read_list(const char *root, const char *name, strlist *out, int *present, mt_err *err)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", root, name);
    FILE *fp = fopen(p, "r");
    *present = 0;
    if (!fp) return MT_OK;
    *present = 1;
    char line[4096];
    while (fgets(line, sizeof line, fp)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' ')) line[--l] = 0;
        if (l && sl_push(out, line)) {
            fclose(fp);
            return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        }
    }
    fclose(fp);
    qsort(out->s, (size_t)out->n, sizeof *out->s, cmp_str);
    return MT_OK;
}

static int in_sorted(const strlist *l, const char *v)
{
    return l->n && bsearch(&v, l->s, (size_t)l->n, sizeof *l->s, cmp_str) != NULL;
}

static mt_status build_gsc(builder *b, const strlist *files, mt_gsc_classes mode, mt_err *err)
{
    mt_dataset *ds = b->ds;
    if (mode == MT_GSC_12) {
        for (int i = 0; i < 10; i++) sl_push(&b->classes, gsc_keywords[i]);
        sl_push(&b->classes, "_unknown_");
        sl_push(&b->classes, "_silence_");
    } else {
        for (int i = 0; i < 12; i++) sl_push(&b->classes, paper_classes[i]);
    }
    if (b->classes.n != 12) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    strlist val = {0}, test = {0};
    int hv, ht;
    mt_status s = read_list(ds->root, "validation_list.txt", &val, &hv, err);
    if (!s) s = read_list(ds->root, "testing_list.txt", &test, &ht, err);
    ds->has_official = hv || ht;
    int has_silence_dir = 0;
    for (int i = 0; i < files->n; i++)
        if (strncmp(files->s[i], "_silence_/", 10) == 0) has_silence_dir = 1;
    for (int i = 0; !s && i < files->n; i++) {
        const char *rel = files->s[i];
        const char *slash = strchr(rel, '/');
        if (!slash || strchr(slash + 1, '/')) continue; /* only {folder}/{file} */
        char folder[256], st[512], word[256] = "", spk[256] = "";
        snprintf(folder, sizeof folder, "%.*s", (int)(slash - rel), rel);
        stem(rel, st, sizeof st);
        int split = in_sorted(&test, rel) ? MT_SPLIT_TEST : in_sorted(&val, rel) ? MT_SPLIT_VAL : MT_SPLIT_TRAIN;
        if (strcmp(folder, "_background_noise_") == 0) {
            if (has_silence_dir || mode != MT_GSC_12) continue;
            /* 1-s windows of the background recordings make the _silence_ class. */
            char full[8192];
            snprintf(full, sizeof full, "%s/%s", ds->root, rel);
            mt_audio_info ai;
            s = mt_audio_info_read(full, &ai, err);
            if (s) break;
            int64_t w = (int64_t)ai.rate_hz;
            for (int64_t o = 0; !s && o + w <= ai.frames; o += w)
                s = add_item(b, rel, o, w, "_silence_", NULL, MT_SPLIT_TRAIN, err);
            continue;
        }
        if (strcmp(folder, "_silence_") == 0) {
            if (mode != MT_GSC_12) continue;
            s = add_item(b, rel, 0, -1, "_silence_", NULL, split, err);
            continue;
        }
        /* speaker = token before "_nohash_"; in _unknown_ the word comes first. */
        const char *nh = strstr(st, "_nohash_");
        if (strcmp(folder, "_unknown_") == 0) {
            const char *us = strchr(st, '_');
            if (!nh || !us || us >= nh)
                return mt_err_set(err, MT_ERR_DATA, "%s/%s: expected {word}_{speaker}_nohash_{n} in _unknown_",
                                  ds->root, rel);
            snprintf(word, sizeof word, "%.*s", (int)(us - st), st);
            snprintf(spk, sizeof spk, "%.*s", (int)(nh - us - 1), us + 1);
        } else {
            snprintf(word, sizeof word, "%s", folder);
            if (nh) snprintf(spk, sizeof spk, "%.*s", (int)(nh - st), st);
        }
        const char *cls = sl_find(&b->classes, word) >= 0 && strcmp(word, "_silence_") != 0 ? word : "_unknown_";
        s = add_item(b, rel, 0, -1, cls, spk[0] ? spk : NULL, split, err);
    }
    sl_free(&val);
    sl_free(&test);
    return s;
}

/* ---- ti46: {ww}{f|m}{n}set{k}.* under TRAIN/ and TEST/ ---- */
static const char *const ti20_words[20] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
                                           "enter", "erase", "go", "help", "no", "rubout", "repeat",
                                           "stop", "start", "yes"};

static mt_status build_ti46(builder *b, const strlist *files, const mt_dataset_opts *o, mt_err *err)
{
    int nw = o->ti46_all_words ? 20 : 10;
    for (int i = 0; i < nw; i++) sl_push(&b->classes, ti20_words[i]);
    int official = 0;
    for (int i = 0; i < files->n; i++) {
        char st[512];
        stem(files->s[i], st, sizeof st);
        int w, sn, consumed = 0;
        char sex;
        if (sscanf(st, "%2d%c%d%n", &w, &sex, &sn, &consumed) != 3) continue;
        sex = (char)tolower((unsigned char)sex);
        if ((sex != 'f' && sex != 'm') || strncasecmp(st + consumed, "set", 3) != 0) continue;
        if (w < 0 || w >= nw) continue;
        if (o->ti46_female_only && sex != 'f') continue;
        /* official split from a TRAIN/TEST path component */
        int split = MT_SPLIT_TRAIN;
        char low[4096];
        snprintf(low, sizeof low, "/%s", files->s[i]);
        for (char *c = low; *c; c++) *c = (char)tolower((unsigned char)*c);
        if (strstr(low, "/test/")) {
            split = MT_SPLIT_TEST;
            official = 1;
        } else if (strstr(low, "/train/")) {
            official = 1;
        }
        char spk[16];
        snprintf(spk, sizeof spk, "%c%d", sex, sn);
        mt_status s = add_item(b, files->s[i], 0, -1, ti20_words[w], spk, split, err);
        if (s) return s;
    }
    b->ds->has_official = official;
    return MT_OK;
}

/* ---- folder: {class}/{...}/file ---- */
static mt_status build_folder(builder *b, const strlist *files, mt_err *err)
{
    for (int i = 0; i < files->n; i++) {
        const char *slash = strchr(files->s[i], '/');
        if (!slash) continue; /* files in the root belong to no class */
        char cls[256];
        snprintf(cls, sizeof cls, "%.*s", (int)(slash - files->s[i]), files->s[i]);
        if (sl_intern(&b->classes, cls) < 0) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    qsort(b->classes.s, (size_t)b->classes.n, sizeof *b->classes.s, cmp_str);
    for (int i = 0; i < files->n; i++) {
        const char *slash = strchr(files->s[i], '/');
        if (!slash) continue;
        char cls[256];
        snprintf(cls, sizeof cls, "%.*s", (int)(slash - files->s[i]), files->s[i]);
        mt_status s = add_item(b, files->s[i], 0, -1, cls, NULL, MT_SPLIT_TRAIN, err);
        if (s) return s;
    }
    return MT_OK;
}

void mt_dataset_free(mt_dataset *ds)
{
    if (!ds) return;
    for (int i = 0; i < ds->n; i++) {
        free(ds->items[i].path);
        free(ds->items[i].rel);
    }
    free(ds->items);
    for (int i = 0; i < ds->nclasses; i++) free(ds->classes[i]);
    free(ds->classes);
    for (int i = 0; i < ds->nspeakers; i++) free(ds->speakers[i]);
    free(ds->speakers);
    free(ds->root);
    memset(ds, 0, sizeof *ds);
}

mt_status mt_dataset_open(const char *root, mt_layout layout, const mt_dataset_opts *opts,
                          mt_dataset *ds, mt_err *err)
{
    memset(ds, 0, sizeof *ds);
    mt_dataset_opts defo = {0};
    if (!opts) opts = &defo;
    struct stat st;
    if (!root || stat(root, &st) != 0)
        return mt_err_set(err, MT_ERR_IO, "%s: data directory does not exist", root ? root : "(null)");
    if (!S_ISDIR(st.st_mode)) return mt_err_set(err, MT_ERR_IO, "%s: not a directory", root);
    ds->layout = layout;
    ds->root = strdup(root);
    if (!ds->root) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    size_t rl = strlen(ds->root);
    while (rl > 1 && ds->root[rl - 1] == '/') ds->root[--rl] = 0;

    strlist files = {0};
    mt_status s = walk(ds->root, "", 0, &files, err);
    if (!s && files.n == 0) s = mt_err_set(err, MT_ERR_DATA, "%s: no audio files found", root);
    if (!s) qsort(files.s, (size_t)files.n, sizeof *files.s, cmp_str);
    builder b = {.ds = ds};
    if (!s) {
        switch (layout) {
        case MT_LAYOUT_FSDD: s = build_fsdd(&b, &files, err); break;
        case MT_LAYOUT_GSC: s = build_gsc(&b, &files, opts->gsc_classes, err); break;
        case MT_LAYOUT_TI46: s = build_ti46(&b, &files, opts, err); break;
        case MT_LAYOUT_FOLDER: s = build_folder(&b, &files, err); break;
        default: s = mt_err_set(err, MT_ERR_ARG, "unknown layout %d", (int)layout);
        }
    }
    sl_free(&files);
    /* hand over class and speaker names */
    ds->classes = b.classes.s;
    ds->nclasses = b.classes.n;
    ds->speakers = b.speakers.s;
    ds->nspeakers = b.speakers.n;
    if (!s && ds->n == 0)
        s = mt_err_set(err, MT_ERR_DATA, "%s: no files match the %s layout", root, mt_layout_name(layout));
    for (int c = 0; !s && c < ds->nclasses; c++)
        if (mt_dataset_count(ds, -1, c) == 0)
            s = mt_err_set(err, MT_ERR_DATA, "%s: class '%s' has no files (empty class)", root, ds->classes[c]);
    if (s) {
        mt_dataset_free(ds);
        return s;
    }
    ds->split_method = ds->has_official ? MT_SPLIT_OFFICIAL : MT_SPLIT_AUTO;
    if (!ds->has_official) /* no official split yet: a default stratified 90/10, seed 0 */
        return mt_dataset_split(ds, MT_SPLIT_STRATIFIED, 0.1, 0, err);
    return MT_OK;
}

int mt_dataset_count(const mt_dataset *ds, int split, int label)
{
    int c = 0;
    for (int i = 0; i < ds->n; i++)
        if ((split < 0 || ds->items[i].split == split) && (label < 0 || ds->items[i].label == label)) c++;
    return c;
}

/* Re-derive the official split (it may have been overwritten by an earlier call). */
static void official_split(mt_dataset *ds)
{
    for (int i = 0; i < ds->n; i++) {
        mt_item *it = &ds->items[i];
        if (ds->layout == MT_LAYOUT_FSDD) {
            char st[512];
            stem(it->rel, st, sizeof st);
            int d, idx;
            char spk[256];
            if (sscanf(st, "%d_%255[^_]_%d", &d, spk, &idx) == 3) it->split = idx < 5 ? MT_SPLIT_TEST : MT_SPLIT_TRAIN;
        } else if (ds->layout == MT_LAYOUT_TI46) {
            char low[4096];
            snprintf(low, sizeof low, "/%s", it->rel);
            for (char *c = low; *c; c++) *c = (char)tolower((unsigned char)*c);
            it->split = strstr(low, "/test/") ? MT_SPLIT_TEST : MT_SPLIT_TRAIN;
        }
    }
}

mt_status mt_dataset_split(mt_dataset *ds, mt_split_method method, double test_frac, uint64_t seed,
                           mt_err *err)
{
    if (method == MT_SPLIT_AUTO) method = ds->has_official ? MT_SPLIT_OFFICIAL : MT_SPLIT_STRATIFIED;
    if (method == MT_SPLIT_OFFICIAL) {
        if (!ds->has_official)
            return mt_err_set(err, MT_ERR_ARG, "%s: the %s data here has no official split (use stratified or speaker)",
                              ds->root, mt_layout_name(ds->layout));
        if (ds->split_method != MT_SPLIT_OFFICIAL) {
            /* gsc lists are applied at open; fsdd/ti46 are derived from names */
            if (ds->layout == MT_LAYOUT_GSC)
                return mt_err_set(err, MT_ERR_STATE, "reopen the dataset to restore the official gsc split");
            official_split(ds);
        }
        ds->split_method = MT_SPLIT_OFFICIAL;
        return MT_OK;
    }
    if (!(test_frac > 0 && test_frac < 1))
        return mt_err_set(err, MT_ERR_ARG, "test fraction %g must be in (0, 1)", test_frac);
    int *idx = malloc((size_t)ds->n * sizeof *idx);
    if (!idx) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < ds->n; i++) ds->items[i].split = MT_SPLIT_TRAIN;
    if (method == MT_SPLIT_STRATIFIED) {
        /* Per class: shuffle the (path-sorted) members with stream = class, take round(frac·n). */
        for (int c = 0; c < ds->nclasses; c++) {
            int m = 0;
            for (int i = 0; i < ds->n; i++)
                if (ds->items[i].label == c) idx[m++] = i;
            mt_rng r;
            mt_rng_init(&r, seed, 0x5EED0000u + (uint64_t)c);
            mt_rng_shuffle_int(&r, idx, m);
            int nt = (int)floor(test_frac * m + 0.5);
            if (nt == 0 && m >= 2) nt = 1;
            if (nt >= m && m >= 2) nt = m - 1;
            for (int k = 0; k < nt; k++) ds->items[idx[k]].split = MT_SPLIT_TEST;
        }
    } else if (method == MT_SPLIT_SPEAKER) {
        if (ds->nspeakers < 2) {
            free(idx);
            return mt_err_set(err, MT_ERR_DATA, "%s: a speaker-disjoint split needs at least 2 known speakers (found %d)",
                              ds->root, ds->nspeakers);
        }
        int ns = ds->nspeakers;
        int *spk = idx; /* reuse: first ns entries */
        for (int k = 0; k < ns; k++) spk[k] = k;
        mt_rng r;
        mt_rng_init(&r, seed, 0x5EED5EEDu);
        mt_rng_shuffle_int(&r, spk, ns);
        int known = 0;
        for (int i = 0; i < ds->n; i++) known += ds->items[i].speaker >= 0;
        int target = (int)floor(test_frac * known + 0.5), got = 0;
        char *is_test = calloc((size_t)ns, 1);
        if (!is_test) {
            free(idx);
            return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        }
        for (int k = 0; k < ns - 1 && got < target; k++) {
            is_test[spk[k]] = 1;
            for (int i = 0; i < ds->n; i++) got += ds->items[i].speaker == spk[k];
        }
        for (int i = 0; i < ds->n; i++) {
            mt_item *it = &ds->items[i];
            if (it->speaker >= 0) it->split = is_test[it->speaker] ? MT_SPLIT_TEST : MT_SPLIT_TRAIN;
        }
        free(is_test);
        /* Clips without a speaker (e.g. _silence_) are split at random, per item. */
        mt_rng_init(&r, seed, 0x5EED0001u);
        for (int i = 0; i < ds->n; i++)
            if (ds->items[i].speaker < 0) ds->items[i].split = mt_rng_uniform(&r) < test_frac ? MT_SPLIT_TEST : MT_SPLIT_TRAIN;
    }
    free(idx);
    ds->split_method = method;
    for (int c = 0; c < ds->nclasses; c++)
        if (mt_dataset_count(ds, MT_SPLIT_TRAIN, c) == 0)
            return mt_err_set(err, MT_ERR_DATA, "%s: split leaves class '%s' without training files",
                              ds->root, ds->classes[c]);
    return MT_OK;
}

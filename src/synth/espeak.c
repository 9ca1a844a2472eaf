/* espeak-ng engine, isolated in a worker process.
 *
 * WHY A PROCESS.  libespeak-ng keeps all of its state in globals: the loaded voice, the
 * parameters, the synthesis callback, the wave generator's flutter phase and filter memories,
 * an internal command thread, and it draws breath noise from libc rand().  Two consequences,
 * both measured with libespeak-ng 1.51: (1) the same word synthesised twice in one process gives
 * different samples (the hidden state carries over), and (2) espeak_ng_Terminate followed by a
 * second espeak_ng_Initialize can hang at exit.  So materia never calls espeak-ng in its own
 * process.  mt_espeak_open forks a worker ("zygote") that initialises espeak-ng once and warms
 * it up; for every utterance the zygote forks a fresh child, which synthesises from that same
 * initial engine state, sends the samples back and exits.  Results are therefore identical
 * whatever was synthesised before, in this or any other process, and calls are serialised by
 * construction (one request at a time per worker).  Our own code keeps no globals: the
 * synthesis callback gets its buffer through espeak's user_data pointer.
 *
 * Protocol (parent <-> zygote: a SOCK_STREAM socketpair; zygote <-> child: a pipe):
 *   request  = req_hdr + voice bytes + text bytes
 *   response = resp_hdr + n int16 samples (native byte order; same machine)
 * The first response, sent unasked after start-up, reports whether espeak-ng initialised.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <espeak-ng/espeak_ng.h>

#include "materia/synth.h"

#define REQ_MAGIC 0x4d545351u  /* "MTSQ" */
#define RESP_MAGIC 0x4d545352u /* "MTSR" */
#define MAX_VOICE 128
#define MAX_TEXT 1024
#define MAX_SAMPLES (22050 * 60) /* one minute at espeak's rate: far above any word */
#define TIMEOUT_MS 30000

typedef struct req_hdr {
    uint32_t magic;
    int32_t rate, pitch, range;
    uint32_t seed;
    uint32_t voice_len, text_len;
} req_hdr;

typedef struct resp_hdr {
    uint32_t magic;
    int32_t status; /* mt_status */
    int32_t rate_hz;
    int32_t n;
    char msg[256];
} resp_hdr;

struct mt_espeak {
    pid_t pid;
    int fd;
};

/* ---------------- byte transport ---------------- */

/* Write all bytes (send with MSG_NOSIGNAL on sockets so a dead peer is an error, not SIGPIPE). */
static int write_all(int fd, const void *buf, size_t len, int sock)
{
    const char *p = buf;
    while (len) {
        ssize_t w = sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Read exactly len bytes; timeout_ms < 0 waits forever.  Returns 0, -1 (error/EOF), -2 (timeout). */
static int read_all(int fd, void *buf, size_t len, int timeout_ms)
{
    char *p = buf;
    while (len) {
        if (timeout_ms >= 0) {
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            int r = poll(&pf, 1, timeout_ms);
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) return -2;
            if (r < 0) return -1;
        }
        ssize_t got = read(fd, p, len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        p += got;
        len -= (size_t)got;
    }
    return 0;
}

/* ---------------- inside the worker processes ---------------- */

/* Synthesis buffer, reached through espeak's user_data (no globals). */
typedef struct synth_buf {
    int16_t *x;
    int n, cap;
    int failed;
} synth_buf;

static int synth_cb(short *wav, int nsamp, espeak_EVENT *ev)
{
    synth_buf *b = ev ? ev->user_data : NULL;
    if (!b || !wav || nsamp <= 0) return 0; /* warm-up call or an event-only chunk */
    if (b->n + nsamp > MAX_SAMPLES) {
        b->failed = 1;
        return 1; /* abort synthesis */
    }
    if (b->n + nsamp > b->cap) {
        int cap = b->cap ? b->cap : 16384;
        while (cap < b->n + nsamp) cap *= 2;
        int16_t *nx = realloc(b->x, (size_t)cap * sizeof *nx);
        if (!nx) {
            b->failed = 1;
            return 1;
        }
        b->x = nx;
        b->cap = cap;
    }
    memcpy(b->x + b->n, wav, (size_t)nsamp * sizeof *wav);
    b->n += nsamp;
    return 0;
}

static void set_msg(resp_hdr *r, mt_status st, const char *fmt, const char *a, const char *b)
{
    r->status = st;
    snprintf(r->msg, sizeof r->msg, fmt, a, b);
}

/* The per-utterance child: synthesise and write resp_hdr + samples to fd. */
static void child_synth(int fd, const req_hdr *q, const char *voice, const char *text)
{
    resp_hdr r;
    memset(&r, 0, sizeof r);
    r.magic = RESP_MAGIC;
    r.rate_hz = espeak_ng_GetSampleRate();
    synth_buf b = {0};
    srand(q->seed);
    char em[200];
    espeak_ng_STATUS s = espeak_ng_SetVoiceByName(voice);
    if (s != ENS_OK) {
        espeak_ng_GetStatusCodeMessage(s, em, sizeof em);
        set_msg(&r, MT_ERR_ARG, "espeak-ng voice '%s': %s", voice, em);
    } else if (espeak_ng_SetParameter(espeakRATE, q->rate, 0) != ENS_OK ||
               espeak_ng_SetParameter(espeakPITCH, q->pitch, 0) != ENS_OK ||
               espeak_ng_SetParameter(espeakRANGE, q->range, 0) != ENS_OK ||
               espeak_ng_SetParameter(espeakVOLUME, 100, 0) != ENS_OK) {
        set_msg(&r, MT_ERR_ARG, "espeak-ng rejected the rate/pitch/range for '%s'%s", voice, "");
    } else {
        s = espeak_ng_Synthesize(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8,
                                 NULL, &b);
        if (s == ENS_OK) s = espeak_ng_Synchronize();
        if (b.failed) {
            set_msg(&r, MT_ERR_DATA, "espeak-ng output for '%s' too long or out of memory%s", text, "");
        } else if (s != ENS_OK) {
            espeak_ng_GetStatusCodeMessage(s, em, sizeof em);
            set_msg(&r, MT_ERR_INTERNAL, "espeak-ng synthesis of '%s' failed: %s", text, em);
        } else {
            r.status = MT_OK;
            r.n = b.n;
        }
    }
    if (write_all(fd, &r, sizeof r, 0) == 0 && r.status == MT_OK && r.n > 0)
        write_all(fd, b.x, (size_t)r.n * sizeof *b.x, 0);
    free(b.x);
}

/* Forward one utterance: fork a child from the pristine engine state, relay its answer. */
static int zygote_serve(int sock, const req_hdr *q, const char *voice, const char *text)
{
    resp_hdr r;
    memset(&r, 0, sizeof r);
    r.magic = RESP_MAGIC;
    int16_t *x = NULL;
    int p[2];
    if (pipe(p) != 0) {
        set_msg(&r, MT_ERR_IO, "espeak-ng worker: pipe failed%s%s", "", "");
        return write_all(sock, &r, sizeof r, 1);
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* die with the zygote (single-threaded) */
        child_synth(p[1], q, voice, text);
        _exit(0);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        set_msg(&r, MT_ERR_IO, "espeak-ng worker: fork failed%s%s", "", "");
        return write_all(sock, &r, sizeof r, 1);
    }
    int ok = read_all(p[0], &r, sizeof r, TIMEOUT_MS) == 0 && r.magic == RESP_MAGIC && r.n >= 0 &&
             r.n <= MAX_SAMPLES;
    if (ok && r.status == MT_OK && r.n > 0) {
        x = malloc((size_t)r.n * sizeof *x);
        ok = x && read_all(p[0], x, (size_t)r.n * sizeof *x, TIMEOUT_MS) == 0;
    }
    close(p[0]);
    if (!ok) kill(pid, SIGKILL);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
    if (!ok) {
        memset(&r, 0, sizeof r);
        r.magic = RESP_MAGIC;
        char why[64];
        if (WIFSIGNALED(ws)) snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(ws));
        else snprintf(why, sizeof why, "no answer");
        set_msg(&r, MT_ERR_INTERNAL, "espeak-ng synthesis of '%s' failed: %s", text, why);
    }
    int w = write_all(sock, &r, sizeof r, 1);
    if (w == 0 && r.status == MT_OK && r.n > 0) w = write_all(sock, x, (size_t)r.n * sizeof *x, 1);
    free(x);
    return w;
}

static void zygote_main(int sock)
{
    /* No PR_SET_PDEATHSIG here: it would fire when the *thread* that opened the worker exits.
     * If the caller dies, the socket closes and the read loop below exits on EOF. */
    resp_hdr r;
    memset(&r, 0, sizeof r);
    r.magic = RESP_MAGIC;
    espeak_ng_InitializePath(NULL); /* $ESPEAK_DATA_PATH or the packaged espeak-ng-data */
    espeak_ng_ERROR_CONTEXT ctx = NULL;
    espeak_ng_STATUS s = espeak_ng_Initialize(&ctx);
    if (s == ENS_OK) s = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, NULL);
    if (s != ENS_OK) {
        char em[200];
        espeak_ng_GetStatusCodeMessage(s, em, sizeof em);
        set_msg(&r, MT_ERR_IO,
                "cannot initialise espeak-ng (%s); install espeak-ng-data or set ESPEAK_DATA_PATH%s",
                em, "");
        write_all(sock, &r, sizeof r, 1);
        _exit(1);
    }
    espeak_SetSynthCallback(synth_cb);
    /* Warm-up: load the English dictionary and phoneme tables once, before any fork, so each
     * child starts from this same (deterministic) state without reloading them. */
    if (espeak_ng_SetVoiceByName("en") == ENS_OK)
        espeak_ng_Synthesize("zero", 5, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, NULL);
    r.status = MT_OK;
    r.rate_hz = espeak_ng_GetSampleRate();
    if (write_all(sock, &r, sizeof r, 1)) _exit(1);
    for (;;) {
        req_hdr q;
        if (read_all(sock, &q, sizeof q, -1)) _exit(0); /* EOF: the parent closed us */
        if (q.magic != REQ_MAGIC || q.voice_len >= MAX_VOICE || q.text_len >= MAX_TEXT) _exit(2);
        char voice[MAX_VOICE], text[MAX_TEXT];
        if (read_all(sock, voice, q.voice_len, -1) || read_all(sock, text, q.text_len, -1)) _exit(0);
        voice[q.voice_len] = 0;
        text[q.text_len] = 0;
        if (zygote_serve(sock, &q, voice, text)) _exit(0);
    }
}

/* ---------------- the caller's side ---------------- */

mt_status mt_espeak_open(mt_espeak **out, mt_err *err)
{
    *out = NULL;
    mt_espeak *e = calloc(1, sizeof *e);
    if (!e) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        free(e);
        return mt_err_set(err, MT_ERR_IO, "espeak-ng worker: socketpair: %s", strerror(errno));
    }
    fflush(NULL); /* nothing buffered may be written twice */
    pid_t pid = fork();
    if (pid == 0) {
        /* Keep only stdio and our socket (as fd 3): inherited copies of other workers' sockets
         * would hide their EOF. */
        int sock = sv[1];
        if (sock != 3) {
            if (dup2(sock, 3) < 0) _exit(1);
            sock = 3;
        }
        closefrom(4);
        zygote_main(sock);
        _exit(0);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        free(e);
        return mt_err_set(err, MT_ERR_IO, "espeak-ng worker: fork: %s", strerror(errno));
    }
    e->pid = pid;
    e->fd = sv[0];
    resp_hdr r;
    int rd = read_all(e->fd, &r, sizeof r, TIMEOUT_MS);
    if (rd || r.magic != RESP_MAGIC || r.status != MT_OK) {
        mt_status st = MT_ERR_IO;
        if (rd == 0 && r.magic == RESP_MAGIC) {
            r.msg[sizeof r.msg - 1] = 0;
            mt_err_set(err, st, "%s", r.msg);
        } else {
            mt_err_set(err, st, "espeak-ng worker did not start (%s)", rd == -2 ? "timeout" : "exited");
        }
        mt_espeak_close(e);
        return st;
    }
    *out = e;
    return MT_OK;
}

/* The worker died or the stream is out of step: stop using it. */
static mt_status worker_lost(mt_espeak *e, mt_err *err)
{
    close(e->fd);
    e->fd = -1;
    return mt_err_set(err, MT_ERR_IO, "espeak-ng worker exited unexpectedly");
}

mt_status mt_espeak_say(mt_espeak *e, const mt_espeak_utt *u, float **x, int64_t *n,
                        double *rate_hz, mt_err *err)
{
    *x = NULL;
    *n = 0;
    if (!e || e->fd < 0) return mt_err_set(err, MT_ERR_STATE, "espeak-ng worker is not running");
    if (!u || !u->voice || !u->text) return mt_err_set(err, MT_ERR_ARG, "espeak: voice and text required");
    size_t vl = strlen(u->voice), tl = strlen(u->text);
    if (vl == 0 || vl >= MAX_VOICE) return mt_err_set(err, MT_ERR_ARG, "espeak: voice name length %zu not in 1..%d", vl, MAX_VOICE - 1);
    if (tl == 0 || tl >= MAX_TEXT) return mt_err_set(err, MT_ERR_ARG, "espeak: text length %zu not in 1..%d", tl, MAX_TEXT - 1);
    if (u->rate_wpm < espeakRATE_MINIMUM || u->rate_wpm > espeakRATE_MAXIMUM)
        return mt_err_set(err, MT_ERR_ARG, "espeak: rate %d wpm not in %d..%d", u->rate_wpm,
                          espeakRATE_MINIMUM, espeakRATE_MAXIMUM);
    if (u->pitch < 0 || u->pitch > 100) return mt_err_set(err, MT_ERR_ARG, "espeak: pitch %d not in 0..100", u->pitch);
    if (u->range < 0 || u->range > 100) return mt_err_set(err, MT_ERR_ARG, "espeak: pitch range %d not in 0..100", u->range);
    req_hdr q = {REQ_MAGIC, u->rate_wpm, u->pitch, u->range, u->seed, (uint32_t)vl, (uint32_t)tl};
    if (write_all(e->fd, &q, sizeof q, 1) || write_all(e->fd, u->voice, vl, 1) ||
        write_all(e->fd, u->text, tl, 1))
        return worker_lost(e, err);
    resp_hdr r;
    /* The zygote itself times a hung child out after TIMEOUT_MS; allow it that and a margin. */
    if (read_all(e->fd, &r, sizeof r, 2 * TIMEOUT_MS + 1000) || r.magic != RESP_MAGIC || r.n < 0 ||
        r.n > MAX_SAMPLES)
        return worker_lost(e, err);
    r.msg[sizeof r.msg - 1] = 0;
    if (r.status != MT_OK) return mt_err_set(err, (mt_status)r.status, "%s", r.msg);
    int16_t *s = malloc((size_t)(r.n > 0 ? r.n : 1) * sizeof *s);
    float *f = malloc((size_t)(r.n > 0 ? r.n : 1) * sizeof *f);
    if (!s || !f) {
        free(s);
        free(f);
        /* The samples are still in the socket: the stream is out of step, so stop the worker. */
        close(e->fd);
        e->fd = -1;
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory for %d samples", r.n);
    }
    if (r.n > 0 && read_all(e->fd, s, (size_t)r.n * sizeof *s, TIMEOUT_MS)) {
        free(s);
        free(f);
        return worker_lost(e, err);
    }
    for (int i = 0; i < r.n; i++) f[i] = (float)s[i] * (1.0f / 32768.0f);
    free(s);
    if (r.n == 0) {
        free(f);
        return mt_err_set(err, MT_ERR_DATA, "espeak-ng produced no audio for '%s' (voice %s)", u->text, u->voice);
    }
    *x = f;
    *n = r.n;
    if (rate_hz) *rate_hz = r.rate_hz;
    return MT_OK;
}

void mt_espeak_close(mt_espeak *e)
{
    if (!e) return;
    if (e->fd >= 0) close(e->fd); /* the zygote sees EOF and exits */
    if (e->pid > 0) {
        int ws;
        /* Give it a moment to exit on EOF, then make sure. */
        for (int i = 0; i < 200; i++) {
            pid_t w = waitpid(e->pid, &ws, WNOHANG);
            if (w == e->pid || (w < 0 && errno != EINTR)) {
                e->pid = 0;
                break;
            }
            usleep(5000);
        }
        if (e->pid > 0) {
            kill(e->pid, SIGKILL);
            while (waitpid(e->pid, &ws, 0) < 0 && errno == EINTR) {}
        }
    }
    free(e);
}

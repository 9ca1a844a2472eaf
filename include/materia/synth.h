/* materia — the built-in spoken corpus, synthesised with espeak-ng (issue #2).
 *
 * `materia synth digits|keywords` and `make demo` use it when no real data is given.  Synthetic
 * speech is for the demo and the tests; reported accuracies use the real sets.
 *
 *   digits    FSDD layout: {digit}_{speaker}_{index}.wav, digit 0-9 spoken as "zero".."nine",
 *             8 kHz mono 16-bit, speech trimmed with a short random pad (like FSDD's recordings);
 *             index 0..reps-1 (FSDD's official split: index 0-4 = test).
 *   keywords  Speech Commands 12-class layout at 16 kHz, every clip exactly 1 s, speech roughly
 *             centred: {word}/{speaker}_nohash_{n}.wav for yes no up down left right on off stop
 *             go; _unknown_/{word}_{speaker}_nohash_{n}.wav for GSC's 25 auxiliary words (these
 *             include "house", so the paper's 30-word mapping also finds its 11th keyword);
 *             _silence_/{n}.wav noise-only clips; testing_list.txt / validation_list.txt give
 *             an official split (n % 10 == 0 test, n % 10 == 1 validation).
 *   Every corpus root also holds synth.json (options, speakers, counts, materia version).
 *
 * A speaker is an espeak-ng voice with a variant ("en-us+f1", "en-gb-scotland+m2"), named
 * without separators ("enusf1") so that '_' keeps separating the file-name fields.  Per speaker
 * a base rate, pitch and pitch range are drawn; per clip these are jittered and a time offset,
 * peak level and coloured-noise level (SNR 25-40 dB re the speech RMS) are drawn.  Every draw
 * comes from mt_rng streams keyed by (kind, speaker, class, repetition), so the same options give
 * byte-identical files, and a larger --reps or --speakers only adds files (the common ones stay
 * identical).
 *
 * Determinism of espeak-ng itself: the library keeps hidden state between utterances (glottal
 * flutter phase, filter memories, libc rand() for breath noise), so synthesising the same word
 * twice in one process gives different samples.  mt_espeak therefore runs the engine in a
 * worker process that initialises espeak-ng once and forks a fresh copy for every utterance:
 * each utterance starts from the same engine state, and espeak-ng's global state never lives
 * in the caller's process.
 */
#ifndef MATERIA_SYNTH_H
#define MATERIA_SYNTH_H

#include <stdint.h>

#include "materia/error.h"
#include "materia/progress.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the espeak-ng engine (one worker process per mt_espeak) ---- */

/* One utterance. */
typedef struct mt_espeak_utt {
    const char *voice; /* espeak-ng voice[+variant], e.g. "en-us+f3" (at most 127 bytes) */
    const char *text;  /* UTF-8 text (at most 1023 bytes) */
    int rate_wpm;      /* speaking rate, words per minute, 80..450 (espeakRATE; 175 normal) */
    int pitch;         /* base pitch 0..100 (espeakPITCH; 50 = the voice's own) */
    int range;         /* pitch range 0..100 (espeakRANGE; 0 monotone, 50 normal) */
    uint32_t seed;     /* seeds libc rand() in the worker (breath noise of some variants) */
} mt_espeak_utt;

typedef struct mt_espeak mt_espeak;

/* Start a worker: forks a process that loads espeak-ng (data from the espeak-ng-data package,
 * or $ESPEAK_DATA_PATH).  Errors: MT_ERR_IO when the data cannot be loaded.  An mt_espeak must
 * not be used from two threads at once; separate mt_espeak objects are independent. */
mt_status mt_espeak_open(mt_espeak **out, mt_err *err);
/* Synthesise one utterance: *x (malloc'd, free()) holds *n mono samples, full scale ±1, at
 * *rate_hz (espeak-ng's native 22,050 Hz).  The same utterance always gives the same samples.
 * Errors: MT_ERR_ARG (unknown voice, out-of-range parameter), MT_ERR_IO (worker died). */
mt_status mt_espeak_say(mt_espeak *e, const mt_espeak_utt *u, float **x, int64_t *n,
                        double *rate_hz, mt_err *err);
/* Stop the worker and free e (NULL is fine). */
void mt_espeak_close(mt_espeak *e);

/* ---- voices ---- */

#define MT_SYNTH_MAX_SPEAKERS 16

typedef struct mt_synth_speaker {
    const char *name;  /* file-name speaker id, letters and digits only: "enusf1" */
    const char *voice; /* espeak-ng voice+variant: "en-us+f1" */
    char sex;          /* 'f' or 'm' (the variant's) */
} mt_synth_speaker;

/* Speaker i (0 <= i < MT_SYNTH_MAX_SPEAKERS), or NULL.  The table alternates female and male
 * voices over several English accents, so any prefix of it is balanced. */
const mt_synth_speaker *mt_synth_speaker_get(int i);

/* ---- corpora ---- */

typedef enum mt_synth_kind { MT_SYNTH_DIGITS = 0, MT_SYNTH_KEYWORDS = 1 } mt_synth_kind;

#define MT_SYNTH_MAX_CLASSES 12

mt_status mt_synth_kind_parse(const char *name, mt_synth_kind *out, mt_err *err);
const char *mt_synth_kind_name(mt_synth_kind k);
/* Number of classes (digits 10, keywords 12) and the name of class i as the dataset module
 * names it ("0".."9"; "yes".."go", "_unknown_", "_silence_"). */
int mt_synth_nclasses(mt_synth_kind k);
const char *mt_synth_class_name(mt_synth_kind k, int i);

typedef struct mt_synth_opts {
    mt_synth_kind kind;
    int speakers;  /* voices used, 1..MT_SYNTH_MAX_SPEAKERS (default 8) */
    int reps;      /* clips per speaker per class word (digits 12, keywords 8); 1..1000 */
    int unknown;   /* keywords: _unknown_ clips per speaker (default = reps); 0..1000 */
    int silence;   /* keywords: _silence_ clips in all (default = speakers · reps); 0..100000 */
    uint64_t seed; /* every random draw (default 1) */
} mt_synth_opts;

/* Defaults for a kind (see above). */
mt_synth_opts mt_synth_defaults(mt_synth_kind kind);
/* Check ranges; MT_ERR_ARG names the bad field. */
mt_status mt_synth_opts_check(const mt_synth_opts *o, mt_err *err);

typedef struct mt_synth_summary {
    int files;                               /* audio files written */
    int classes;                             /* classes present */
    int speakers;
    double rate_hz;                          /* 8,000 (digits) or 16,000 (keywords) */
    double audio_s;                          /* total duration written */
    int per_class[MT_SYNTH_MAX_CLASSES];     /* files per class (mt_synth_class_name order) */
} mt_synth_summary;

/* Generate a corpus into out_dir.  Everything is written to a temporary sibling directory and
 * renamed at the end, so a failed or interrupted run leaves no half corpus.  An existing,
 * non-empty out_dir is an error unless force is set, and even then it is replaced only when it
 * holds a synth.json (a corpus made by this function), never an arbitrary folder.
 * prog (may be NULL) gets ("synth", done, total) per file.  sum may be NULL. */
mt_status mt_synth_corpus(const char *out_dir, const mt_synth_opts *o, int force,
                          const mt_progress *prog, mt_synth_summary *sum, mt_err *err);

#ifdef __cplusplus
}
#endif
#endif

/* Test helpers shared by the training tests (test_nn_train.c, test_hwa.c): "kill" a run at the
 * end of an epoch by keeping a copy of its state file, to resume from it later. */
#ifndef MATERIA_TESTUTIL_TRAIN_H
#define MATERIA_TESTUTIL_TRAIN_H

#include "testutil.h"

#include "materia/io.h"
#include "materia/nn.h"

static inline void tu_copy_file(const char *from, const char *to)
{
    void *buf;
    size_t len;
    mt_err e = {0};
    assert_int_equal(mt_file_read_all(from, &buf, &len, 0, &e), MT_OK);
    assert_int_equal(mt_file_write_all(to, buf, len, &e), MT_OK);
    free(buf);
}

/* on_epoch context: at the end of epoch `at` (before its state is written) the state file still
 * holds epoch at−1; keep a copy in `snap`, as if the run had been killed during epoch `at`. */
typedef struct tu_snap {
    const char *state, *snap;
    int at;
} tu_snap;

static inline void tu_snap_on_epoch(void *ctx, const mt_epoch_stats *s)
{
    const tu_snap *c = ctx;
    if (s->epoch == c->at) tu_copy_file(c->state, c->snap);
}

#endif

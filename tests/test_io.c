/* io: .npy and safetensors round trips, and rejection of malformed input. */
#include "testutil.h"

#include "materia/io.h"

static char dir[256];

static int setup(void **st)
{
    (void)st;
    tu_tmpdir(dir, sizeof dir);
    return 0;
}
static int teardown(void **st)
{
    (void)st;
    tu_rmrf(dir);
    return 0;
}

static void test_npy_roundtrip(void **st)
{
    (void)st;
    int64_t shape[3] = {2, 3, 5};
    mt_array a, b;
    mt_err e = {0};
    assert_int_equal(mt_array_alloc(&a, MT_F32, 3, shape, &e), MT_OK);
    for (int i = 0; i < 30; i++) ((float *)a.data)[i] = (float)i * 0.5f - 3.0f;
    char p[512];
    snprintf(p, sizeof p, "%s/a.npy", dir);
    assert_int_equal(mt_npy_write(p, &a, &e), MT_OK);
    assert_int_equal(mt_npy_read(p, &b, &e), MT_OK);
    assert_int_equal(b.dtype, MT_F32);
    assert_int_equal(b.ndim, 3);
    assert_true(b.shape[0] == 2 && b.shape[1] == 3 && b.shape[2] == 5);
    assert_memory_equal(a.data, b.data, 30 * sizeof(float));
    /* header is 64-byte aligned as NumPy requires */
    void *buf;
    size_t len;
    assert_int_equal(mt_file_read_all(p, &buf, &len, 0, &e), MT_OK);
    assert_int_equal((len - 30 * 4) % 64, 0);
    free(buf);
    mt_array_free(&a);
    mt_array_free(&b);
}

static void test_npy_reference_bytes(void **st)
{
    (void)st;
    /* Bytes exactly as numpy.save(np.arange(3, dtype='<i4')) writes them (format 1.0). */
    char hdr[128];
    const char *dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }";
    size_t dl = strlen(dict), total = 10 + dl + 1, pad = (64 - total % 64) % 64, hl = dl + pad + 1;
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = (char)(hl & 0xff);
    hdr[9] = (char)(hl >> 8);
    memcpy(hdr + 10, dict, dl);
    memset(hdr + 10 + dl, ' ', pad);
    hdr[10 + dl + pad] = '\n';
    unsigned char buf[256];
    memcpy(buf, hdr, 10 + hl);
    int32_t v[3] = {0, 1, 2};
    memcpy(buf + 10 + hl, v, sizeof v);
    mt_array a;
    mt_err e = {0};
    assert_int_equal(mt_npy_parse(buf, 10 + hl + 12, &a, &e), MT_OK);
    assert_int_equal(a.dtype, MT_I32);
    assert_int_equal(a.ndim, 1);
    assert_int_equal(((int32_t *)a.data)[2], 2);
    mt_array_free(&a);
    /* truncated data */
    assert_int_equal(mt_npy_parse(buf, 10 + hl + 8, &a, &e), MT_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "truncated"));
    /* truncated header */
    assert_int_equal(mt_npy_parse(buf, 20, &a, &e), MT_ERR_FORMAT);
    /* bad magic */
    buf[1] = 'X';
    assert_int_equal(mt_npy_parse(buf, 10 + hl + 12, &a, &e), MT_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "magic"));
}

static void test_npy_rejects(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",      /* big-endian */
        "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",      /* complex */
        "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }",       /* Fortran order */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,), }", /* lying size */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, }",          /* unterminated */
        "{'fortran_order': False, 'shape': (1,), }",                        /* no dtype */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        unsigned char buf[256] = {0};
        size_t dl = strlen(bad[k]);
        memcpy(buf, "\x93NUMPY\x01\x00", 8);
        buf[8] = (unsigned char)(dl + 1);
        memcpy(buf + 10, bad[k], dl);
        buf[10 + dl] = '\n';
        mt_array a;
        mt_err e = {0};
        assert_int_equal(mt_npy_parse(buf, 10 + dl + 1 + 8, &a, &e), MT_ERR_FORMAT);
        assert_true(strlen(e.msg) > 0);
    }
}

static void test_safetensors_roundtrip(void **st)
{
    (void)st;
    mt_err e = {0};
    mt_st_tensor t[2];
    int64_t s0[2] = {2, 3}, s1[1] = {4};
    t[0].name = "conv0.weight";
    t[1].name = "labels";
    assert_int_equal(mt_array_alloc(&t[0].a, MT_F32, 2, s0, &e), MT_OK);
    assert_int_equal(mt_array_alloc(&t[1].a, MT_I64, 1, s1, &e), MT_OK);
    for (int i = 0; i < 6; i++) ((float *)t[0].a.data)[i] = (float)i / 7.0f;
    for (int i = 0; i < 4; i++) ((int64_t *)t[1].a.data)[i] = -i;
    char p[512];
    snprintf(p, sizeof p, "%s/m.safetensors", dir);
    assert_int_equal(mt_st_write(p, t, 2, "{\"materia\": \"{\\\"arch\\\": \\\"x\\\"}\"}", &e), MT_OK);
    mt_safetensors r;
    assert_int_equal(mt_st_read(p, &r, &e), MT_OK);
    assert_int_equal(r.n, 2);
    const mt_array *w = mt_st_get(&r, "conv0.weight");
    assert_non_null(w);
    assert_memory_equal(w->data, t[0].a.data, 6 * sizeof(float));
    assert_int_equal(((int64_t *)mt_st_get(&r, "labels")->data)[3], -3);
    char *m = mt_st_meta_get(&r, "materia");
    assert_non_null(m);
    assert_string_equal(m, "{\"arch\": \"x\"}");
    free(m);
    assert_null(mt_st_get(&r, "nope"));
    mt_st_free(&r);

    /* truncation anywhere must be rejected, never crash */
    void *buf;
    size_t len;
    assert_int_equal(mt_file_read_all(p, &buf, &len, 0, &e), MT_OK);
    for (size_t cut = 0; cut < len; cut += 3) assert_int_not_equal(mt_st_parse(buf, cut, &r, &e), MT_OK);
    /* a header length that lies */
    unsigned char *b = buf;
    b[0] = 0xff;
    b[1] = 0xff;
    assert_int_equal(mt_st_parse(buf, len, &r, &e), MT_ERR_FORMAT);
    free(buf);
    mt_array_free(&t[0].a);
    mt_array_free(&t[1].a);
}

static void test_safetensors_lying_offsets(void **st)
{
    (void)st;
    const char *h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}";
    unsigned char buf[256] = {0};
    size_t hl = strlen(h);
    buf[0] = (unsigned char)hl;
    memcpy(buf + 8, h, hl);
    mt_safetensors r;
    mt_err e = {0};
    /* shape says 16 bytes, offsets say 8 */
    assert_int_equal(mt_st_parse(buf, 8 + hl + 8, &r, &e), MT_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "'w'"));
    const char *h2 = "{\"w\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    hl = strlen(h2);
    memset(buf, 0, sizeof buf);
    buf[0] = (unsigned char)hl;
    memcpy(buf + 8, h2, hl);
    assert_int_equal(mt_st_parse(buf, 8 + hl + 4, &r, &e), MT_ERR_FORMAT);
}

static void test_atomic_no_partial(void **st)
{
    (void)st;
    char p[512];
    snprintf(p, sizeof p, "%s/x.bin", dir);
    mt_atomic_file af;
    mt_err e = {0};
    assert_int_equal(mt_atomic_open(&af, p, &e), MT_OK);
    fputs("half", af.fp);
    struct stat sb;
    assert_int_not_equal(stat(p, &sb), 0); /* nothing at the final name yet */
    mt_atomic_abort(&af);
    assert_int_not_equal(stat(p, &sb), 0);
    assert_int_not_equal(stat(af.tmp, &sb), 0);
    assert_int_equal(mt_file_write_all(p, "done", 4, &e), MT_OK);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_size, 4);
    /* unwritable location */
    assert_int_equal(mt_file_write_all("/nonexistent-dir/x", "a", 1, &e), MT_ERR_IO);
    assert_non_null(strstr(e.msg, "/nonexistent-dir/x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_reference_bytes),
        cmocka_unit_test(test_npy_rejects),
        cmocka_unit_test(test_safetensors_roundtrip),
        cmocka_unit_test(test_safetensors_lying_offsets),
        cmocka_unit_test(test_atomic_no_partial),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

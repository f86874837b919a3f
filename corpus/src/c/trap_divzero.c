/* trap-divzero-c: integer division by zero (wasm i32.div_s traps). */
#include "sysinspect.h"

int main(void) {
    free(si_read_header());
    volatile int num = 7, den = 0;
    printf("{\"unexpected\":%d}\n", num / den);
    return 0;
}

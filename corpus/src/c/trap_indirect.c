/* trap-indirect-c: calls a function through a pointer of the wrong type; the
 * wasm call_indirect signature check traps (indirect-call mismatch). */
#include "sysinspect.h"

static int add(int a, int b) { return a + b; }

typedef double (*wrong_fn)(double);

int main(void) {
    free(si_read_header());
    volatile wrong_fn f = (wrong_fn)(void *)add;
    printf("{\"unexpected\":%f}\n", f(1.5));
    return 0;
}

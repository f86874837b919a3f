/* trap-nullfn-c: calls a null function pointer: table element 0 is empty, so
 * the call traps (undefined table element). */
#include "sysinspect.h"

typedef int (*fn)(int);

int main(void) {
    free(si_read_header());
    volatile fn f = 0;
    printf("{\"unexpected\":%d}\n", f(1));
    return 0;
}

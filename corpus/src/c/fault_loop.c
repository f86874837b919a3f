/* fault-loop-c: never finishes (the runtime's timeout must stop it). */
#include "sysinspect.h"

int main(void) {
    free(si_read_header());
    volatile unsigned long long n = 0;
    for (;;) n++;
}

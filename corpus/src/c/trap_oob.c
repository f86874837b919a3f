/* trap-oob-c: stores through a pointer far beyond linear memory. */
#include "sysinspect.h"

int main(void) {
    free(si_read_header());
    volatile uintptr_t addr = 0xFFFFFFF0u;
    *(volatile int *)addr = 42;
    puts("{\"unexpected\":true}");
    return 0;
}

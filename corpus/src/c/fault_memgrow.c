/* fault-memgrow-c: allocates 1 MiB blocks forever (touching each), so linear
 * memory grows until the runtime's memory limit stops it. */
#include "sysinspect.h"

int main(void) {
    free(si_read_header());
    unsigned long total = 0;
    for (;;) {
        char *block = (char *)malloc(1 << 20);
        if (!block) {
            /* an engine without a limit trap: report and fail */
            printf("{\"malloc_failed_after_mib\":%lu}\n", total);
            return 4;
        }
        block[0] = 1;
        block[(1 << 20) - 1] = 1;
        total++;
    }
}

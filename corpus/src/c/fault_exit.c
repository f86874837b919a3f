/* fault-exit-c: prints a JSON error and exits with status 3. */
#include "sysinspect.h"

int main(void) {
    free(si_read_header());
    si_log(SI_ERROR, "giving up on purpose");
    puts("{\"error\":\"deliberate failure\"}");
    fputs("fault-exit-c: exiting with status 3\n", stderr);
    return 3;
}

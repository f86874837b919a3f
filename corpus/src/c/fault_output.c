/* fault-output-c: writes to stdout without end (the runtime's output limit must stop it). */
#include <unistd.h>
#include "sysinspect.h"

int main(void) {
    free(si_read_header());
    static char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    for (;;) {
        if (write(1, chunk, sizeof chunk) < 0) return 5;
    }
}

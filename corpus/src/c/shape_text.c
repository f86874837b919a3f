/* shape-text-c: prints plain text that is not JSON. */
#include <stdio.h>
#include <stdlib.h>
#include "sysinspect.h"

int main(void) {
    free(si_read_header());
    fputs("this is plain text, not JSON\nsecond line: 100% text\n", stdout);
    return 0;
}

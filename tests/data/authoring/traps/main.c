/* traps: answers man, then traps on every run (check: run). */
#include "../common.h"

int main(void) {
    if (wants_man()) {
        puts(DOC("traps"));
        return 0;
    }
    fflush(stdout);
    __builtin_trap();
}

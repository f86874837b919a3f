/* endless: answers man, then runs forever (check: run). */
#include "../common.h"

int main(void) {
    if (wants_man()) {
        puts(DOC("endless"));
        return 0;
    }
    volatile unsigned long spins = 0;
    for (;;) spins++;
}

/* text-output: answers man, then prints text that is not JSON (check: run). */
#include "../common.h"

int main(void) {
    if (wants_man()) {
        puts(DOC("text-output"));
        return 0;
    }
    puts("all is well");
    return 0;
}

/* unknown-api: imports api.no_such_helper, which the runtime does not provide (check: imports). */
#include "../common.h"

__attribute__((import_module("api"), import_name("no_such_helper"))) int no_such_helper(int x);

int main(void) {
    if (wants_man()) {
        puts(DOC("unknown-api"));
        return 0;
    }
    printf("{\"answer\":%d}\n", no_such_helper(1));
    return 0;
}

/* bad-signature: imports api.log with an i64 level, where the host's api.log takes three i32 (check: imports). */
#include "../common.h"

__attribute__((import_module("api"), import_name("log"))) void bad_log(long long level, const char *msg, int len);

int main(void) {
    if (wants_man()) {
        puts(DOC("bad-signature"));
        return 0;
    }
    bad_log(1, "hi", 2);
    puts("{}");
    return 0;
}

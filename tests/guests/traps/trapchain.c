/* A C module that divides by zero three calls deep: main -> parse_limit -> divide_share.
   share_of is always inlined into parse_limit, so a backtrace shows an inlined frame too. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) int divide_share(int total, int parts) {
    return total / parts;
}

static inline __attribute__((always_inline)) int share_of(int total, int parts) {
    return divide_share(total, parts) + 1;
}

__attribute__((noinline)) int parse_limit(const char *text) {
    int parts = atoi(text);
    return share_of(1000, parts);
}

int main(int argc, char **argv) {
    int limit = parse_limit(argc > 1 ? argv[1] : "0");
    printf("{\"limit\": %d}\n", limit);
    return 0;
}

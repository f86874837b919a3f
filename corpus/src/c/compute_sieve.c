/* compute-sieve-c: counts the primes below argument "n" (default 100000) with a
 * sieve of Eratosthenes; a CPU and memory benchmark with a checkable answer. */
#include "sysinspect.h"

int main(void) {
    free(si_read_header());
    char *raw = si_get("/args/n");
    long n = 100000;
    if (raw && strcmp(raw, "null") != 0) n = strtol(raw, NULL, 10);
    free(raw);
    if (n < 2 || n > 50000000) {
        puts("{\"error\":\"n must be between 2 and 50000000\"}");
        return 2;
    }
    unsigned char *composite = (unsigned char *)calloc((size_t)n, 1);
    if (!composite) return 3;
    long count = 0, last = 0;
    uint32_t checksum = 0;
    for (long i = 2; i < n; i++) {
        if (composite[i]) continue;
        count++;
        last = i;
        checksum = checksum * 31u + (uint32_t)i;
        for (long long j = (long long)i * i; j < n; j += i) composite[j] = 1;
    }
    printf("{\"n\":%ld,\"count\":%ld,\"last\":%ld,\"checksum\":%u}\n", n, count, last, checksum);
    return 0;
}

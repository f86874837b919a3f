/* sys-clockrandom-c: reads the wall clock, the monotonic clock and random bytes.
 * Nondeterministic by design: only the shape of its output can be checked. */
#include <time.h>
#include <unistd.h>
#include "sysinspect.h"

int main(void) {
    free(si_read_header());
    struct timespec real, m1, m2;
    unsigned char rnd[8];
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &m1);
    clock_gettime(CLOCK_MONOTONIC, &m2);
    if (getentropy(rnd, sizeof rnd) != 0) return 1;
    int mono_ok = m2.tv_sec > m1.tv_sec || (m2.tv_sec == m1.tv_sec && m2.tv_nsec >= m1.tv_nsec);
    printf("{\"monotonic_ok\":%s,\"random_hex\":\"", mono_ok ? "true" : "false");
    for (size_t i = 0; i < sizeof rnd; i++) printf("%02x", rnd[i]);
    printf("\",\"realtime_s\":%lld}\n", (long long)real.tv_sec);
    return 0;
}

/* wasi-env-c: reports what WASI shows the guest: command-line arguments,
 * environment variables and preopened directories (upstream passes no
 * arguments, no environment, and one preopen "/"). */
#include <wasi/api.h>
#include "sysinspect.h"

extern char **environ;

int main(int argc, char **argv) {
    (void)argv;
    free(si_read_header());
    int envc = 0;
    for (char **e = environ; e && *e; e++) envc++;
    printf("{\"argc\":%d,\"envc\":%d,\"preopens\":[", argc, envc);
    int first = 1;
    for (__wasi_fd_t fd = 3; fd < 64; fd++) {
        __wasi_prestat_t pre;
        if (__wasi_fd_prestat_get(fd, &pre) != 0) break;
        char name[256] = {0};
        size_t len = pre.u.dir.pr_name_len < sizeof name - 1 ? pre.u.dir.pr_name_len : sizeof name - 1;
        if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len) != 0) break;
        if (!first) fputc(',', stdout);
        si_json_string(stdout, name);
        first = 0;
    }
    puts("]}");
    return 0;
}

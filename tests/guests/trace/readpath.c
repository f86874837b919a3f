/* A module that reads the file its request names (args.path) and answers {"bytes": N, "lines": L} for its first
   64 bytes.
   It asks the host for the argument through api.header_get (a JSON pointer), opens the file under the guest's "/",
   reads it and writes its answer with one write() each: every call is one WASI call, so a trace of it reads the
   same on both backends (stdio would let wasmtime's partial writes show, see README "Debugging a module"). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__attribute__((import_module("api"), import_name("header_get")))
int header_get(const char *pointer, int pointer_len, char *out, int out_cap);

int main(void) {
    static const char pointer[] = "/args/path";
    char quoted[512];
    int n = header_get(pointer, (int)strlen(pointer), quoted, (int)sizeof quoted - 1);
    if (n < 2 || quoted[0] != '"') {
        static const char missing[] = "{\"error\": \"give args.path\"}\n";
        write(1, missing, sizeof missing - 1);
        return 0;
    }
    char path[512];
    memcpy(path, quoted + 1, (size_t)n - 2);  /* the JSON string without its quotes (no escapes in our paths) */
    path[n - 2] = '\0';
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        static const char unreadable[] = "{\"error\": \"cannot open the file\"}\n";
        write(1, unreadable, sizeof unreadable - 1);
        return 1;
    }
    char data[64];
    ssize_t got = read(fd, data, sizeof data);
    close(fd);
    int lines = 0;
    for (ssize_t i = 0; i < got; i++)
        lines += data[i] == '\n';
    char answer[64];
    int length = snprintf(answer, sizeof answer, "{\"bytes\": %d, \"lines\": %d}\n", (int)got, lines);
    write(1, answer, (size_t)length);
    return 0;
}

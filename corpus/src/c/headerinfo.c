/* headerinfo-c: reports what it sees through api.header, api.header_has and
 * api.header_get (host traits and paths, missing keys, pointer escaping), and
 * whether api.header agrees with the header line read from stdin. */
#include "sysinspect.h"

static void member(const char *name, const char *pointer, int *first) {
    char *raw = si_get(pointer);
    printf("%s\"%s\":%s", *first ? "" : ",", name, raw ? raw : "{\"error\":\"bad call\"}");
    *first = 0;
    free(raw);
}

static void flag(const char *name, int value, int *first) {
    printf("%s\"%s\":%s", *first ? "" : ",", name, value ? "true" : "false");
    *first = 0;
}

int main(void) {
    char *line = si_read_header();
    char *whole = si_header_json();
    int first = 1;
    fputc('{', stdout);
    member("config_sharelib", "/config/path.sharelib", &first);
    member("first_opt", "/opts/0", &first);
    flag("has_bad_pointer", si_has("host"), &first);
    flag("has_hostname", si_has("  /host/traits/system.hostname  "), &first);
    flag("has_missing", si_has("/host/traits/no.such.trait"), &first);
    flag("has_traits", si_has("/host/traits"), &first);
    flag("header_is_stdin", line && whole && strcmp(line, whole) == 0, &first);
    member("hostname", "/host/traits/system.hostname", &first);
    member("missing", "/host/traits/no.such.trait", &first);
    member("os", "/host/traits/system.os.name", &first);
    member("sharelib", "/host/paths/sharelib", &first);
    member("slash_key", "/host/traits/a~1b", &first);
    member("tilde_key", "/host/traits/c~0d", &first);
    puts("}");
    free(line);
    free(whole);
    return 0;
}

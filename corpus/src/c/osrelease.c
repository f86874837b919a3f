/* osrelease-c: returns one key of /etc/os-release, the Sysinspect way.
 * Argument "key" (default VERSION); option "nohello" drops the greeting;
 * option "man" prints the module's documentation. */
#include "sysinspect.h"

#define ID "osrelease-c"

static const char *DOC =
    "{\"name\":\"" ID "\",\"version\":\"0.1.0\",\"author\":\"Sysinspect Wasm corpus\","
    "\"description\":\"Returns the value of one key of /etc/os-release.\","
    "\"arguments\":[{\"name\":\"key\",\"type\":\"string\",\"required\":false,\"default\":\"VERSION\","
    "\"description\":\"The os-release key to return.\"}],"
    "\"options\":[{\"name\":\"nohello\",\"required\":false,\"description\":\"Do not add the greeting.\"},"
    "{\"name\":\"man\",\"required\":false,\"description\":\"Print this documentation and do nothing else.\"}],"
    "\"examples\":[{\"description\":\"Return the distribution's pretty name.\","
    "\"code\":\"args:\\n  rt.mod: " ID "\\n  key: PRETTY_NAME\"}],"
    "\"returns\":{\"<key>\":\"the value, or null when the key is absent\","
    "\"hello\":\"a greeting, unless the option nohello is given\"}}";

/* Strip os-release quoting in place: "..." or '...' with backslash escapes. */
static void unquote(char *v) {
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        char *o = v;
        for (size_t i = 1; i + 1 < n; i++) {
            if (v[i] == '\\' && i + 2 < n) i++;
            *o++ = v[i];
        }
        *o = 0;
    }
}

int main(void) {
    char *header = si_read_header();
    if (!header) return 1;
    free(header); /* the SDK reads values through api.header_get */
    if (si_has_opt("man")) {
        puts(DOC);
        return 0;
    }
    char *key = si_get_string("/args/key", "VERSION");
    FILE *f = fopen("/etc/os-release", "r");
    if (!f) {
        printf("{\"error\":\"cannot read /etc/os-release\"}\n");
        return 1;
    }
    char line[1024];
    char *value = NULL;
    size_t klen = strlen(key);
    while (!value && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
            value = line + klen + 1;
            unquote(value);
        }
    }
    fclose(f);
    fputc('{', stdout);
    si_json_string(stdout, key);
    fputc(':', stdout);
    if (value) {
        si_json_string(stdout, value);
    } else {
        char msg[256];
        snprintf(msg, sizeof msg, "key %s is not in /etc/os-release", key);
        si_log(SI_WARN, msg);
        fputs("null", stdout);
    }
    if (!si_has_opt("nohello")) fputs(",\"hello\":\"Hello from " ID "\"", stdout);
    fputs("}\n", stdout);
    free(key);
    return 0;
}

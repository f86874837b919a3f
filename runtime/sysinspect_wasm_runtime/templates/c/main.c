/* @ID@: a Sysinspect module written in C (WASI preview 1).
 *
 * It greets whoever the argument "name" names (default "world"); the option
 * "shout" greets in capitals, and the option "man" prints this module's
 * documentation instead of running. */
#include <ctype.h>

#include "sysinspect.h"

#define ID "@ID@"

static const char *DOC =
    "{\"name\":\"" ID "\",\"version\":\"0.1.0\",\"author\":\"\","
    "\"description\":\"Greets whoever the argument name names.\","
    "\"arguments\":[{\"name\":\"name\",\"type\":\"string\",\"required\":false,\"default\":\"world\","
    "\"description\":\"Who to greet.\"}],"
    "\"options\":[{\"name\":\"shout\",\"description\":\"Greet in capitals.\"},"
    "{\"name\":\"man\",\"description\":\"Print this documentation and do nothing else.\"}],"
    "\"examples\":[{\"description\":\"Greet the minion.\",\"code\":\"{\\\"args\\\": {\\\"name\\\": \\\"minion\\\"}}\"}],"
    "\"returns\":{\"description\":\"The greeting.\",\"sample\":{\"greeting\":\"Hello, minion!\"}}}";

int main(void) {
    char *header = si_read_header();
    if (!header) return 1;
    free(header); /* the SDK reads values through api.header_get */
    if (si_has_opt("man")) {
        puts(DOC);
        return 0;
    }
    char *name = si_get_string("/args/name", "world");
    size_t size = strlen(name) + sizeof "Hello, !";
    char *greeting = malloc(size);
    if (!greeting) return 1;
    snprintf(greeting, size, "Hello, %s!", name);
    if (si_has_opt("shout")) {
        for (char *p = greeting; *p; p++) *p = (char)toupper((unsigned char)*p);
    }
    char *line = malloc(size + sizeof "greeting ");
    if (line) {
        snprintf(line, size + sizeof "greeting ", "greeting %s", name);
        si_log(SI_INFO, line);
        free(line);
    }
    fputs("{\"greeting\":", stdout);
    si_json_string(stdout, greeting);
    fputs("}\n", stdout);
    free(greeting);
    free(name);
    return 0;
}

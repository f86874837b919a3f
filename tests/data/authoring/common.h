/* Shared by the modules made to break one check of 'wasm-runtime check' each (see README.md).
 * No SDK: they read the header line and find the option "man" by substring, as upstream's
 * simple test modules do. */
#include <stdio.h>
#include <string.h>

static char header[65536];

/* Read the header line; 1 when its options hold "man". */
static int wants_man(void) {
    size_t n = fread(header, 1, sizeof header - 1, stdin);
    header[n] = 0;
    return strstr(header, "\"man\"") != NULL;
}

#define DOC(id)                                                                                  \
    "{\"name\":\"" id "\",\"version\":\"0.1.0\",\"author\":\"wasm-runtime tests\","               \
    "\"description\":\"A module made to break one check of wasm-runtime check.\","              \
    "\"arguments\":[],\"options\":[{\"name\":\"man\",\"description\":\"Print this documentation.\"}]," \
    "\"examples\":[{\"description\":\"Run it.\",\"code\":\"{}\"}],"                             \
    "\"returns\":{\"description\":\"Nothing useful.\",\"sample\":{}}}"

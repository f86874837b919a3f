/* shape-big-c: prints one JSON object of about 91 KiB (upstream caps guest
 * stdout at 64 KiB; our runtime does better). The text is assembled with
 * memcpy and written with one fwrite, so that it stays quick on an interpreter. */
#include "sysinspect.h"

#define COUNT 1600
#define LINE "\"line 00000: the quick brown fox jumps over the lazy dog\""

int main(void) {
    free(si_read_header());
    static const char head[] = "{\"count\":1600,\"lines\":[";
    static const char line[] = LINE;
    size_t line_len = sizeof line - 1;
    size_t cap = sizeof head + COUNT * (line_len + 1) + 4;
    char *buf = (char *)malloc(cap), *p = buf;
    if (!buf) return 1;
    memcpy(p, head, sizeof head - 1);
    p += sizeof head - 1;
    for (int i = 0; i < COUNT; i++) {
        if (i) *p++ = ',';
        memcpy(p, line, line_len);
        /* the five digits after "line " */
        for (int d = 0, v = i; d < 5; d++, v /= 10) p[10 - d] = (char)('0' + v % 10);
        p += line_len;
    }
    memcpy(p, "]}\n", 3);
    p += 3;
    fwrite(buf, 1, (size_t)(p - buf), stdout);
    free(buf);
    return 0;
}

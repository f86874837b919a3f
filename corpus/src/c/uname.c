/* uname-c: runs `uname -a` on the host through api.exec and logs through api.log. */
#include "sysinspect.h"

int main(void) {
    free(si_read_header());
    const char *argv[] = {"/usr/bin/uname", "-a", NULL};
    si_log(SI_INFO, "running /usr/bin/uname -a");
    char *answer = si_exec(argv, NULL, 0);
    if (!answer) {
        si_log(SI_ERROR, "api.exec rejected the call");
        puts("{\"error\":\"api.exec rejected the call\"}");
        return 1;
    }
    char *err = si_json_member_string(answer, "error");
    if (err) {
        char refused[512];
        snprintf(refused, sizeof refused, "the host refused: %s", err);
        si_log(SI_ERROR, refused);
        fputs("{\"error\":", stdout);
        si_json_string(stdout, err);
        puts("}");
        return 1;
    }
    long code = si_json_member_int(answer, "exit_code", -1);
    char *out = si_json_member_string(answer, "stdout");
    char msg[64];
    snprintf(msg, sizeof msg, "uname exited with %ld", code);
    si_log(SI_DEBUG, msg);
    size_t n = out ? strlen(out) : 0;
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ')) out[--n] = 0;
    printf("{\"exit_code\":%ld,\"uname\":", code);
    si_json_string(stdout, out ? out : "");
    puts("}");
    free(out);
    free(answer);
    return 0;
}

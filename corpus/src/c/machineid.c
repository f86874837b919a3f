/* machineid-c: reads /etc/machine-id and returns it. */
#include "sysinspect.h"

int main(void) {
    free(si_read_header());
    FILE *f = fopen("/etc/machine-id", "r");
    char id[128] = {0};
    if (!f || !fgets(id, sizeof id, f)) {
        si_log(SI_ERROR, "cannot read /etc/machine-id");
        puts("{\"error\":\"cannot read /etc/machine-id\"}");
        return 1;
    }
    fclose(f);
    id[strcspn(id, "\r\n ")] = 0;
    fputs("{\"machine-id\":", stdout);
    si_json_string(stdout, id);
    puts("}");
    return 0;
}

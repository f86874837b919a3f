/* pk-probe-c: imports upstream's PackageKit helpers from "api"; they must link
 * and run. Reports whether PackageKit is available and what status answers. */
#include "sysinspect.h"

SI_IMPORT("packagekit_available") int32_t si_api_packagekit_available(void);
SI_IMPORT("packagekit_status") int32_t si_api_packagekit_status(char *out, int32_t cap);

int main(void) {
    free(si_read_header());
    int available = si_api_packagekit_available();
    static char status[65536];
    int32_t n = si_api_packagekit_status(status, (int32_t)sizeof status - 1);
    int bad_call = si_api_packagekit_status(status, 0) == SI_BAD_CALL;
    if (n < 0) n = 0;
    status[n] = 0;
    char *error = si_json_member_string(status, "error");
    printf("{\"available\":%s,\"status_error\":%s,\"zero_capacity_is_bad_call\":%s}\n",
           available == 1 ? "true" : "false", error ? "true" : "false", bad_call ? "true" : "false");
    free(error);
    return 0;
}

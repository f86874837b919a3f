/* no-doc: answers man with a JSON object that is no module doc (check: man); its run is fine. */
#include "../common.h"

int main(void) {
    if (wants_man()) {
        puts("{\"usage\":\"no-doc [man]\",\"examples\":\"none\"}");
        return 0;
    }
    puts("{\"ok\":true}");
    return 0;
}

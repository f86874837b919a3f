/* hostview-c: upstream's host helpers and PackageKit wrappers, as a module author uses them.
 *
 * Arguments: trait (default "system.hostname"), path (default "sharelib"), pk (optional: available,
 * status, packages, history, install, remove or upgrade), names (list of package names), count (history).
 * Prints {"has", "trait", "paths", "path"} from si_has_trait / si_trait_value / si_paths / si_path_value
 * (null for what is absent), plus "pk_available" and the helper's answer "pk" when pk is given. */
#include "sysinspect.h"

static void raw_or_null(const char *key, char *json, int first) {
    printf("%s\"%s\":%s", first ? "" : ",", key, json ? json : "null");
    free(json);
}

/* The string items of the header's list at pointer, NULL-terminated (the strings and the array are malloc'd). */
static char **string_list(const char *pointer) {
    char *raw = si_get(pointer);
    size_t n = 0;
    char **items = (char **)calloc(raw ? strlen(raw) / 2 + 2 : 1, sizeof(char *));
    if (!raw || !items) return items;
    for (const char *p = raw; *p;) {
        if (*p == '"') {
            char *s = si_json_take_string(&p);
            if (!s) break;
            items[n++] = s;
        } else {
            p++;
        }
    }
    free(raw);
    return items;
}

int main(void) {
    free(si_read_header());
    char *trait = si_get_string("/args/trait", "system.hostname");
    char *path = si_get_string("/args/path", "sharelib");
    char *pk = si_get_string("/args/pk", NULL);

    printf("{\"has\":%s", si_has_trait(trait) ? "true" : "false");
    raw_or_null("trait", si_trait_value(trait), 0);
    raw_or_null("paths", si_paths(), 0);
    raw_or_null("path", si_path_value(path), 0);
    if (pk) {
        char **names = string_list("/args/names");
        char *count = si_get("/args/count");
        int n = count && strcmp(count, "null") != 0 ? atoi(count) : -1;
        char *answer = NULL;
        if (strcmp(pk, "status") == 0) answer = si_pk_status();
        else if (strcmp(pk, "packages") == 0) answer = si_pk_packages();
        else if (strcmp(pk, "history") == 0) answer = si_pk_history((const char *const *)names, n);
        else if (strcmp(pk, "install") == 0) answer = si_pk_install((const char *const *)names);
        else if (strcmp(pk, "remove") == 0) answer = si_pk_remove((const char *const *)names);
        else if (strcmp(pk, "upgrade") == 0) answer = si_pk_upgrade((const char *const *)names);
        printf(",\"pk_available\":%s", si_pk_available() ? "true" : "false");
        raw_or_null("pk", answer, 0);
        for (char **s = names; s && *s; s++) free(*s);
        free(names);
        free(count);
    }
    printf("}\n");
    free(trait);
    free(path);
    free(pk);
    return 0;
}

/* compute-write-c: writes into the writable folder: creates <dir>/sysinspect-corpus
 * (argument "dir", default "/tmp"), writes note.txt, appends to it, reads it back
 * and lists the folder. */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include "sysinspect.h"

static int mkdirs(const char *path) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    }
    return mkdir(buf, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int fail(const char *what, const char *path) {
    char msg[700];
    snprintf(msg, sizeof msg, "%s %s: %s", what, path, strerror(errno));
    si_log(SI_ERROR, msg);
    fputs("{\"error\":", stdout);
    si_json_string(stdout, msg);
    puts("}");
    return 1;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
    free(si_read_header());
    char *dir = si_get_string("/args/dir", "/tmp");
    char *text = si_get_string("/args/text", "written by compute-write-c");
    char folder[512], path[600];
    snprintf(folder, sizeof folder, "%s/sysinspect-corpus", strcmp(dir, "/") == 0 ? "" : dir);
    if (mkdirs(folder) != 0) return fail("cannot create", folder);
    snprintf(path, sizeof path, "%s/note.txt", folder);
    FILE *f = fopen(path, "w");
    if (!f) return fail("cannot create", path);
    fprintf(f, "%s\n", text);
    fclose(f);
    f = fopen(path, "a");
    if (!f) return fail("cannot append to", path);
    fputs("appended line\n", f);
    fclose(f);
    char back[4096] = {0};
    f = fopen(path, "r");
    if (!f) return fail("cannot reopen", path);
    size_t n = fread(back, 1, sizeof back - 1, f);
    fclose(f);
    DIR *d = opendir(folder);
    if (!d) return fail("cannot list", folder);
    char *names[64];
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) && count < 64) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[count++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)count, sizeof names[0], cmp);
    si_log(SI_INFO, "wrote the note");
    fputs("{\"path\":", stdout);
    si_json_string(stdout, path);
    printf(",\"bytes\":%zu,\"readback\":", n);
    si_json_string(stdout, back);
    fputs(",\"listing\":[", stdout);
    for (int i = 0; i < count; i++) {
        if (i) fputc(',', stdout);
        si_json_string(stdout, names[i]);
    }
    puts("],\"changed\":true}");
    return 0;
}

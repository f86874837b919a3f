/* fsprobe: a WASI command that probes filesystem confinement.
 *
 * Reads commands from stdin, one per line, and prints one line per command:
 * "ok ..." when the operation succeeded, "err <ERRNO-NAME>" when it failed.
 *
 *   read P            contents of file P (newlines shown as \n)
 *   write P TEXT      create or truncate P and write TEXT
 *   append P TEXT     append TEXT to P (created if missing)
 *   create P          create P exclusively (O_CREAT|O_EXCL)
 *   truncate P        open existing P with O_TRUNC
 *   setsize P N       truncate(P, N)
 *   settimes P        utimensat(P) to a fixed time
 *   mkdir P / rmdir P / unlink P
 *   rename A B / link A B / symlink TARGET LINK
 *   stat P / lstat P  "ok <type> <size>" (type: file, dir, link, other)
 *   list P            "ok name/type,name/type,..." sorted, without . and ..
 *   readlink P        "ok <target>"
 *   rawopen FD P      __wasi_path_open(FD, follow, P) without libc's preopen lookup
 *   rawstat FD P      __wasi_path_filestat_get(FD, follow, P)
 *   rawmkdir FD P     __wasi_path_create_directory(FD, P)
 *
 * Build: tests/guests/build_fsprobe.sh
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

static const char *errno_name(int e) {
    switch (e) {
#define E(name) case name: return #name;
        E(E2BIG) E(EACCES) E(EAGAIN) E(EBADF) E(EBUSY) E(EEXIST) E(EFAULT) E(EFBIG)
        E(EINVAL) E(EIO) E(EISDIR) E(ELOOP) E(EMLINK) E(ENAMETOOLONG) E(ENFILE)
        E(ENOENT) E(ENOMEM) E(ENOSPC) E(ENOSYS) E(ENOTDIR) E(ENOTEMPTY) E(ENOTSUP)
        E(ENXIO) E(EPERM) E(EROFS) E(ESPIPE) E(EXDEV) E(ENOTCAPABLE) E(EILSEQ)
        E(EOVERFLOW) E(ETXTBSY)
#undef E
    default: return "EUNKNOWN";
    }
}

static void fail(void) { printf("err %s\n", errno_name(errno)); }
static void fail_wasi(__wasi_errno_t e) { printf("err %s\n", errno_name((int)e)); }

static const char *type_name(mode_t m) {
    if (S_ISREG(m)) return "file";
    if (S_ISDIR(m)) return "dir";
    if (S_ISLNK(m)) return "link";
    return "other";
}

static void put_escaped(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') fputs("\\n", stdout);
        else if (s[i] == '\\') fputs("\\\\", stdout);
        else putchar(s[i]);
    }
}

static void do_read(const char *p) {
    int fd = open(p, O_RDONLY);
    if (fd < 0) return fail();
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) { fail(); close(fd); return; }
    close(fd);
    fputs("ok ", stdout);
    put_escaped(buf, (size_t)n);
    putchar('\n');
}

static void do_write(const char *p, const char *text, int flags) {
    int fd = open(p, flags, 0644);
    if (fd < 0) return fail();
    size_t len = strlen(text);
    if (len && write(fd, text, len) != (ssize_t)len) { fail(); close(fd); return; }
    close(fd);
    puts("ok");
}

static void do_stat(const char *p, int follow) {
    struct stat st;
    int r = follow ? stat(p, &st) : lstat(p, &st);
    if (r < 0) return fail();
    printf("ok %s %lld\n", type_name(st.st_mode), (long long)st.st_size);
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void do_list(const char *p) {
    DIR *d = opendir(p);
    if (!d) return fail();
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        const char *t = e->d_type == DT_REG ? "file" : e->d_type == DT_DIR ? "dir"
                      : e->d_type == DT_LNK ? "link" : "other";
        size_t len = strlen(e->d_name) + strlen(t) + 2;
        names[n] = malloc(len);
        snprintf(names[n], len, "%s/%s", e->d_name, t);
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_names);
    fputs("ok ", stdout);
    for (int i = 0; i < n; i++) {
        printf(i ? ",%s" : "%s", names[i]);
        free(names[i]);
    }
    putchar('\n');
}

static void do_readlink(const char *p) {
    char buf[1024];
    ssize_t n = readlink(p, buf, sizeof buf - 1);
    if (n < 0) return fail();
    buf[n] = 0;
    printf("ok %s\n", buf);
}

static void do_settimes(const char *p) {
    struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
    if (utimensat(AT_FDCWD, p, ts, 0) < 0) return fail();
    puts("ok");
}

static void do_rawopen(const char *fd, const char *p) {
    __wasi_fd_t out;
    __wasi_errno_t e = __wasi_path_open((__wasi_fd_t)atoi(fd), __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, p, 0,
                                        __WASI_RIGHTS_FD_READ, 0, 0, &out);
    if (e) return fail_wasi(e);
    (void)__wasi_fd_close(out);
    puts("ok");
}

static void do_rawstat(const char *fd, const char *p) {
    __wasi_filestat_t st;
    __wasi_errno_t e = __wasi_path_filestat_get((__wasi_fd_t)atoi(fd), __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, p, &st);
    if (e) return fail_wasi(e);
    printf("ok %d %lld\n", (int)st.filetype, (long long)st.size);
}

static void do_rawmkdir(const char *fd, const char *p) {
    __wasi_errno_t e = __wasi_path_create_directory((__wasi_fd_t)atoi(fd), p);
    if (e) return fail_wasi(e);
    puts("ok");
}

/* Split off the next space-separated word; the rest stays in *line. */
static char *word(char **line) {
    char *s = *line;
    if (!s) return "";
    char *sp = strchr(s, ' ');
    if (sp) { *sp = 0; *line = sp + 1; } else { *line = NULL; }
    return s;
}

int main(void) {
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n') line[--len] = 0;
        if (!len) continue;
        char *rest = line;
        char *cmd = word(&rest);
        errno = 0;
        if (!strcmp(cmd, "read")) do_read(word(&rest));
        else if (!strcmp(cmd, "write")) { char *p = word(&rest); do_write(p, rest ? rest : "", O_WRONLY | O_CREAT | O_TRUNC); }
        else if (!strcmp(cmd, "append")) { char *p = word(&rest); do_write(p, rest ? rest : "", O_WRONLY | O_CREAT | O_APPEND); }
        else if (!strcmp(cmd, "create")) do_write(word(&rest), "", O_WRONLY | O_CREAT | O_EXCL);
        else if (!strcmp(cmd, "truncate")) do_write(word(&rest), "", O_WRONLY | O_TRUNC);
        else if (!strcmp(cmd, "setsize")) { char *p = word(&rest); if (truncate(p, atoll(word(&rest))) < 0) fail(); else puts("ok"); }
        else if (!strcmp(cmd, "settimes")) do_settimes(word(&rest));
        else if (!strcmp(cmd, "mkdir")) { if (mkdir(word(&rest), 0755) < 0) fail(); else puts("ok"); }
        else if (!strcmp(cmd, "rmdir")) { if (rmdir(word(&rest)) < 0) fail(); else puts("ok"); }
        else if (!strcmp(cmd, "unlink")) { if (unlink(word(&rest)) < 0) fail(); else puts("ok"); }
        else if (!strcmp(cmd, "rename")) { char *a = word(&rest); if (rename(a, word(&rest)) < 0) fail(); else puts("ok"); }
        else if (!strcmp(cmd, "link")) { char *a = word(&rest); if (link(a, word(&rest)) < 0) fail(); else puts("ok"); }
        else if (!strcmp(cmd, "symlink")) { char *a = word(&rest); if (symlink(a, word(&rest)) < 0) fail(); else puts("ok"); }
        else if (!strcmp(cmd, "stat")) do_stat(word(&rest), 1);
        else if (!strcmp(cmd, "lstat")) do_stat(word(&rest), 0);
        else if (!strcmp(cmd, "list")) do_list(word(&rest));
        else if (!strcmp(cmd, "readlink")) do_readlink(word(&rest));
        else if (!strcmp(cmd, "rawopen")) { char *fd = word(&rest); do_rawopen(fd, word(&rest)); }
        else if (!strcmp(cmd, "rawstat")) { char *fd = word(&rest); do_rawstat(fd, word(&rest)); }
        else if (!strcmp(cmd, "rawmkdir")) { char *fd = word(&rest); do_rawmkdir(fd, word(&rest)); }
        else printf("err unknown-command %s\n", cmd);
        fflush(stdout);
    }
    return 0;
}

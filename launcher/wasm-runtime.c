/*
 * wasm-runtime launcher: the ELF file a SysMaster registers as runtime.wasm.
 *
 * Sysinspect only finds a runtime dispatcher that is an ELF file of the
 * minion's own OS and architecture (PROTOCOL.md 5.1-5.3), while this runtime
 * is Python. This program bridges the two: it is built static (musl) per
 * target by `wasm-runtime bundle`, finds a Python 3.11 or newer on the minion,
 * finds the runtime's library tree from its own path, and replaces itself with
 *
 *     <python> -I -S -B <payload>/boot.py [its own arguments]
 *
 * -I: no user site, no PYTHON* variables, no script folder on sys.path;
 * -S: none of the system's site-packages (a distribution's python3-dbus, say);
 * -B: never write bytecode into the sharelib (others cannot write it, and a
 *     sync deletes every file it does not list).
 * stdin, stdout, stderr, the environment and the working directory pass
 * through unchanged: exec keeps them.
 *
 * When no suitable Python or no library tree is found it answers the request
 * itself, with a ModResponse (retcode 4, a message naming what is missing and
 * where it looked), and exits 0, as the runtime does for every failure.
 *
 * Build-time macros (set by the bundle command):
 *   WR_VERSION  the runtime's version: the library tree is
 *               <sharelib>/lib/runtime/wasm-runtime/<WR_VERSION>/
 *   WR_TARGET   the bundle target (linux-x86_64, ...), passed to boot.py so it
 *               puts this target's wasmtime on sys.path.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__FreeBSD__)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif

#ifndef WR_VERSION
#error "WR_VERSION must be defined (the runtime's version)"
#endif
#ifndef WR_TARGET
#error "WR_TARGET must be defined (the bundle target, e.g. linux-x86_64)"
#endif

#define PAYLOAD_SUBDIR "lib/runtime/wasm-runtime/" WR_VERSION
#define BOOT_NAME "boot.py"
#define SETUP_FAILED 4
/* The request is drained before answering, so that the minion's write cannot
 * fail with EPIPE; a request is a few KiB, the runtime's own limit is 16 MiB. */
#define DRAIN_LIMIT (16L * 1024 * 1024)

static const char *const PYTHONS[] = {
    "python3.14", "python3.13", "python3.12", "python3.11", "python3", NULL,
};
static const char *const SYSTEM_DIRS[] = {"/usr/bin", "/usr/local/bin", NULL};

/* Where the launcher looked, for the message when nothing was found. */
static char looked[8192];

static void note_looked(const char *what) {
    size_t used = strlen(looked);
    if (used + strlen(what) + 3 >= sizeof looked) {
        return;
    }
    if (used) {
        strcat(looked, ", ");
    }
    strcat(looked, what);
}

static void put_json_string(const char *text) {
    const unsigned char *p = (const unsigned char *)text;
    putchar('"');
    for (; *p; p++) {
        if (*p == '"' || *p == '\\') {
            putchar('\\');
            putchar(*p);
        } else if (*p < 0x20) {
            printf("\\u%04x", *p);
        } else {
            putchar(*p); /* UTF-8 passes through; a path with invalid bytes is rare and still one line */
        }
    }
    putchar('"');
}

/* Answer the request with a failed ModResponse and exit 0 (PROTOCOL.md 1.2). */
static int answer(const char *what, const char *fix) {
    if (!isatty(STDIN_FILENO)) {
        char buffer[65536];
        long total = 0;
        ssize_t count;
        while (total < DRAIN_LIMIT && (count = read(STDIN_FILENO, buffer, sizeof buffer)) != 0) {
            if (count < 0) {
                if (errno == EINTR) {
                    continue;
                }
                break;
            }
            total += count;
        }
    }
    char message[12288];
    snprintf(message, sizeof message, "Failed to initialize Wasm runtime: %s (looked in: %s); %s", what,
             looked[0] ? looked : "nowhere", fix);
    printf("{\"retcode\":%d,\"message\":", SETUP_FAILED);
    put_json_string(message);
    printf(",\"data\":{\"changed\":false}}\n");
    fflush(stdout);
    fprintf(stderr, "wasm-runtime launcher: %s\n", message);
    return 0;
}

static int is_executable_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The launcher's own path, resolved: a sync renames it to modules/runtime/wasm. */
static int own_path(const char *argv0, char *out, size_t size) {
#if defined(__FreeBSD__)
    int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PATHNAME, -1};
    size_t length = size;
    if (sysctl(mib, 4, out, &length, NULL, 0) == 0 && length > 0) {
        return 0;
    }
#else
    ssize_t length = readlink("/proc/self/exe", out, size - 1);
    if (length > 0) {
        out[length] = '\0';
        return 0;
    }
#endif
    /* no /proc: argv[0] is a path when a minion spawns us (it never searches PATH for modules) */
    if (argv0 && strchr(argv0, '/') && realpath(argv0, out)) {
        return 0;
    }
    return -1;
}

/* Strip the last path component of `path` in place; 0 when there was one. */
static int up(char *path) {
    char *slash = strrchr(path, '/');
    if (!slash || slash == path) {
        return -1;
    }
    *slash = '\0';
    return 0;
}

/*
 * The payload's boot.py. Tried: three folders up (a synced sharelib:
 * <sharelib>/modules/runtime/wasm -> <sharelib>/lib/...), then two up (the
 * bundle as built: DIR/<target>/wasm-runtime -> DIR/lib/...).
 */
static int find_boot(const char *self, char *out, size_t size) {
    char two[PATH_MAX], three[PATH_MAX];
    snprintf(two, sizeof two, "%s", self);
    if (up(two) != 0 || up(two) != 0) {
        return -1;
    }
    snprintf(three, sizeof three, "%s", two);
    const char *roots[2] = {up(three) == 0 ? three : NULL, two};
    for (int i = 0; i < 2; i++) {
        if (!roots[i]) {
            continue;
        }
        snprintf(out, size, "%s/" PAYLOAD_SUBDIR "/" BOOT_NAME, roots[i]);
        note_looked(out);
        if (is_regular_file(out)) {
            return 0;
        }
    }
    return -1;
}

static int find_in(const char *dir, size_t dir_len, const char *name, char *out, size_t size) {
    if (dir_len == 0 || dir[0] != '/') {
        return -1; /* an empty or relative PATH entry would depend on the working directory */
    }
    int written = snprintf(out, size, "%.*s/%s", (int)dir_len, dir, name);
    if (written < 0 || (size_t)written >= size) {
        return -1;
    }
    return is_executable_file(out) ? 0 : -1;
}

/* The first python3.14 ... python3.11, python3 on PATH, then in /usr/bin and /usr/local/bin. */
static int find_python(char *out, size_t size) {
    const char *path = getenv("PATH");
    char where[PATH_MAX + 16];
    snprintf(where, sizeof where, "PATH=%s", path ? path : "(unset)");
    note_looked(where);
    note_looked("/usr/bin");
    note_looked("/usr/local/bin");
    for (int n = 0; PYTHONS[n]; n++) {
        if (path) {
            const char *start = path;
            for (;;) {
                const char *end = strchr(start, ':');
                size_t length = end ? (size_t)(end - start) : strlen(start);
                if (find_in(start, length, PYTHONS[n], out, size) == 0) {
                    return 0;
                }
                if (!end) {
                    break;
                }
                start = end + 1;
            }
        }
        for (int d = 0; SYSTEM_DIRS[d]; d++) {
            if (find_in(SYSTEM_DIRS[d], strlen(SYSTEM_DIRS[d]), PYTHONS[n], out, size) == 0) {
                return 0;
            }
        }
    }
    return -1;
}

int main(int argc, char **argv) {
    char self[PATH_MAX];
    char boot[PATH_MAX + 64];
    char python[PATH_MAX + 32];

    if (own_path(argc > 0 ? argv[0] : NULL, self, sizeof self) != 0) {
        note_looked("/proc/self/exe");
        return answer("the launcher cannot find its own path, so not its library tree",
                      "run it by its full path, with /proc mounted");
    }
    if (find_boot(self, boot, sizeof boot) != 0) {
        return answer("the runtime's library tree (" PAYLOAD_SUBDIR "/" BOOT_NAME ") is missing",
                      "publish it on the SysMaster with `sysinspect module -A --path DIR/lib -l` from the "
                      "bundle of the same version (" WR_VERSION ") and sync");
    }
    looked[0] = '\0';
    if (find_python(python, sizeof python) != 0) {
        return answer("no Python 3.11 or newer (python3.14 ... python3.11, python3) was found",
                      "install Python 3.11 or newer on this minion (nothing else is needed)");
    }

    /* python -I -S -B boot.py TARGET -- [arguments] */
    char **args = calloc((size_t)argc + 8, sizeof *args);
    if (!args) {
        return answer("out of memory", "retry");
    }
    int n = 0;
    args[n++] = python;
    args[n++] = "-I";
    args[n++] = "-S";
    args[n++] = "-B";
    args[n++] = boot;
    args[n++] = WR_TARGET;
    args[n++] = "--";
    for (int i = 1; i < argc; i++) {
        args[n++] = argv[i];
    }
    args[n] = NULL;
    execv(python, args);
    char why[PATH_MAX + 128];
    snprintf(why, sizeof why, "%s could not be started (%s)", python, strerror(errno));
    return answer(why, "check that it is a working Python 3.11 or newer");
}

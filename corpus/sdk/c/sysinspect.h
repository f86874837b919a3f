/*
 * sysinspect.h: guest SDK for Sysinspect Wasm modules written in C (WASI preview 1).
 *
 * Header-only: copy this file next to your sources and include it. Build with a
 * WASI C compiler, e.g.  zig cc --target=wasm32-wasi -O2 -s -o mod.wasm mod.c
 *
 * It wraps the host API imported from the module namespace "api" (log, exec,
 * header, header_has, header_get, and upstream's PackageKit helpers), reads the
 * request header (one JSON line on stdin), gives upstream's host helpers over
 * host.traits and host.paths (si_has_trait, si_trait_value, si_paths,
 * si_path_value), and has the few JSON helpers a small module needs: pulling a
 * string out of a JSON value, testing for an option, and writing escaped JSON
 * strings.
 */
#ifndef SYSINSPECT_H
#define SYSINSPECT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SI_IMPORT(name) __attribute__((import_module("api"), import_name(name)))

/* The raw host API (PROTOCOL section 2). Pointers are offsets in this module's memory. */
SI_IMPORT("log") void si_api_log(int32_t level, const char *msg, int32_t len);
SI_IMPORT("exec") int32_t si_api_exec(const char *req, int32_t req_len, char *out, int32_t out_cap);
SI_IMPORT("header") int32_t si_api_header(char *out, int32_t out_cap);
SI_IMPORT("header_has") int32_t si_api_header_has(const char *ptr, int32_t len);
SI_IMPORT("header_get") int32_t si_api_header_get(const char *ptr, int32_t len, char *out, int32_t out_cap);
SI_IMPORT("packagekit_available") int32_t si_api_packagekit_available(void);
SI_IMPORT("packagekit_status") int32_t si_api_packagekit_status(char *out, int32_t out_cap);
SI_IMPORT("packagekit_packages") int32_t si_api_packagekit_packages(char *out, int32_t out_cap);
SI_IMPORT("packagekit_history") int32_t si_api_packagekit_history(const char *req, int32_t req_len, char *out, int32_t out_cap);
SI_IMPORT("packagekit_install") int32_t si_api_packagekit_install(const char *req, int32_t req_len, char *out, int32_t out_cap);
SI_IMPORT("packagekit_remove") int32_t si_api_packagekit_remove(const char *req, int32_t req_len, char *out, int32_t out_cap);
SI_IMPORT("packagekit_upgrade") int32_t si_api_packagekit_upgrade(const char *req, int32_t req_len, char *out, int32_t out_cap);

enum si_level { SI_DEBUG = 0, SI_INFO = 1, SI_WARN = 2, SI_ERROR = 3 };

/* What the host returns for a malformed call. */
#define SI_BAD_CALL (-2)

/* Append a line to the module log (returned under "__sysinspect-module-logs"). */
static inline void si_log(enum si_level level, const char *msg) {
    size_t n = strlen(msg);
    if (n > 0) si_api_log((int32_t)level, msg, (int32_t)n);
}

/* Call fn-like host functions with a growing malloc'd buffer, starting at cap bytes; returns a
 * NUL-terminated string the caller frees, or NULL on a bad call. */
static inline char *si__grow_from(int32_t cap, int32_t (*call)(const char *, int32_t, char *, int32_t),
                                  const char *arg, int32_t arg_len) {
    while (cap <= (1 << 26)) {
        char *buf = (char *)malloc((size_t)cap + 1);
        if (!buf) return NULL;
        int32_t n = call(arg, arg_len, buf, cap);
        if (n < 0) { free(buf); return NULL; }
        if (n < cap) { buf[n] = 0; return buf; }
        free(buf);
        cap *= 4;
    }
    return NULL;
}

static inline char *si__grow(int32_t (*call)(const char *, int32_t, char *, int32_t),
                             const char *arg, int32_t arg_len) {
    return si__grow_from(4096, call, arg, arg_len);
}

static inline int32_t si__header_call(const char *a, int32_t l, char *out, int32_t cap) {
    (void)a; (void)l;
    return si_api_header(out, cap);
}

/* The whole header as the host holds it (api.header). Free the result. */
static inline char *si_header_json(void) { return si__grow(si__header_call, NULL, 0); }

/* 1 when the JSON Pointer (RFC 6901) resolves in the header, else 0 (api.header_has). */
static inline int si_has(const char *pointer) {
    size_t n = strlen(pointer);
    return n > 0 && si_api_header_has(pointer, (int32_t)n) == 1;
}

/* The JSON value at the pointer, "null" when absent (api.header_get). Free the result. */
static inline char *si_get(const char *pointer) {
    return si__grow(si_api_header_get, pointer, (int32_t)strlen(pointer));
}

/* Run argv (NULL-terminated) on the host through api.exec, optionally in cwd.
 * Returns the host's JSON answer {"exit_code":..,"stdout":..,"stderr":..} (or
 * {"error":..}) as a malloc'd string, NULL when the call was rejected. The
 * command runs once; an answer longer than cap bytes is cut by the host. */
static inline char *si_exec(const char *const *argv, const char *cwd, int32_t cap);

/* Read the header line from stdin into a malloc'd NUL-terminated string (without '\n'). */
static inline char *si_read_header(void) {
    size_t cap = 4096, len = 0;
    char *buf = (char *)malloc(cap);
    int c;
    if (!buf) return NULL;
    while ((c = getchar()) != EOF && c != '\n') {
        if (len + 1 >= cap) {
            char *more = (char *)realloc(buf, cap * 2);
            if (!more) { free(buf); return NULL; }
            buf = more;
            cap *= 2;
        }
        buf[len++] = (char)c;
    }
    buf[len] = 0;
    return buf;
}

/* ---- JSON helpers ---------------------------------------------------------------- */

/* Write s as a JSON string literal (with quotes) to f. */
static inline void si_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}

static inline int si__hex(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static inline char *si__put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { *o++ = (char)cp; }
    else if (cp < 0x800) { *o++ = (char)(0xC0 | (cp >> 6)); *o++ = (char)(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12)); *o++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18)); *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Decode the JSON string literal starting at *pp (which must point at '"').
 * Returns a malloc'd string and advances *pp past the closing quote, or NULL. */
static inline char *si_json_take_string(const char **pp) {
    const char *p = *pp;
    if (*p != '"') return NULL;
    p++;
    char *out = (char *)malloc(strlen(p) + 1), *o = out;
    if (!out) return NULL;
    while (*p && *p != '"') {
        if (*p != '\\') { *o++ = *p++; continue; }
        p++;
        switch (*p) {
        case 'n': *o++ = '\n'; p++; break;
        case 't': *o++ = '\t'; p++; break;
        case 'r': *o++ = '\r'; p++; break;
        case 'b': *o++ = '\b'; p++; break;
        case 'f': *o++ = '\f'; p++; break;
        case 'u': {
            unsigned cp = 0;
            for (int i = 1; i <= 4; i++) {
                int h = si__hex(p[i]);
                if (h < 0) { free(out); return NULL; }
                cp = cp * 16 + (unsigned)h;
            }
            p += 5;
            if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
                unsigned lo = 0;
                for (int i = 2; i <= 5; i++) {
                    int h = si__hex(p[i]);
                    if (h < 0) { free(out); return NULL; }
                    lo = lo * 16 + (unsigned)h;
                }
                if (lo >= 0xDC00 && lo < 0xE000) { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00); p += 6; }
            }
            o = si__put_utf8(o, cp);
            break;
        }
        case 0: free(out); return NULL;
        default: *o++ = *p++; break;
        }
    }
    if (*p != '"') { free(out); return NULL; }
    *o = 0;
    *pp = p + 1;
    return out;
}

/* The string at the header pointer, or a copy of def when absent or not a string. Free it. */
static inline char *si_get_string(const char *pointer, const char *def) {
    char *raw = si_get(pointer);
    const char *p = raw;
    char *s = NULL;
    if (raw) {
        while (*p == ' ') p++;
        s = si_json_take_string(&p);
        free(raw);
    }
    if (!s && def) s = strdup(def);
    return s;
}

/* 1 when the option name is in the header's "opts" list. */
static inline int si_has_opt(const char *name) {
    char *raw = si_get("/opts");
    int found = 0;
    if (!raw) return 0;
    for (const char *p = raw; *p && !found;) {
        if (*p == '"') {
            char *s = si_json_take_string(&p);
            if (!s) break;
            found = strcmp(s, name) == 0;
            free(s);
        } else {
            p++;
        }
    }
    free(raw);
    return found;
}

static inline char *si_exec(const char *const *argv, const char *cwd, int32_t cap) {
    size_t need = 32 + (cwd ? strlen(cwd) * 6 + 16 : 0);
    for (const char *const *a = argv; *a; a++) need += strlen(*a) * 6 + 4;
    char *req = (char *)malloc(need);
    if (!req) return NULL;
    FILE *f = fmemopen(req, need, "w");
    if (!f) { free(req); return NULL; }
    fputs("{\"argv\":[", f);
    for (const char *const *a = argv; *a; a++) {
        if (a != argv) fputc(',', f);
        si_json_string(f, *a);
    }
    fputc(']', f);
    if (cwd) { fputs(",\"cwd\":", f); si_json_string(f, cwd); }
    fputc('}', f);
    long len = ftell(f);
    fclose(f);
    if (cap <= 0) cap = 1 << 20;
    char *out = (char *)malloc((size_t)cap + 1);
    if (!out) { free(req); return NULL; }
    int32_t n = si_api_exec(req, (int32_t)len, out, cap);
    free(req);
    if (n < 0) { free(out); return NULL; }
    out[n] = 0;
    return out;
}

/* Pull the string member "key" of a flat JSON object text (first match). Free it. */
static inline char *si_json_member_string(const char *json, const char *key) {
    size_t klen = strlen(key);
    for (const char *p = json; (p = strchr(p, '"')) != NULL;) {
        char *name = si_json_take_string(&p);
        if (!name) return NULL;
        int match = strlen(name) == klen && memcmp(name, key, klen) == 0;
        free(name);
        while (*p == ' ') p++;
        if (match && *p == ':') {
            p++;
            while (*p == ' ') p++;
            return si_json_take_string(&p);
        }
    }
    return NULL;
}

/* The integer member "key" of a flat JSON object text, or def when absent. */
static inline long si_json_member_int(const char *json, const char *key, long def) {
    size_t klen = strlen(key);
    for (const char *p = json; (p = strchr(p, '"')) != NULL;) {
        char *name = si_json_take_string(&p);
        if (!name) return def;
        int match = strlen(name) == klen && memcmp(name, key, klen) == 0;
        free(name);
        while (*p == ' ') p++;
        if (match && *p == ':') return strtol(p + 1, NULL, 10);
    }
    return def;
}

/* ---- host helpers (upstream's SDK: has, trait_value, paths, path_value) -------------- */

/* "/host/<section>/<name>" with name escaped as one JSON Pointer token (~ as ~0, / as ~1). Free it. */
static inline char *si__host_pointer(const char *section, const char *name) {
    size_t n = strlen(name), len = strlen(section) + 8;
    char *out = (char *)malloc(len + 2 * n + 1), *o = out;
    if (!out) return NULL;
    o += sprintf(o, "/host/%s/", section);
    for (const char *p = name; *p; p++) {
        if (*p == '~') { *o++ = '~'; *o++ = '0'; }
        else if (*p == '/') { *o++ = '~'; *o++ = '1'; }
        else *o++ = *p;
    }
    *o = 0;
    return out;
}

static inline char *si__host_value(const char *section, const char *name) {
    char *pointer = si__host_pointer(section, name);
    char *value = NULL;
    if (pointer && si_has(pointer)) value = si_get(pointer);
    free(pointer);
    return value;
}

/* 1 when host.traits has the trait `name` (upstream's has(name)). */
static inline int si_has_trait(const char *name) {
    char *pointer = si__host_pointer("traits", name);
    int found = pointer && si_has(pointer);
    free(pointer);
    return found;
}

/* The JSON text of host.traits.<name>, NULL when there is no such trait (upstream's trait_value). Free it. */
static inline char *si_trait_value(const char *name) { return si__host_value("traits", name); }

/* The JSON text of the whole host.paths object, "{}" when the host sent none (upstream's paths()). Free it. */
static inline char *si_paths(void) {
    if (si_has("/host/paths")) return si_get("/host/paths");
    return strdup("{}");
}

/* The JSON text of host.paths.<name>, NULL when absent (upstream's path_value). Free it. */
static inline char *si_path_value(const char *name) { return si__host_value("paths", name); }

/* ---- PackageKit (upstream's api.packagekit_* helpers) ----------------------------------
 * Each returns the host's JSON answer as a malloc'd string (an object, the packages' array, or
 * {"error": "..."} when PackageKit refused or failed), NULL when the call itself was rejected. */

/* 1 when the host can reach PackageKit's system bus. */
static inline int si_pk_available(void) { return si_api_packagekit_available() == 1; }

static inline int32_t si__pk_status_call(const char *a, int32_t l, char *out, int32_t cap) {
    (void)a; (void)l;
    return si_api_packagekit_status(out, cap);
}

static inline int32_t si__pk_packages_call(const char *a, int32_t l, char *out, int32_t cap) {
    (void)a; (void)l;
    return si_api_packagekit_packages(out, cap);
}

/* The daemon's status: {"available", "backend_name", "daemon_state", ...}. */
static inline char *si_pk_status(void) { return si__grow(si__pk_status_call, NULL, 0); }

/* The installed packages: [{"info", "package_id", "name", "version", "arch", "data", "summary"}, ...].
 * The list is long (about 200 bytes a package) and each retry asks the daemon again: start at 1 MiB. */
static inline char *si_pk_packages(void) { return si__grow_from(1 << 20, si__pk_packages_call, NULL, 0); }

/* {"names": [...], "count": count} (count < 0: left out, the host's default 10). Free it. */
static inline char *si__pk_request(const char *const *names, int count) {
    size_t need = 40;
    for (const char *const *n = names; n && *n; n++) need += strlen(*n) * 6 + 4;
    char *req = (char *)malloc(need);
    if (!req) return NULL;
    FILE *f = fmemopen(req, need, "w");
    if (!f) { free(req); return NULL; }
    fputs("{\"names\":[", f);
    for (const char *const *n = names; n && *n; n++) {
        if (n != names) fputc(',', f);
        si_json_string(f, *n);
    }
    fputc(']', f);
    if (count >= 0) fprintf(f, ",\"count\":%d", count);
    fputc('}', f);
    fclose(f);
    return req;
}

/* PackageKit's history of the named packages (NULL-terminated), at most count entries each. */
static inline char *si_pk_history(const char *const *names, int count) {
    char *req = si__pk_request(names, count);
    char *answer = req ? si__grow(si_api_packagekit_history, req, (int32_t)strlen(req)) : NULL;
    free(req);
    return answer;
}

/* One call, never repeated with a larger buffer: a change must not run twice. */
static inline char *si__pk_change(int32_t (*call)(const char *, int32_t, char *, int32_t), const char *const *names) {
    char *req = si__pk_request(names, -1);
    if (!req) return NULL;
    int32_t cap = 1 << 20;
    char *out = (char *)malloc((size_t)cap + 1);
    int32_t n = out ? call(req, (int32_t)strlen(req), out, cap) : -1;
    free(req);
    if (n < 0) { free(out); return NULL; }
    out[n] = 0;
    return out;
}

/* Install / remove / upgrade the named packages (NULL-terminated; an empty list is refused by the host):
 * {"action", "requested", "package_ids", "changed"} or {"error": ...}. */
static inline char *si_pk_install(const char *const *names) { return si__pk_change(si_api_packagekit_install, names); }
static inline char *si_pk_remove(const char *const *names) { return si__pk_change(si_api_packagekit_remove, names); }
static inline char *si_pk_upgrade(const char *const *names) { return si__pk_change(si_api_packagekit_upgrade, names); }

#endif /* SYSINSPECT_H */

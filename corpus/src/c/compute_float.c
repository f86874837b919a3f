/* compute-float-c: floating-point edge cases, reported as decimal text and
 * exact bit patterns: rounding (ties-to-even rint vs half-away round),
 * signed zeros, infinities, subnormals, f32 precision, saturating and
 * truncating conversions, and NaN behaviour. Arithmetic NaN results are
 * reported only as "nan" (their sign and payload are not specified by Wasm);
 * sign operations on a NaN constant (neg, abs, copysign) are exact bit ops and
 * reported with their bits. */
#include <float.h>
#include <math.h>
#include "sysinspect.h"

static int first = 1;

static void sep(void) {
    fputs(first ? "" : ",", stdout);
    first = 0;
}

static uint64_t bits64(double x) {
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static double from_bits64(uint64_t b) {
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

static uint32_t bits32(float x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static void f64(const char *name, double x) {
    sep();
    if (isnan(x)) printf("\"%s\":\"nan\"", name);
    else printf("\"%s\":[\"%.17g\",\"%016llx\"]", name, x, (unsigned long long)bits64(x));
}

static void f64bits(const char *name, double x) {
    sep();
    printf("\"%s\":\"%016llx\"", name, (unsigned long long)bits64(x));
}

static void f32(const char *name, float x) {
    sep();
    if (isnan(x)) printf("\"%s\":\"nan\"", name);
    else printf("\"%s\":[\"%.9g\",\"%08x\"]", name, (double)x, (unsigned)bits32(x));
}

static void boolean(const char *name, int b) {
    sep();
    printf("\"%s\":%s", name, b ? "true" : "false");
}

static void integer(const char *name, long long v) {
    sep();
    printf("\"%s\":%lld", name, v);
}

int main(void) {
    free(si_read_header());
    /* volatile inputs keep the compiler from folding everything at build time */
    volatile double zero = 0.0, one = 1.0, two = 2.0, three = 3.0, ten = 10.0, tenth = 0.1, fifth = 0.2;
    volatile double half = 0.5, h25 = 2.5, h35 = 3.5, big = 1e308, m17 = -1.7, m15 = -1.5;
    volatile double inf = INFINITY, e10 = 1e10;
    volatile double qnan = from_bits64(0x7ff8000000000001ull);
    volatile float f_tenth = 0.1f, f_big = 16777216.0f, f_one = 1.0f;
    volatile long long odd = 9007199254740993LL;
    volatile int i_odd = 16777217;

    fputc('{', stdout);
    f64("add_0.1_0.2", tenth + fifth);
    f64("div_1_3", one / three);
    f64("sqrt_2", sqrt(two));
    f64("fma_0.1_10_-1", fma(tenth, ten, -one));
    f64("mul_0.1_10_-1", tenth * ten - one);
    f64("rint_2.5", rint(h25));
    f64("rint_3.5", rint(h35));
    f64("rint_-2.5", rint(-h25));
    f64("rint_-0.5", rint(-half));
    f64("round_2.5", round(h25));
    f64("round_-2.5", round(-h25));
    f64("trunc_-1.7", trunc(m17));
    f64("trunc_-0.5", trunc(-half));
    f64("floor_-1.5", floor(m15));
    f64("ceil_-0.5", ceil(-half));
    f64("neg_zero", -zero);
    f64("div_1_-0", one / -zero);
    f64("overflow_1e308_x10", big * ten);
    f64("subnormal_min_half", DBL_MIN / two);
    f64("min_-0_+0", __builtin_wasm_min_f64(-zero, zero));
    f64("max_-0_+0", __builtin_wasm_max_f64(-zero, zero));
    f64("min_+0_-0", __builtin_wasm_min_f64(zero, -zero));
    f64("max_+0_-0", __builtin_wasm_max_f64(zero, -zero));
    f64("min_nan_1", __builtin_wasm_min_f64(qnan, one));
    f64("inf_minus_inf", inf - inf);
    f64("zero_div_zero", zero / zero);
    f64("i64_to_f64_2^53+1", (double)odd);
    f32("f32_0.1", f_tenth);
    f32("f32_2^24_plus_1", f_big + f_one);
    f32("i32_to_f32_2^24+1", (float)i_odd);
    f32("f32_ceil_-0.5", ceilf(-(float)half));
    f64bits("nan_const", qnan);
    f64bits("neg_nan", -qnan);
    f64bits("abs_neg_nan", fabs(-qnan));
    f64bits("copysign_nan_-1", copysign(qnan, -one));
    boolean("nan_eq_nan", qnan == qnan);
    boolean("nan_ne_nan", qnan != qnan);
    boolean("nan_lt_1", qnan < one);
    boolean("neg_zero_eq_zero", -zero == zero);
    integer("trunc_i32_2.9", (int)(h25 + 0.4));
    integer("trunc_i32_-2.9", (int)(-h25 - 0.4));
    integer("sat_i32_1e10", __builtin_wasm_trunc_saturate_s_i32_f64(e10));
    integer("sat_i32_-1e10", __builtin_wasm_trunc_saturate_s_i32_f64(-e10));
    integer("sat_i32_nan", __builtin_wasm_trunc_saturate_s_i32_f64(qnan));
    integer("sat_u32_-1", (long long)__builtin_wasm_trunc_saturate_u_i32_f64(-one));
    puts("}");
    return 0;
}

/* test_cpu_pool: the thread pool of the cpu artifacts (plugins/cpu/runtime/mofrt.c).
 *
 * Every parallel loop must cover [0, n) exactly once, hand each chunk a thread index
 * in [0, pool size) that no other running chunk holds, and return only when all
 * chunks are done. Checked with back-to-back loops (workers spinning), with pauses
 * longer than the spin (workers asleep: the handshake that wakes them), with spinning
 * off (MOFRT_SPIN_US=0), with more threads than cores, and with loops shorter than
 * the pool. A lost wake-up hangs the test (Check's timeout fails it). */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "mofrt.h"

enum { MAX_N = 4096, MAX_THREADS = 8 };

typedef struct job {
    int hits[MAX_N];
    int busy[MAX_THREADS]; /* atomic: chunks running on each thread index */
    int bad_thread;        /* atomic */
    int64_t delay_every;   /* chunks starting at a multiple of this sleep a little */
} job;

static void nap(long ns)
{
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

static void task(void *ctx, int64_t begin, int64_t end, int thread)
{
    job *j = (job *)ctx;
    int64_t i;
    if (thread < 0 || thread >= MAX_THREADS
        || __atomic_add_fetch(&j->busy[thread], 1, __ATOMIC_SEQ_CST) != 1) {
        __atomic_store_n(&j->bad_thread, 1, __ATOMIC_SEQ_CST);
        return;
    }
    if (j->delay_every && begin % j->delay_every == 0)
        nap(20000);
    for (i = begin; i < end; i++)
        j->hits[i]++;
    __atomic_add_fetch(&j->busy[thread], -1, __ATOMIC_SEQ_CST);
}

/* loops parallel loops of sizes cycling through 1..MAX_N, pausing pause_ns between. */
static void run_loops(int threads, int loops, long pause_ns, int64_t delay_every)
{
    static job j;
    mofrt_pool *pool = mofrt_pool_create(threads);
    ck_assert_ptr_nonnull(pool);
    ck_assert_int_eq(mofrt_pool_size(pool), threads);
    for (int l = 0; l < loops; l++) {
        int64_t n = 1 + (int64_t)(((unsigned)l * 2654435761u) % MAX_N);
        if (l % 7 == 0)
            n = 1 + l % (threads + 1); /* fewer items than threads */
        memset(&j, 0, sizeof j);
        j.delay_every = delay_every;
        mofrt_parallel_for(pool, n, task, &j);
        if (j.bad_thread)
            ck_abort_msg("loop %d: a thread index was out of range or shared", l);
        /* (Check's asserts write to a pipe each: test first, assert on a failure.) */
        for (int64_t i = 0; i < MAX_N; i++)
            if (j.hits[i] != (i < n ? 1 : 0))
                ck_abort_msg("loop %d (n=%lld): item %lld ran %d times", l, (long long)n,
                             (long long)i, j.hits[i]);
        if (pause_ns)
            nap(pause_ns);
    }
    mofrt_pool_destroy(pool);
}

START_TEST(test_back_to_back)
{
    unsetenv("MOFRT_SPIN_US");
    run_loops(2, 3000, 0, 0);
    run_loops(3, 1000, 0, 0);
}
END_TEST

/* Pauses of 300 us against a spin of 50 us: the workers sleep before most loops. */
START_TEST(test_sleeping_workers)
{
    setenv("MOFRT_SPIN_US", "50", 1);
    run_loops(2, 400, 300000, 0);
    run_loops(4, 200, 300000, 0);
}
END_TEST

/* No spinning at all: every hand-over goes through the condition variables, and
 * slow chunks make the caller wait for its workers. */
START_TEST(test_no_spin)
{
    setenv("MOFRT_SPIN_US", "0", 1);
    run_loops(2, 1000, 0, 0);
    run_loops(2, 100, 0, 512);
    run_loops(MAX_THREADS, 300, 0, 256);
}
END_TEST

/* Spins of a microsecond: the waits end in either branch, at random. */
START_TEST(test_short_spin)
{
    setenv("MOFRT_SPIN_US", "1", 1);
    run_loops(2, 2000, 0, 1024);
    run_loops(MAX_THREADS, 500, 5000, 0);
}
END_TEST

START_TEST(test_create_destroy)
{
    unsetenv("MOFRT_SPIN_US");
    for (int i = 0; i < 200; i++) {
        mofrt_pool *pool = mofrt_pool_create(1 + i % 4);
        ck_assert_ptr_nonnull(pool);
        if (i % 2)
            run_loops(mofrt_pool_size(pool), 1, 0, 0);
        mofrt_pool_destroy(pool);
    }
    /* n <= 1: everything on the caller's thread. */
    mofrt_pool *one = mofrt_pool_create(0);
    ck_assert_ptr_nonnull(one);
    ck_assert_int_eq(mofrt_pool_size(one), 1);
    mofrt_pool_destroy(one);
    ck_assert_int_eq(mofrt_pool_size(NULL), 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cpu_pool");
    const struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"back_to_back", test_back_to_back}, {"sleeping_workers", test_sleeping_workers},
        {"no_spin", test_no_spin},           {"short_spin", test_short_spin},
        {"create_destroy", test_create_destroy},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].test);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

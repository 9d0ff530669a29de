/*
 * A small persistent thread pool.
 *
 * A job is posted by writing its fields and bumping `generation`, both under
 * `lock`; a worker that sees `generation` change reads the fields and the
 * generation again under `lock`, so it always gets one job whole (a slow
 * worker may skip a job, never run a mix of two).  Workers that finished a
 * job spin on `generation` for a short while (so back-to-back calls start
 * in about a microsecond) before they sleep on a condition variable; the
 * poster only signals when some worker sleeps.  The handshake uses sequentially consistent atomics on both
 * sides (a worker stores `sleeping` then loads `generation`; the poster
 * stores `generation` then loads `sleeping`), so at least one side sees the
 * other and no wake-up is lost.  Completion uses the same pattern with
 * `pending` and `waiting`.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "threads.h"


/* pause-loop iterations a worker waits for the next job before sleeping
   (about 0.1 to 0.3 ms) */
#define SPIN_JOB 4096
/* iterations the poster waits for the workers before sleeping */
#define SPIN_DONE (1 << 20)

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

static struct {
    pthread_mutex_t lock;       /* for the condition variables, start-up and config */
    pthread_cond_t work;        /* a new job was posted */
    pthread_cond_t done;        /* the last participant finished */
    pthread_mutex_t call;       /* held by the thread that runs a job */
    int configured;             /* threads to use, caller included */
    int started;                /* worker threads alive */
    atomic_ulong generation;    /* bumped for every job */
    atomic_int sleeping;        /* workers blocked on `work` */
    atomic_int pending;         /* participants not yet finished */
    atomic_int waiting;         /* the poster is blocked on `done` */
    /* the job: written before `generation` is bumped */
    int participants;
    sig_range_fn fn;
    void *ctx;
    ptrdiff_t n, chunk;
    atomic_ptrdiff_t next;
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
    .call = PTHREAD_MUTEX_INITIALIZER,
    .configured = 1,
};

/* the job generation current when worker i was created: the job that
   created it is the first it runs */
static unsigned long spawn_generation[SIG_MAX_THREADS];

static void run_chunks(sig_range_fn fn, void *ctx, ptrdiff_t n, ptrdiff_t chunk, int tid)
{
    for (;;) {
        ptrdiff_t b = atomic_fetch_add_explicit(&pool.next, chunk, memory_order_relaxed);
        if (b >= n) break;
        ptrdiff_t e = b + chunk < n ? b + chunk : n;
        fn(ctx, b, e, tid);
    }
}

static void wait_for_job(unsigned long seen)
{
    for (int i = 0; i < SPIN_JOB; i++) {
        if (atomic_load(&pool.generation) != seen) return;
        cpu_relax();
    }
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add(&pool.sleeping, 1);
    while (atomic_load(&pool.generation) == seen) pthread_cond_wait(&pool.work, &pool.lock);
    atomic_fetch_sub(&pool.sleeping, 1);
    pthread_mutex_unlock(&pool.lock);
}

static void *worker(void *arg)
{
    int index = (int)(intptr_t)arg;
    unsigned long seen = spawn_generation[index];
    for (;;) {
        wait_for_job(seen);
        pthread_mutex_lock(&pool.lock);
        seen = atomic_load(&pool.generation);
        int takes_part = index < pool.participants;
        sig_range_fn fn = pool.fn;
        void *ctx = pool.ctx;
        ptrdiff_t n = pool.n, chunk = pool.chunk;
        pthread_mutex_unlock(&pool.lock);
        if (!takes_part) continue;
        run_chunks(fn, ctx, n, chunk, index + 1);
        if (atomic_fetch_sub(&pool.pending, 1) == 1 && atomic_load(&pool.waiting)) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
    return NULL;
}

/* with pool.lock held */
static void start_workers(int wanted)
{
    while (pool.started < wanted) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 2 << 20);
        spawn_generation[pool.started] = atomic_load(&pool.generation);
        int rc = pthread_create(&t, &attr, worker, (void *)(intptr_t)pool.started);
        pthread_attr_destroy(&attr);
        if (rc != 0) break;  /* run with the threads we have */
        pool.started++;
    }
}

int sig_planned_threads(ptrdiff_t n, ptrdiff_t min_parallel, ptrdiff_t align)
{
    int threads = pool.configured;
    if (threads <= 1 || n < min_parallel || n < 2 * align) return 1;
    /* at least min_parallel/2 elements per thread */
    ptrdiff_t per = min_parallel / 2 > align ? min_parallel / 2 : align;
    if (n / per < threads) threads = (int)(n / per > 1 ? n / per : 1);
    return threads;
}

int sig_parallel_for(ptrdiff_t n, ptrdiff_t min_parallel, ptrdiff_t align, int max_threads,
                     sig_range_fn fn, void *ctx)
{
    int threads = sig_planned_threads(n, min_parallel, align);
    if (threads > max_threads) threads = max_threads;
    if (threads <= 1 || pthread_mutex_trylock(&pool.call) != 0) {  /* or the pool is busy */
        fn(ctx, 0, n, 0);
        return 1;
    }
    /* a few chunks per thread, so that a core slowed down by other work
       does not hold the others back */
    ptrdiff_t chunk = n / ((ptrdiff_t)threads * 4);
    chunk = (chunk + align - 1) / align * align;
    if (chunk < align) chunk = align;

    pthread_mutex_lock(&pool.lock);
    start_workers(threads - 1);
    int participants = threads - 1 < pool.started ? threads - 1 : pool.started;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.chunk = chunk;
    pool.participants = participants;
    atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
    atomic_store(&pool.pending, participants);
    atomic_fetch_add(&pool.generation, 1);
    if (atomic_load(&pool.sleeping) > 0) pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.lock);

    run_chunks(fn, ctx, n, chunk, 0);

    for (int i = 0; i < SPIN_DONE && atomic_load(&pool.pending) > 0; i++) cpu_relax();
    if (atomic_load(&pool.pending) > 0) {
        pthread_mutex_lock(&pool.lock);
        atomic_store(&pool.waiting, 1);
        while (atomic_load(&pool.pending) > 0) pthread_cond_wait(&pool.done, &pool.lock);
        atomic_store(&pool.waiting, 0);
        pthread_mutex_unlock(&pool.lock);
    }
    pthread_mutex_unlock(&pool.call);
    return participants + 1;
}

int sig_get_num_threads(void)
{
    pthread_mutex_lock(&pool.lock);
    int n = pool.configured;
    pthread_mutex_unlock(&pool.lock);
    return n;
}

int sig_set_num_threads(int n)
{
    if (n < 1 || n > SIG_MAX_THREADS) return -1;
    /* wait for a running job, so that it keeps a consistent configuration */
    pthread_mutex_lock(&pool.call);
    pthread_mutex_lock(&pool.lock);
    pool.configured = n;
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.call);
    return 0;
}

int sig_available_cores(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* A forked child has only the forking thread: forget the workers and reset
   the locks (the parent held `call` and `lock` across the fork, so no job is
   half-posted). */
static void before_fork(void)
{
    pthread_mutex_lock(&pool.call);
    pthread_mutex_lock(&pool.lock);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.call);
}

static void after_fork_child(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_mutex_init(&pool.call, NULL);
    pthread_cond_init(&pool.work, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.started = 0;
    pool.participants = 0;
    atomic_store(&pool.sleeping, 0);
    atomic_store(&pool.pending, 0);
    atomic_store(&pool.waiting, 0);
}

int sig_threads_init(void)
{
    return pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

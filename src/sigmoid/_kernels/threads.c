/*
 * A small persistent thread pool.
 *
 * Posting a job.  The caller writes the job's fields under `lock`, then
 * bumps `generation` (after unlocking, so that a spinning worker that sees
 * the bump finds the lock free).  A worker that sees `generation` change
 * reads the fields under `lock`, so it always gets one job whole.  Workers
 * that finished a job spin on `generation` for a short while (so that
 * back-to-back calls start in about a microsecond) before they sleep on a
 * condition variable; the caller only signals when some worker sleeps.  The
 * handshake uses sequentially consistent atomics on both sides (a worker
 * stores `sleeping` then loads `generation`; the caller stores `generation`
 * then loads `sleeping`), so at least one side sees the other and no
 * wake-up is lost.
 *
 * Not waiting for threads that are not running.  When other processes hold
 * the cores, a worker may get a core late or lose it in the middle of a
 * job, and it may share one core with the caller (the scheduler tends to
 * put a woken thread beside the thread that woke it, and may keep all the
 * threads of a process on one core while other processes hold the rest).
 * A call on several threads must then still take about as long as on one
 * (benchmarks/bench_threads.py measures it), so:
 *   - a job is cut into many small chunks, and each thread (the caller
 *     first) claims the next chunk only when it is about to run it: a worker
 *     that starts late finds less work, or none, and the caller does the
 *     rest;
 *   - the caller waits only for the workers that are inside the job (`busy`),
 *     never for one that has not started; every claim is preceded by the
 *     claimer's increment of `busy`, so once the caller has seen every chunk
 *     claimed, `busy` counts every thread that may still be running one (a
 *     worker that finds no chunk left does not enter `busy` at all);
 *   - `claim` holds the job's tag (the low 32 bits of its generation) beside
 *     the index of the next chunk, and a chunk is claimed by a
 *     compare-and-swap of the whole word, so a worker holding an old job's
 *     fields can never take a chunk of a newer job (that would need 2^32
 *     calls to pass between its reading the job and its claim);
 *   - a worker waiting for the next job gives its core away every couple of
 *     microseconds (sched_yield): if it shares the core with the caller, the
 *     caller runs instead of watching it spin;
 *   - the caller, when a worker is still running the last chunks, spins for
 *     a few of the smallest chunks' time and then sleeps, leaving its core
 *     to that worker if it was waiting for it.
 * Completion uses the same handshake as the start: a worker decrements
 * `busy` then loads `waiting`; the caller stores `waiting` then loads
 * `busy`.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "threads.h"


/* how long a worker waits for the next job before it sleeps */
#define SPIN_JOB_NS 20000
/* how long the caller waits for the workers' last chunks before it sleeps:
   a few of the smallest chunks (min_parallel/8 elements) */
#define SPIN_DONE_NS 20000
/* chunks per thread: a thread that loses its core holds at most one */
#define CHUNKS_PER_THREAD 16
/* pause instructions between two looks at the clock (a few microseconds) */
#define SPIN_BATCH 64

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

#define INDEX_MASK UINT64_C(0xffffffff)

static struct {
    pthread_mutex_t lock;       /* for the job, the condition variables, start-up and config */
    pthread_cond_t work;        /* a new job was posted */
    pthread_cond_t done;        /* the last busy worker finished */
    pthread_mutex_t call;       /* held by the thread that runs a job */
    int configured;             /* threads to use, caller included */
    int started;                /* worker threads alive */
    atomic_ulong generation;    /* bumped for every job */
    atomic_int sleeping;        /* workers blocked on `work` */
    atomic_int busy;            /* workers inside a job */
    atomic_int waiting;         /* the caller is blocked on `done` */
    _Atomic uint64_t claim;     /* (tag << 32) | index of the next chunk */
    /* the job: written under `lock` before `generation` is bumped */
    int participants;
    sig_range_fn fn;
    void *ctx;
    ptrdiff_t n, chunk;
    uint64_t nchunks, tag;
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

typedef struct {
    sig_range_fn fn;
    void *ctx;
    ptrdiff_t n, chunk;
    uint64_t nchunks, tag;
} job_t;

/* with pool.lock held */
static job_t current_job(void)
{
    job_t j = {pool.fn, pool.ctx, pool.n, pool.chunk, pool.nchunks, pool.tag};
    return j;
}

/* whether the claim word w leaves a chunk of job j to claim */
static int chunk_left(const job_t *j, uint64_t w)
{
    return w >> 32 == j->tag && (w & INDEX_MASK) < j->nchunks;
}

/* run the chunks of job j that nobody has claimed yet */
static void run_chunks(const job_t *j, int tid)
{
    uint64_t w = atomic_load(&pool.claim);
    for (;;) {
        if (!chunk_left(j, w)) return;
        if (!atomic_compare_exchange_weak(&pool.claim, &w, w + 1)) continue;  /* w reloaded */
        ptrdiff_t b = (ptrdiff_t)(w & INDEX_MASK) * j->chunk;
        ptrdiff_t e = j->n - b > j->chunk ? b + j->chunk : j->n;
        j->fn(j->ctx, b, e, tid);
        w = atomic_load(&pool.claim);
    }
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* one step of a wait: a pause, and every SPIN_BATCH steps (with `yield`, a
   sched_yield and) a look at the clock; 0 once `until` has passed */
static int spin_step(int i, int64_t until, int yield)
{
    cpu_relax();
    if (i % SPIN_BATCH) return 1;
    if (yield) sched_yield();
    return now_ns() < until;
}

static void wait_for_job(unsigned long seen)
{
    int64_t until = now_ns() + SPIN_JOB_NS;
    for (int i = 1; atomic_load(&pool.generation) == seen; i++)
        if (!spin_step(i, until, 1)) break;
    if (atomic_load(&pool.generation) != seen) return;
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
        job_t j = current_job();
        pthread_mutex_unlock(&pool.lock);
        /* a worker that comes too late stays out of `busy` */
        if (!takes_part || !chunk_left(&j, atomic_load(&pool.claim))) continue;
        atomic_fetch_add(&pool.busy, 1);
        run_chunks(&j, index + 1);
        if (atomic_fetch_sub(&pool.busy, 1) == 1 && atomic_load(&pool.waiting)) {
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
    /* CHUNKS_PER_THREAD chunks per thread, none below min_parallel/8
       elements (so that claiming one costs little beside running it) */
    ptrdiff_t chunk = n / ((ptrdiff_t)threads * CHUNKS_PER_THREAD);
    if (chunk < min_parallel / 8) chunk = min_parallel / 8;
    chunk = (chunk + align - 1) / align * align;
    if (chunk < align) chunk = align;

    pthread_mutex_lock(&pool.lock);
    start_workers(threads - 1);
    int participants = threads - 1 < pool.started ? threads - 1 : pool.started;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.chunk = chunk;
    pool.nchunks = (uint64_t)((n + chunk - 1) / chunk);
    pool.participants = participants;
    pool.tag = (atomic_load(&pool.generation) + 1) & INDEX_MASK;
    atomic_store(&pool.claim, pool.tag << 32);
    job_t j = current_job();
    pthread_mutex_unlock(&pool.lock);
    atomic_fetch_add(&pool.generation, 1);
    if (atomic_load(&pool.sleeping) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.work);
        pthread_mutex_unlock(&pool.lock);
    }

    run_chunks(&j, 0);

    /* every chunk is claimed: wait for the workers still running one */
    if (atomic_load(&pool.busy) > 0) {
        int64_t until = now_ns() + SPIN_DONE_NS;
        for (int i = 1; atomic_load(&pool.busy) > 0; i++)
            if (!spin_step(i, until, 0)) break;
    }
    if (atomic_load(&pool.busy) > 0) {
        pthread_mutex_lock(&pool.lock);
        atomic_store(&pool.waiting, 1);
        while (atomic_load(&pool.busy) > 0) pthread_cond_wait(&pool.done, &pool.lock);
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
    atomic_store(&pool.busy, 0);
    atomic_store(&pool.waiting, 0);
}

int sig_threads_init(void)
{
    return pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

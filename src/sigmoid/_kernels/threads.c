#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "threads.h"

#define SIG_MAX_THREADS 1024

static struct {
    pthread_mutex_t lock;       /* guards everything below but `next` */
    pthread_cond_t work;        /* a new job was posted */
    pthread_cond_t done;        /* the last worker of a job finished */
    pthread_mutex_t call;       /* held by the thread that runs a job */
    int configured;             /* threads to use, caller included */
    int started;                /* worker threads alive */
    unsigned long generation;   /* bumped for every job */
    int participants;           /* workers that take part in this job */
    int pending;                /* participants not yet finished */
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

static void run_chunks(sig_range_fn fn, void *ctx, ptrdiff_t n, ptrdiff_t chunk)
{
    for (;;) {
        ptrdiff_t b = atomic_fetch_add_explicit(&pool.next, chunk, memory_order_relaxed);
        if (b >= n) break;
        ptrdiff_t e = b + chunk < n ? b + chunk : n;
        fn(ctx, b, e);
    }
}

/* the job generation current when worker i was created: the job that
   created it is the first it runs */
static unsigned long spawn_generation[SIG_MAX_THREADS];

static void *worker(void *arg)
{
    int index = (int)(intptr_t)arg;
    pthread_mutex_lock(&pool.lock);
    unsigned long seen = spawn_generation[index];
    for (;;) {
        while (pool.generation == seen) pthread_cond_wait(&pool.work, &pool.lock);
        seen = pool.generation;
        if (index >= pool.participants) continue;
        sig_range_fn fn = pool.fn;
        void *ctx = pool.ctx;
        ptrdiff_t n = pool.n, chunk = pool.chunk;
        pthread_mutex_unlock(&pool.lock);
        run_chunks(fn, ctx, n, chunk);
        pthread_mutex_lock(&pool.lock);
        if (--pool.pending == 0) pthread_cond_signal(&pool.done);
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
        pthread_attr_setstacksize(&attr, 256 * 1024);
        spawn_generation[pool.started] = pool.generation;
        int rc = pthread_create(&t, &attr, worker, (void *)(intptr_t)pool.started);
        pthread_attr_destroy(&attr);
        if (rc != 0) break;  /* run with the threads we have */
        pool.started++;
    }
}

void sig_parallel_for(ptrdiff_t n, ptrdiff_t min_parallel, ptrdiff_t align,
                      sig_range_fn fn, void *ctx)
{
    int threads = pool.configured;
    if (threads <= 1 || n < min_parallel || n < 2 * align) {
        fn(ctx, 0, n);
        return;
    }
    if (pthread_mutex_trylock(&pool.call) != 0) {  /* pool busy: run here */
        fn(ctx, 0, n);
        return;
    }
    /* at least min_parallel/2 elements per thread, at most `threads` threads */
    ptrdiff_t max_useful = n / (min_parallel / 2 > align ? min_parallel / 2 : align);
    if (max_useful < threads) threads = (int)(max_useful > 1 ? max_useful : 1);
    /* several chunks per thread so that a slowed-down core does not hold the
       others back */
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
    atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
    pool.participants = participants;
    pool.pending = participants;
    pool.generation++;
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.lock);

    run_chunks(fn, ctx, n, chunk);

    pthread_mutex_lock(&pool.lock);
    while (pool.pending > 0) pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.call);
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
    pthread_mutex_lock(&pool.lock);
    pool.configured = n;
    pthread_mutex_unlock(&pool.lock);
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
    pool.pending = 0;
}

int sig_threads_init(void)
{
    return pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

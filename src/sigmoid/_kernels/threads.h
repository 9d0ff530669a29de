/*
 * A small persistent thread pool for long elementwise loops.  Callers that
 * find the pool busy (another Python thread is using it) run serially.
 */
#ifndef SIGMOID_THREADS_H
#define SIGMOID_THREADS_H

#include <stddef.h>

/* tid: 0 for the calling thread, 1..threads-1 for the workers; stable for
   the whole of one sig_parallel_for call */
typedef void (*sig_range_fn)(void *ctx, ptrdiff_t begin, ptrdiff_t end, int tid);

/* Run fn over [0, n) in chunks on up to sig_get_num_threads() threads (the
   caller included).  Chunks are multiples of `align` elements except the
   last, and (but for the last) at least min_parallel/8 elements.  Serial
   when n < min_parallel or when one thread is configured.  At most
   max_threads threads take part; returns how many could (every tid passed
   to fn is below it).  Each chunk runs once, on whichever thread claims it
   first: a worker that has not started when the caller runs out of chunks
   takes no part: the call waits only for the chunks that are running.
   When it returns, every chunk is finished and fn is not called again for
   this call (ctx may live on the caller's stack). */
int sig_parallel_for(ptrdiff_t n, ptrdiff_t min_parallel, ptrdiff_t align, int max_threads,
                     sig_range_fn fn, void *ctx);
/* the number of threads sig_parallel_for would use for n elements */
int sig_planned_threads(ptrdiff_t n, ptrdiff_t min_parallel, ptrdiff_t align);

#define SIG_MAX_THREADS 1024

int sig_get_num_threads(void);
/* n >= 1; returns 0, or -1 if n is out of range */
int sig_set_num_threads(int n);
/* cores available to this process (affinity mask), at least 1 */
int sig_available_cores(void);
/* set up locks and the fork handler; call once at import */
int sig_threads_init(void);

#endif

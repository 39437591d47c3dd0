/*
 * thr_many: many threads, thread-local storage, detached threads,
 * cancellation, and a process that outlives its main thread.
 *
 * - 1,000 threads created and joined one at a time, then 1,000 more in
 *   batches of 50 alive together. Each checks that its __thread variables
 *   start with their initial values (an initialised one and a .tbss one),
 *   sets them to its own index, yields, and checks them again; the return
 *   value carries the check. Within a batch the TLS addresses all differ.
 * - 20 detached threads report through a semaphore; joining one fails.
 * - pthread_cancel of a thread blocked in pthread_cond_wait: its cleanup
 *   handler runs with the mutex re-acquired, and join gives
 *   PTHREAD_CANCELED. Also a thread that disables cancellation first
 *   runs to completion.
 * - The main thread calls pthread_exit while a worker is still running;
 *   the worker prints last and the process exits with status 0 when it
 *   returns.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOTAL 1000
#define BATCH 50

static __thread long tls_init = 4242;
static __thread long tls_zero;
static __thread char tls_buf[256] = "tls initial";

static void sleep_ms(long ms)
{
	struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&d, &d) < 0 && errno == EINTR)
		;
}

struct slot {
	long index;
	uintptr_t tls_addr;
};

static void *tls_worker(void *arg)
{
	struct slot *s = arg;
	long ok = tls_init == 4242 && tls_zero == 0 && strcmp(tls_buf, "tls initial") == 0;
	tls_init = s->index;
	tls_zero = -s->index;
	snprintf(tls_buf, sizeof(tls_buf), "thread %ld", s->index);
	s->tls_addr = (uintptr_t)&tls_init;
	sched_yield();
	char want[64];
	snprintf(want, sizeof(want), "thread %ld", s->index);
	ok = ok && tls_init == s->index && tls_zero == -s->index && strcmp(tls_buf, want) == 0;
	return (void *)ok;
}

static void sequential(void)
{
	long good = 0, created = 0;
	static struct slot slot;
	for (long i = 0; i < TOTAL; i++) {
		pthread_t t;
		slot.index = i + 1;
		if (pthread_create(&t, NULL, tls_worker, &slot) != 0)
			break;
		created++;
		void *ret;
		pthread_join(t, &ret);
		good += (long)ret;
	}
	printf("one at a time: created %ld, joined with good TLS %ld\n", created, good);
}

static void batched(void)
{
	long good = 0, created = 0, batches_distinct = 0;
	static struct slot slots[BATCH];
	for (int b = 0; b < TOTAL / BATCH; b++) {
		pthread_t t[BATCH];
		int n = 0;
		for (int i = 0; i < BATCH; i++) {
			slots[i].index = b * BATCH + i + 1;
			if (pthread_create(&t[i], NULL, tls_worker, &slots[i]) != 0)
				break;
			n++;
		}
		created += n;
		for (int i = 0; i < n; i++) {
			void *ret;
			pthread_join(t[i], &ret);
			good += (long)ret;
		}
		int distinct = 1;
		for (int i = 0; i < n; i++)
			for (int j = i + 1; j < n; j++)
				if (slots[i].tls_addr == slots[j].tls_addr)
					distinct = 0;
		batches_distinct += distinct;
	}
	printf("%d at a time: created %ld, good TLS %ld, batches with distinct TLS addresses "
	       "%ld of %d\n",
	       BATCH, created, good, batches_distinct, TOTAL / BATCH);
	printf("main thread's TLS untouched: %s\n",
	       tls_init == 4242 && strcmp(tls_buf, "tls initial") == 0 ? "yes" : "no");
}

static sem_t detached_done;
static volatile long detached_sum;

static void *detached_worker(void *arg)
{
	__sync_fetch_and_add(&detached_sum, (long)arg);
	sem_post(&detached_done);
	return NULL;
}

static void detached(void)
{
	sem_init(&detached_done, 0, 0);
	pthread_t last;
	for (long i = 1; i <= 20; i++) {
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		if (i % 2)
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_create(&last, &attr, detached_worker, (void *)i);
		if (i % 2 == 0)
			pthread_detach(last);
		pthread_attr_destroy(&attr);
	}
	for (int i = 0; i < 20; i++)
		sem_wait(&detached_done);
	printf("detached: 20 threads reported, sum %ld\n", detached_sum);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static volatile int waiting, cleanup_ran, cleanup_held_lock, finished_anyway;

static void cleanup(void *arg)
{
	cleanup_ran = 1;
	/* pthread_cond_wait re-acquires the mutex before cleanup handlers. */
	cleanup_held_lock = pthread_mutex_trylock(&lock) == EBUSY;
	pthread_mutex_unlock(&lock);
}

static void *cond_waiter(void *arg)
{
	pthread_mutex_lock(&lock);
	pthread_cleanup_push(cleanup, NULL);
	waiting = 1;
	for (;;)
		pthread_cond_wait(&cond, &lock);
	pthread_cleanup_pop(1);
	return NULL;
}

static void *uncancellable(void *arg)
{
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	waiting = 1;
	sleep_ms(100);
	finished_anyway = 1;
	return (void *)7;
}

static void cancellation(void)
{
	pthread_t t;
	pthread_create(&t, NULL, cond_waiter, NULL);
	for (;;) {
		pthread_mutex_lock(&lock);
		int w = waiting;
		pthread_mutex_unlock(&lock);
		if (w)
			break;
		sleep_ms(1);
	}
	/* The waiter is in pthread_cond_wait now: it released the mutex. */
	pthread_cancel(t);
	void *ret;
	pthread_join(t, &ret);
	printf("cancel in pthread_cond_wait: joined %s, cleanup ran %s, with the mutex held %s\n",
	       ret == PTHREAD_CANCELED ? "PTHREAD_CANCELED" : "other", cleanup_ran ? "yes" : "no",
	       cleanup_held_lock ? "yes" : "no");
	printf("  mutex free afterwards: %s\n", pthread_mutex_trylock(&lock) == 0 ? "yes" : "no");
	pthread_mutex_unlock(&lock);

	waiting = 0;
	pthread_create(&t, NULL, uncancellable, NULL);
	while (!waiting)
		sleep_ms(1);
	pthread_cancel(t);
	pthread_join(t, &ret);
	printf("cancel with cancellation disabled: returned %ld, finished %s\n", (long)ret,
	       finished_anyway ? "yes" : "no");
}

static void *last_one(void *arg)
{
	/* Runs on after main has called pthread_exit. */
	sleep_ms(100);
	printf("last thread: main thread gone, finishing (process exits 0 now)\n");
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	sequential();
	batched();
	detached();
	cancellation();
	pthread_t t;
	pthread_create(&t, NULL, last_one, NULL);
	printf("main thread: pthread_exit\n");
	pthread_exit(NULL);
}

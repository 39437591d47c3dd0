/*
 * Futex words in private memory stay the same futex when the kernel moves the
 * memory behind them: a thread waits on a word in the brk heap, the main
 * thread grows the heap by a lot (the sentry may move the heap's pages in its
 * memory file), then wakes the word. Also a condition variable in the heap
 * used across the growth, and a word in a private file mapping.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static long futex(atomic_int *word, int op, int val)
{
	return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

struct waiter {
	atomic_int *word;
	int op;
	atomic_int ready;
	long result;
};

static void *wait_on(void *arg)
{
	struct waiter *w = arg;
	atomic_store(&w->ready, 1);
	while (atomic_load(w->word) == 0) {
		long r = futex(w->word, w->op, 0);
		if (r != 0 && errno != EAGAIN && errno != EINTR) {
			w->result = -errno;
			return NULL;
		}
	}
	w->result = atomic_load(w->word);
	return NULL;
}

/* Waits until the waiter has started, then gives it time to sleep. */
static void until_sleeping(struct waiter *w)
{
	while (!atomic_load(&w->ready))
		usleep(1000);
	usleep(50000);
}

static void grow_heap(void)
{
	/* Grow the heap well past any slack, touching every page. */
	char *p = sbrk(64 << 20);
	if (p == (void *)-1) {
		printf("sbrk failed\n");
		exit(1);
	}
	memset(p, 1, 64 << 20);
}

static void run(const char *what, atomic_int *word, int op, void (*between)(void))
{
	struct waiter w = {.word = word, .op = op};
	pthread_t t;
	atomic_store(word, 0);
	pthread_create(&t, NULL, wait_on, &w);
	until_sleeping(&w);
	between();
	atomic_store(word, 7);
	long woken = futex(word, op == FUTEX_WAIT_PRIVATE ? FUTEX_WAKE_PRIVATE : FUTEX_WAKE, 1);
	pthread_join(t, NULL);
	printf("%s: wake woke %ld, waiter saw %ld\n", what, woken, w.result);
}

static pthread_mutex_t *lock;
static pthread_cond_t *cond;
static int *flag;

static void *cond_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(lock);
	while (!*flag)
		pthread_cond_wait(cond, lock);
	pthread_mutex_unlock(lock);
	return NULL;
}

static void nothing(void) {}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	atomic_int *heap_word = malloc(sizeof *heap_word);
	run("private futex in the heap, heap grown", heap_word, FUTEX_WAIT_PRIVATE, grow_heap);
	run("shared futex op in the heap, heap grown", heap_word, FUTEX_WAIT, grow_heap);

	lock = malloc(sizeof *lock);
	cond = malloc(sizeof *cond);
	flag = malloc(sizeof *flag);
	pthread_mutex_init(lock, NULL);
	pthread_cond_init(cond, NULL);
	*flag = 0;
	pthread_t threads[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&threads[i], NULL, cond_waiter, NULL);
	usleep(100000);
	grow_heap();
	pthread_mutex_lock(lock);
	*flag = 1;
	pthread_cond_broadcast(cond);
	pthread_mutex_unlock(lock);
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
	printf("condvar in the heap across growth: all 4 waiters returned\n");

	/* A word in a private, writable mapping of a file (the page starts as the
	 * file's and becomes private when written). */
	char path[] = "/tmp/thr_futex_moved.XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	if (fd < 0 || ftruncate(fd, 4096) != 0) {
		printf("temp file failed\n");
		return 1;
	}
	atomic_int *file_word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	run("futex in a private file mapping", file_word, FUTEX_WAIT, nothing);
	return 0;
}

/*
 * futex_waitv: waiting on several futex words at once: which one woke the
 * waiter (a thread, and a process through MAP_SHARED memory), a value that
 * already differs (EAGAIN), absolute timeouts on both clocks, a signal
 * (EINTR), and the argument checks.
 */
#define _GNU_SOURCE
#include "check.h"
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif
#ifndef FUTEX2_PRIVATE
#define FUTEX2_PRIVATE 128
#endif

struct waitv {
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t reserved;
};

static uint32_t words[3];

static long waitv(struct waitv *w, unsigned n, unsigned flags, struct timespec *ts, int clock)
{
	return syscall(SYS_futex_waitv, w, n, flags, ts, clock);
}

static void fill(struct waitv *w, uint32_t *base, int n, uint32_t flags)
{
	for (int i = 0; i < n; i++)
		w[i] = (struct waitv){.val = base[i], .uaddr = (uintptr_t)&base[i], .flags = flags};
}

static void *waker(void *arg)
{
	(void)arg;
	sleep_ms(50);
	__atomic_store_n(&words[2], 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &words[2], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	return NULL;
}

static void threads(void)
{
	struct waitv w[3];
	fill(w, words, 3, FUTEX2_SIZE_U32 | FUTEX2_PRIVATE);
	pthread_t t;
	pthread_create(&t, NULL, waker, NULL);
	long r = waitv(w, 3, 0, NULL, 0);
	printf("woken by word %ld\n", r);
	CHECK("a thread's wake of the third word", r == 2);
	pthread_join(t, NULL);
	fill(w, words, 3, FUTEX2_SIZE_U32 | FUTEX2_PRIVATE);
	w[1].val = 7;
	CHECK_ERR("a word that differs: EAGAIN", waitv(w, 3, 0, NULL, 0), EAGAIN);
	fill(w, words, 3, FUTEX2_SIZE_U32 | FUTEX2_PRIVATE);
	struct timespec ts = deadline_in_ms(CLOCK_MONOTONIC, 50);
	CHECK_ERR("CLOCK_MONOTONIC deadline: ETIMEDOUT", waitv(w, 3, 0, &ts, CLOCK_MONOTONIC), ETIMEDOUT);
	ts = deadline_in_ms(CLOCK_REALTIME, 50);
	CHECK_ERR("CLOCK_REALTIME deadline: ETIMEDOUT", waitv(w, 3, 0, &ts, CLOCK_REALTIME), ETIMEDOUT);
	ts = deadline_in_ms(CLOCK_MONOTONIC, 50);
	CHECK_ERR("CLOCK_BOOTTIME: EINVAL", waitv(w, 3, 0, &ts, CLOCK_BOOTTIME), EINVAL);
	struct timespec bad = {0, 2000000000};
	CHECK_ERR("a malformed timeout: EINVAL", waitv(w, 3, 0, &bad, CLOCK_MONOTONIC), EINVAL);
}

static void checks_of_arguments(void)
{
	struct waitv w[3];
	fill(w, words, 3, FUTEX2_SIZE_U32 | FUTEX2_PRIVATE);
	struct timespec past = {0, 0};
	CHECK_ERR("flags: EINVAL", waitv(w, 3, 1, &past, CLOCK_MONOTONIC), EINVAL);
	CHECK_ERR("no words: EINVAL", waitv(w, 0, 0, &past, CLOCK_MONOTONIC), EINVAL);
	CHECK_ERR("129 words: EINVAL", waitv(w, 129, 0, &past, CLOCK_MONOTONIC), EINVAL);
	CHECK_ERR("a bad array: EFAULT", waitv((struct waitv *)8, 1, 0, &past, CLOCK_MONOTONIC), EFAULT);
	w[0].flags = FUTEX2_PRIVATE;
	CHECK_ERR("an 8-bit word: EINVAL", waitv(w, 3, 0, &past, CLOCK_MONOTONIC), EINVAL);
	fill(w, words, 3, FUTEX2_SIZE_U32);
	w[1].reserved = 1;
	CHECK_ERR("reserved bits: EINVAL", waitv(w, 3, 0, &past, CLOCK_MONOTONIC), EINVAL);
	fill(w, words, 3, FUTEX2_SIZE_U32);
	w[2].val = 1ull << 32;
	CHECK_ERR("a value past 32 bits: EINVAL", waitv(w, 3, 0, &past, CLOCK_MONOTONIC), EINVAL);
	fill(w, words, 3, FUTEX2_SIZE_U32);
	w[0].uaddr += 1;
	CHECK_ERR("an unaligned word: EINVAL", waitv(w, 3, 0, &past, CLOCK_MONOTONIC), EINVAL);
	fill(w, words, 3, FUTEX2_SIZE_U32);
	w[0].uaddr = 8;
	CHECK_ERR("an unmapped word: EFAULT", waitv(w, 3, 0, &past, CLOCK_MONOTONIC), EFAULT);
	fill(w, words, 3, FUTEX2_SIZE_U32);
	CHECK_ERR("a deadline already past: ETIMEDOUT", waitv(w, 3, 0, &past, CLOCK_MONOTONIC), ETIMEDOUT);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void processes(void)
{
	uint32_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid = xfork();
	if (pid == 0) {
		struct waitv w[2];
		fill(w, shared, 2, FUTEX2_SIZE_U32);
		struct timespec ts = deadline_in_ms(CLOCK_MONOTONIC, 5000);
		_exit((int)waitv(w, 2, 0, &ts, CLOCK_MONOTONIC));
	}
	sleep_ms(100);
	__atomic_store_n(&shared[1], 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &shared[1], FUTEX_WAKE, 1, NULL, NULL, 0);
	CHECK("another process's wake of a shared word", child_status(pid) == 1);
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	struct waitv w[2];
	shared[1] = 0;
	fill(w, shared, 2, FUTEX2_SIZE_U32);
	alarm(1);
	CHECK_ERR("a signal without SA_RESTART: EINTR", waitv(w, 2, 0, NULL, 0), EINTR);
	munmap(shared, 4096);
}

int main(void)
{
	threads();
	checks_of_arguments();
	processes();
	return summary();
}

/*
 * thr_futex_pingpong: raw futex ping-pong, between two processes and
 * between two threads.
 *
 * Processes: a MAP_SHARED anonymous page holds a turn word; parent and
 * forked child hand the turn back and forth 10,000 times with
 * syscall(SYS_futex, FUTEX_WAIT / FUTEX_WAKE) without FUTEX_PRIVATE_FLAG,
 * so the futex is keyed by the shared page, not by the address space.
 * Threads: the same with FUTEX_WAIT_PRIVATE / FUTEX_WAKE_PRIVATE.
 *
 * Each side counts its turns and checks that it always finds the value the
 * other side left, so a lost or spurious wake-up shows as a wrong count or a
 * hang (the test's timeout), never as a timing.
 *
 * Also checks the futex return values that do not depend on timing:
 * FUTEX_WAIT on a changed value fails with EAGAIN, FUTEX_WAIT with a timeout
 * and no waker fails with ETIMEDOUT, FUTEX_WAKE with no waiter returns 0.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 10000

struct shared {
	_Atomic int turn;	/* 0: side A plays, 1: side B plays, 2: done */
	_Atomic long hits[2];
	_Atomic long bad[2];
};

static long futex(_Atomic int *addr, int op, int val, const struct timespec *timeout)
{
	return syscall(SYS_futex, addr, op, val, timeout, NULL, 0);
}

/* Plays side `me` (0 or 1): waits for its turn, takes it, hands it over. */
static void play(struct shared *s, int me, int private_flag)
{
	int other = 1 - me;
	for (int i = 0; i < ROUNDS; i++) {
		int t;
		while ((t = atomic_load(&s->turn)) != me) {
			if (t != other)
				atomic_fetch_add(&s->bad[me], 1);
			long r = futex(&s->turn, FUTEX_WAIT | private_flag, other, NULL);
			if (r == -1 && errno != EAGAIN && errno != EINTR)
				atomic_fetch_add(&s->bad[me], 1);
		}
		atomic_fetch_add(&s->hits[me], 1);
		atomic_store(&s->turn, other);
		futex(&s->turn, FUTEX_WAKE | private_flag, 1, NULL);
	}
}

static void report(const char *what, struct shared *s)
{
	printf("%s: side A %ld turns, side B %ld turns, unexpected values %ld/%ld\n", what,
	       atomic_load(&s->hits[0]), atomic_load(&s->hits[1]), atomic_load(&s->bad[0]),
	       atomic_load(&s->bad[1]));
}

static void *thread_side(void *arg)
{
	play(arg, 1, FUTEX_PRIVATE_FLAG);
	return NULL;
}

static void edge_cases(_Atomic int *word, int private_flag, const char *what)
{
	atomic_store(word, 5);
	errno = 0;
	long r = futex(word, FUTEX_WAIT | private_flag, 4, NULL);
	printf("%s: wait on changed value: %ld %s\n", what, r, errno == EAGAIN ? "EAGAIN" : "other");
	struct timespec ts = {0, 20 * 1000 * 1000};
	errno = 0;
	r = futex(word, FUTEX_WAIT | private_flag, 5, &ts);
	printf("%s: wait with 20 ms timeout: %ld %s\n", what, r,
	       errno == ETIMEDOUT ? "ETIMEDOUT" : "other");
	r = futex(word, FUTEX_WAKE | private_flag, 1, NULL);
	printf("%s: wake with no waiter: %ld\n", what, r);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct shared *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				-1, 0);
	if (s == MAP_FAILED) {
		printf("mmap failed\n");
		return 1;
	}
	edge_cases(&s->turn, 0, "shared");
	atomic_store(&s->turn, 0);

	pid_t child = fork();
	if (child < 0) {
		printf("fork failed\n");
		return 1;
	}
	if (child == 0) {
		play(s, 1, 0);
		_exit(0);
	}
	play(s, 0, 0);
	int status;
	if (waitpid(child, &status, 0) != child) {
		printf("waitpid failed\n");
		return 1;
	}
	printf("child exit: %s %d\n", WIFEXITED(status) ? "exited" : "killed",
	       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	report("processes (shared futex)", s);
	int ok = s->hits[0] == ROUNDS && s->hits[1] == ROUNDS && !s->bad[0] && !s->bad[1];

	static struct shared t;
	edge_cases(&t.turn, FUTEX_PRIVATE_FLAG, "private");
	atomic_store(&t.turn, 0);
	pthread_t thread;
	if (pthread_create(&thread, NULL, thread_side, &t) != 0) {
		printf("pthread_create failed\n");
		return 1;
	}
	play(&t, 0, FUTEX_PRIVATE_FLAG);
	pthread_join(thread, NULL);
	report("threads (private futex)", &t);
	ok = ok && t.hits[0] == ROUNDS && t.hits[1] == ROUNDS && !t.bad[0] && !t.bad[1];
	return ok ? 0 : 1;
}

/*
 * thr_bench_pingpong: futex round trips between two threads, measured by
 * the guest.
 *
 * Usage: thr_bench_pingpong [ROUND_TRIPS]   (default 10000)
 *
 * Two threads hand a turn word back and forth with FUTEX_WAIT_PRIVATE /
 * FUTEX_WAKE_PRIVATE (raw syscalls, no spinning): one round trip is two
 * hand-overs, each a wake and, usually, a wait. After ROUND_TRIPS/10
 * warm-up round trips, ROUND_TRIPS are timed with CLOCK_MONOTONIC and one
 * line is printed: "round_trips_per_s N".
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic int turn;
static long rounds;

static void hand_over(int me)
{
	int other = 1 - me;
	while (atomic_load(&turn) != me)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, other, NULL, NULL, 0);
	atomic_store(&turn, other);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *partner(void *arg)
{
	for (long i = 0; i < rounds; i++)
		hand_over(1);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long timed = argc > 1 ? atol(argv[1]) : 10000;
	if (timed <= 0) {
		fprintf(stderr, "usage: thr_bench_pingpong [ROUND_TRIPS>0]\n");
		return 2;
	}
	long warmup = timed / 10;
	rounds = warmup + timed;
	pthread_t thread;
	if (pthread_create(&thread, NULL, partner, NULL) != 0) {
		fprintf(stderr, "pthread_create failed\n");
		return 1;
	}
	for (long i = 0; i < warmup; i++)
		hand_over(0);
	double start = now_s();
	for (long i = 0; i < timed; i++)
		hand_over(0);
	double elapsed = now_s() - start;
	pthread_join(thread, NULL);
	printf("round_trips_per_s %.0f\n", (double)timed / elapsed);
	return 0;
}

/*
 * thr_bench_spin: CPU-bound threads with no syscalls, for comparing the
 * wall time of N threads with that of one.
 *
 * Usage: thr_bench_spin THREADS [ITERATIONS]
 *
 * Each of THREADS threads runs the same xorshift loop of ITERATIONS steps
 * (the default is ~0.4 s of work on a current x86_64 core) and the main
 * thread checks that all of them reached the same value. The output does
 * not depend on THREADS: "checksum HEX", so a runner that skipped work
 * shows.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_THREADS 64

static long iterations = 240000000;

static void *spin(void *arg)
{
	uint64_t x = 88172645463325252ULL;
	for (long i = 0; i < iterations; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	*(uint64_t *)arg = x;
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 1;
	if (argc > 2)
		iterations = atol(argv[2]);
	if (threads < 1 || threads > MAX_THREADS || iterations <= 0) {
		fprintf(stderr, "usage: thr_bench_spin THREADS(1-%d) [ITERATIONS>0]\n", MAX_THREADS);
		return 2;
	}
	pthread_t tid[MAX_THREADS];
	uint64_t result[MAX_THREADS];
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tid[i], NULL, spin, &result[i]) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	for (int i = 1; i < threads; i++)
		if (result[i] != result[0]) {
			printf("threads disagree\n");
			return 1;
		}
	printf("checksum %016llx\n", (unsigned long long)result[0]);
	return 0;
}

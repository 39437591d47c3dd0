/*
 * esc_spin: a guest that never yields the CPU and never makes a syscall once
 * it is running, so only the sentry (timeout, signals, its own death) can end
 * it.
 *
 *   esc_spin N    starts N threads that spin in a pure user-space loop,
 *                 prints `spinning N` (flushed), and spins in the main
 *                 thread too; it never exits on its own
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static volatile unsigned long counter;

static void *spin(void *arg)
{
	for (;;)
		counter++;
	return arg;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 0;
	for (int i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, spin, NULL) != 0) {
			perror("pthread_create");
			return 2;
		}
	}
	printf("spinning %d\n", n);
	fflush(stdout);
	spin(NULL);
	return 0;
}

/*
 * bench_getppid: the per-syscall cost of a getppid loop, measured by the guest.
 *
 * Usage: bench_getppid [ITERATIONS]   (default 50000)
 *
 * Runs ITERATIONS/10 warm-up calls, then times ITERATIONS calls with
 * clock_gettime(CLOCK_MONOTONIC) (the vDSO, so the clock itself makes no
 * syscall) and prints one line: "ns_per_call N".
 *
 * After the timed loop the guest makes exactly two syscalls, write(1) and
 * exit_group, so that the bench's minimal PTRACE_SYSEMU tracer needs to emulate
 * nothing else: the line is formatted on the stack and written with write(2),
 * never through stdio (whose buffering would allocate and fstat).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? atol(argv[1]) : 50000;
	if (iterations <= 0) {
		fprintf(stderr, "usage: bench_getppid [ITERATIONS>0]\n");
		return 2;
	}

	for (long i = 0; i < iterations / 10; i++)
		getppid();

	double start = now_ns();
	for (long i = 0; i < iterations; i++)
		getppid();
	double elapsed = now_ns() - start;

	char line[64];
	int n = snprintf(line, sizeof(line), "ns_per_call %.1f\n", elapsed / (double)iterations);
	if (write(1, line, (size_t)n) != n)
		_exit(1);
	_exit(0);
}

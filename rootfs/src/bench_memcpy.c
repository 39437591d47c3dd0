/*
 * bench_memcpy: the memcpy throughput that bench_write_null is compared with.
 *
 * Usage: bench_memcpy [TOTAL_MIB] [CHUNK_KIB]   (default 256 MiB, 1024 KiB)
 *
 * Copies TOTAL_MIB between two CHUNK_KIB buffers, one chunk at a time, and
 * prints one line: "mib_per_s N". Both buffers are touched first; a compiler
 * barrier after each copy keeps the copies from being merged or dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	long total_mib = argc > 1 ? atol(argv[1]) : 256;
	long chunk = (argc > 2 ? atol(argv[2]) : 1024) * 1024;
	if (total_mib <= 0 || chunk <= 0) {
		fprintf(stderr, "usage: bench_memcpy [TOTAL_MIB>0] [CHUNK_KIB>0]\n");
		return 2;
	}

	char *src = malloc((size_t)chunk);
	char *dst = malloc((size_t)chunk);
	if (src == NULL || dst == NULL) {
		perror("malloc");
		return 1;
	}
	memset(src, 0x5a, (size_t)chunk);
	memset(dst, 0xa5, (size_t)chunk);

	long long remaining = (long long)total_mib << 20;
	double start = now_s();
	while (remaining > 0) {
		size_t len = remaining < chunk ? (size_t)remaining : (size_t)chunk;
		memcpy(dst, src, len);
		__asm__ volatile("" : : "r"(dst) : "memory");
		remaining -= (long long)len;
	}
	double elapsed = now_s() - start;

	printf("mib_per_s %.1f\n", (double)total_mib / elapsed);
	return 0;
}

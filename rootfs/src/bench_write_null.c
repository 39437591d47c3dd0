/*
 * bench_write_null: guest-to-kernel copy throughput.
 *
 * Usage: bench_write_null [TOTAL_MIB] [CHUNK_KIB]   (default 256 MiB, 1024 KiB)
 *
 * Writes TOTAL_MIB to /dev/null from one CHUNK_KIB buffer, written again and
 * again, and prints one line: "mib_per_s N". The buffer is touched first so
 * that page faults are not part of the measurement. Under sentry every write
 * is a copy out of guest memory; natively /dev/null copies nothing, so compare
 * with bench_memcpy (same total and chunk size), not with this run natively.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
		fprintf(stderr, "usage: bench_write_null [TOTAL_MIB>0] [CHUNK_KIB>0]\n");
		return 2;
	}

	char *buf = malloc((size_t)chunk);
	if (buf == NULL) {
		perror("malloc");
		return 1;
	}
	memset(buf, 0x5a, (size_t)chunk);

	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		perror("open /dev/null");
		return 1;
	}

	long long remaining = (long long)total_mib << 20;
	double start = now_s();
	while (remaining > 0) {
		size_t len = remaining < chunk ? (size_t)remaining : (size_t)chunk;
		ssize_t n = write(fd, buf, len);
		if (n <= 0) {
			perror("write /dev/null");
			return 1;
		}
		remaining -= n;
	}
	double elapsed = now_s() - start;

	printf("mib_per_s %.1f\n", (double)total_mib / elapsed);
	return 0;
}

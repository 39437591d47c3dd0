/*
 * big_anon: a 512 MiB anonymous private mapping touched page by page.
 *
 * Every page is checked to read as zero, then gets a value derived from its
 * index; a second pass reads the values back and folds them into a checksum.
 * The output (page count, mismatches, checksum) is address-independent.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE (512UL << 20)

static uint64_t value(uint64_t i)
{
	return i * 0x9e3779b97f4a7c15ULL ^ (i >> 3);
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t pages = SIZE / (uint64_t)pg, nonzero = 0, bad = 0, sum = 0;
	char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		printf("big_anon: mmap failed\n");
		return 1;
	}
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t *slot = (uint64_t *)(p + i * (uint64_t)pg + (i % 64) * 8);
		nonzero += *slot != 0;
		*slot = value(i);
	}
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t got = *(uint64_t *)(p + i * (uint64_t)pg + (i % 64) * 8);
		bad += got != value(i);
		sum = (sum * 0x100000001b3ULL) ^ got;
	}
	printf("big_anon: pages %llu\n", (unsigned long long)pages);
	printf("big_anon: initially nonzero %llu\n", (unsigned long long)nonzero);
	printf("big_anon: mismatches %llu\n", (unsigned long long)bad);
	printf("big_anon: checksum %016llx\n", (unsigned long long)sum);
	printf("big_anon: munmap %s\n", munmap(p, SIZE) == 0 ? "ok" : "FAIL");
	return nonzero || bad;
}

/*
 * vma_probe: builds an address space with many kinds of mappings, says
 * `ready`, and keeps it alive until stdin reaches EOF.
 *
 * The VMA dump test signals the sentry while the probe waits and compares
 * the dump with the stub's host /proc/PID/maps.  Mappings made: anonymous
 * rw / read-only / PROT_NONE guard, a file-backed MAP_PRIVATE view of the
 * probe's own binary (argv[0]) at an offset, MAP_SHARED anonymous memory,
 * a region split in three by mprotect, a region moved and grown by mremap,
 * and heap memory from brk.  Exits 0 after EOF, 1 if a mapping failed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char *map(size_t len, int prot, int flags, int fd, off_t off)
{
	char *p = mmap(NULL, len, prot, flags, fd, off);
	if (p == MAP_FAILED) {
		perror("vma_probe: mmap");
		exit(1);
	}
	return p;
}

int main(int argc, char **argv)
{
	long pg = sysconf(_SC_PAGESIZE);
	const int anon = MAP_PRIVATE | MAP_ANONYMOUS;

	char *rw = map(3 * pg, PROT_READ | PROT_WRITE, anon, -1, 0);
	memset(rw, 1, 3 * pg);
	map(2 * pg, PROT_READ, anon, -1, 0);
	map(4 * pg, PROT_NONE, anon, -1, 0);

	int fd = open(argv[0], O_RDONLY);
	if (fd < 0) {
		perror("vma_probe: open");
		return 1;
	}
	char *file = map(2 * pg, PROT_READ, MAP_PRIVATE, fd, pg);
	close(fd);
	if (file[0] == 42 && file[1] == 42)
		putchar('\0'); /* touch the pages; never true for an ELF file */

	char *shared = map(2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(shared, 2, 2 * pg);

	char *split = map(5 * pg, PROT_READ | PROT_WRITE, anon, -1, 0);
	memset(split, 3, 5 * pg);
	if (mprotect(split + 2 * pg, pg, PROT_READ)) {
		perror("vma_probe: mprotect");
		return 1;
	}

	char *moved = map(2 * pg, PROT_READ | PROT_WRITE, anon, -1, 0);
	memset(moved, 4, 2 * pg);
	moved = mremap(moved, 2 * pg, 6 * pg, MREMAP_MAYMOVE);
	if (moved == MAP_FAILED) {
		perror("vma_probe: mremap");
		return 1;
	}
	moved[5 * pg] = 5;

	char *heap = malloc(4000);
	memset(heap, 6, 4000);
	if (sbrk(0) == (void *)-1)
		return 1;

	printf("ready\n");
	fflush(stdout);
	char buf[256];
	while (read(0, buf, sizeof(buf)) > 0)
		;
	return 0;
}

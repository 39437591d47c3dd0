/*
 * segv_readonly: a store that the page protections forbid must kill the
 * process with SIGSEGV (a shell reports status 139).
 *
 * argv[1] picks the store: "ro" (default) writes to a PROT_READ anonymous
 * page, "null" writes to address 0, "text" writes to the program's own code.
 * The line printed before the store is flushed first, so the test also sees
 * that output written before the fault is not lost.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "ro";
	volatile char *target;

	if (strcmp(mode, "null") == 0) {
		target = NULL;
	} else if (strcmp(mode, "text") == 0) {
		target = (volatile char *)(void *)main;
	} else {
		target = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (target == MAP_FAILED) {
			printf("mmap failed\n");
			return 2;
		}
	}
	printf("segv_readonly %s: storing\n", mode);
	fflush(stdout);
	*target = 1;
	printf("segv_readonly %s: store did not fault\n", mode);
	return 1;
}

/*
 * mremap_dontunmap: MREMAP_DONTUNMAP moves a mapping's pages and leaves the
 * source mapped: private anonymous memory reads as zeros there, a private
 * file mapping re-reads the file, a shared mapping still shows the same
 * pages; its flag rules (MAYMOVE, equal sizes) and a range across mappings.
 */
#define _GNU_SOURCE
#include "check.h"
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096

static int all(const char *p, char c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

static void private_anon(void)
{
	char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 'a', 2 * PAGE);
	char *q = mremap(p, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	CHECK("moved", q != MAP_FAILED && q != p);
	CHECK("the pages went with it", q != MAP_FAILED && all(q, 'a', 2 * PAGE));
	CHECK("the source reads as zeros", all(p, 0, 2 * PAGE));
	p[0] = 'b';
	CHECK("and is writable, apart from the new place", p[0] == 'b' && q[0] == 'a');
	CHECK_ERR("without MREMAP_MAYMOVE: EINVAL", (long)mremap(q, PAGE, PAGE, MREMAP_DONTUNMAP, NULL), EINVAL);
	CHECK_ERR("an unaligned new address, even as a hint: EINVAL",
		  (long)mremap(q, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, (char *)q + 1), EINVAL);
	CHECK_ERR("resizing: EINVAL",
		  (long)mremap(q, PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL), EINVAL);
	char *target = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *r = mremap(q + PAGE, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, target);
	CHECK("MREMAP_FIXED over another mapping", r == target && all(r, 'a', PAGE) && all(q + PAGE, 0, PAGE));
	munmap(p, 2 * PAGE);
	munmap(q, 2 * PAGE);
	munmap(target, PAGE);
	char *a = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(a + PAGE, PAGE);
	CHECK_ERR("a range across two mappings is EFAULT",
		  (long)mremap(a, 3 * PAGE, 3 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL), EFAULT);
	munmap(a, 3 * PAGE);
}

static void shared_anon(void)
{
	char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(p, 's', PAGE);
	char *q = mremap(p, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	CHECK("shared: moved", q != MAP_FAILED && q != p && all(q, 's', PAGE));
	CHECK("shared: the source shows the same pages", all(p, 's', PAGE));
	p[5] = 'x';
	CHECK("shared: a store through one is seen through the other", q[5] == 'x');
	munmap(p, PAGE);
	munmap(q, PAGE);
}

static void private_file(const char *dir)
{
	char path[512];
	snprintf(path, sizeof path, "%s/dontunmap", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char page[PAGE];
	memset(page, 'f', PAGE);
	if (fd < 0 || write(fd, page, PAGE) != PAGE)
		exit(2);
	char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	memset(p, 'w', 100);
	char *q = mremap(p, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	CHECK("file: the private copy moved", q != MAP_FAILED && all(q, 'w', 100) && all(q + 100, 'f', PAGE - 100));
	CHECK("file: the source reads the file again", all(p, 'f', PAGE));
	munmap(p, PAGE);
	munmap(q, PAGE);
	close(fd);
	unlink(path);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	private_anon();
	shared_anon();
	private_file(argv[1]);
	return summary();
}

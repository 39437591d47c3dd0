/*
 * memfd_seals: file seals on memfds (F_ADD_SEALS, F_GET_SEALS) and what each
 * seal refuses: writes, shrinking, growing, writable shared mappings (EBUSY
 * while one exists for F_SEAL_WRITE, not for F_SEAL_FUTURE_WRITE), further
 * seals, exec permission bits; memfds made without MFD_ALLOW_SEALING and
 * files that are not memfds.
 */
#define _GNU_SOURCE
#include "check.h"
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

static char page[4096];

static int sealable(const char *name)
{
	int fd = memfd_create(name, MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (fd < 0 || write(fd, page, sizeof page) != sizeof page) {
		perror("memfd");
		exit(2);
	}
	return fd;
}

static void unsealable(void)
{
	int fd = memfd_create("plain", 0);
	CHECK("without MFD_ALLOW_SEALING: F_SEAL_SEAL", fcntl(fd, F_GET_SEALS) == F_SEAL_SEAL);
	CHECK_ERR("without MFD_ALLOW_SEALING: add is EPERM", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
	close(fd);
	fd = sealable("s");
	CHECK("with MFD_ALLOW_SEALING: none", fcntl(fd, F_GET_SEALS) == 0);
	CHECK_ERR("unknown seal bits are EINVAL", fcntl(fd, F_ADD_SEALS, 0x4000), EINVAL);
	close(fd);
	int p[2];
	if (pipe(p) != 0)
		exit(2);
	CHECK_ERR("F_GET_SEALS on a pipe is EINVAL", fcntl(p[0], F_GET_SEALS), EINVAL);
	CHECK_ERR("F_ADD_SEALS on a pipe is EINVAL", fcntl(p[1], F_ADD_SEALS, F_SEAL_WRITE), EINVAL);
	close(p[0]);
	close(p[1]);
	fd = open("/proc/self/exe", O_RDONLY);
	CHECK_ERR("F_GET_SEALS on a regular file is EINVAL", fcntl(fd, F_GET_SEALS), EINVAL);
	close(fd);
}

static void size_seals(void)
{
	int fd = sealable("size");
	CHECK("F_SEAL_SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
	CHECK_ERR("shrink is EPERM", ftruncate(fd, 100), EPERM);
	CHECK("grow is fine", ftruncate(fd, 8192) == 0);
	CHECK("F_SEAL_GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0);
	CHECK("both reported", fcntl(fd, F_GET_SEALS) == (F_SEAL_SHRINK | F_SEAL_GROW));
	CHECK_ERR("grow is EPERM", ftruncate(fd, 8193), EPERM);
	CHECK("same size is fine", ftruncate(fd, 8192) == 0);
	CHECK("pwrite inside is fine", pwrite(fd, "ab", 2, 8190) == 2);
	/* Linux writes page by page and stops at the first that would grow the file. */
	CHECK("pwrite across the end stops at it", pwrite(fd, "abc", 3, 8190) == 2);
	CHECK_ERR("pwrite at the end is EPERM", pwrite(fd, "abc", 3, 8192), EPERM);
	lseek(fd, 0, SEEK_END);
	CHECK_ERR("write at the end is EPERM", write(fd, "x", 1), EPERM);
	CHECK_ERR("fallocate past the end is EPERM", fallocate(fd, 0, 8000, 400), EPERM);
	CHECK("fallocate inside is fine", fallocate(fd, 0, 0, 4096) == 0);
	struct stat st;
	CHECK("size kept", fstat(fd, &st) == 0 && st.st_size == 8192);
	close(fd);
	fd = sealable("unaligned");
	static char big[2000];
	CHECK("5000 bytes, then F_SEAL_GROW",
	      ftruncate(fd, 5000) == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0);
	CHECK("pwrite across an unaligned end stops at the page before it",
	      pwrite(fd, big, sizeof big, 4000) == 96);
	CHECK_ERR("pwrite in the last page across the end is EPERM", pwrite(fd, big, 1000, 4500), EPERM);
	CHECK("pwrite inside the last page is fine", pwrite(fd, big, 500, 4500) == 500);
	close(fd);
}

static void write_seal(void)
{
	int fd = sealable("write");
	char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK("writable shared mapping", w != MAP_FAILED);
	CHECK_ERR("F_SEAL_WRITE while it exists is EBUSY", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
	CHECK("no seal added", fcntl(fd, F_GET_SEALS) == 0);
	munmap(w, 4096);
	char *r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK_ERR("a read-only shared mapping through a writable fd counts too",
		  fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
	munmap(r, 4096);
	CHECK("F_SEAL_WRITE with no shared mapping", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0);
	r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK("then a read-only shared mapping", r != MAP_FAILED);
	CHECK_ERR("cannot become writable", mprotect(r, 4096, PROT_READ | PROT_WRITE), EACCES);
	CHECK_ERR("write is EPERM", write(fd, "x", 1), EPERM);
	CHECK_ERR("pwrite is EPERM", pwrite(fd, "x", 1, 0), EPERM);
	CHECK_ERR("writable shared mmap is EPERM",
		  (long)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EPERM);
	char *priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK("writable private mmap is fine", priv != MAP_FAILED);
	if (priv != MAP_FAILED) {
		priv[0] = 'p';
		char c;
		CHECK("and does not reach the file", pread(fd, &c, 1, 0) == 1 && c == 0);
		munmap(priv, 4096);
	}
	CHECK("truncate to the same size is fine", ftruncate(fd, 4096) == 0);
	CHECK("read still works", pread(fd, page, 10, 0) == 10);
	munmap(r, 4096);
	close(fd);
}

static void future_write_seal(void)
{
	int fd = sealable("future");
	char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK("F_SEAL_FUTURE_WRITE with a writable mapping",
	      fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) == 0);
	CHECK_ERR("write is EPERM", write(fd, "x", 1), EPERM);
	CHECK_ERR("new writable shared mmap is EPERM",
		  (long)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EPERM);
	if (w != MAP_FAILED) {
		w[0] = 'w';
		char c;
		CHECK("the old mapping still writes the file", pread(fd, &c, 1, 0) == 1 && c == 'w');
		munmap(w, 4096);
	}
	close(fd);
}

static void seal_seal(void)
{
	int fd = sealable("seal");
	CHECK("F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) == 0);
	CHECK_ERR("then any seal is EPERM", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), EPERM);
	CHECK_ERR("even none", fcntl(fd, F_ADD_SEALS, 0), EPERM);
	pid_t pid = xfork();
	if (pid == 0)
		_exit(fcntl(fd, F_GET_SEALS) == F_SEAL_SEAL ? 0 : 1);
	CHECK("a child shares the seals", child_status(pid) == 0);
	close(fd);
	fd = sealable("dup");
	int d = dup(fd);
	fcntl(d, F_ADD_SEALS, F_SEAL_GROW);
	CHECK("a dup shares the seals", fcntl(fd, F_GET_SEALS) == F_SEAL_GROW);
	close(d);
	close(fd);
}

static void exec_seal(void)
{
	int fd = memfd_create("noexec", MFD_NOEXEC_SEAL);
	struct stat st;
	CHECK("MFD_NOEXEC_SEAL: F_SEAL_EXEC", fcntl(fd, F_GET_SEALS) == F_SEAL_EXEC);
	CHECK("and mode 0666", fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0666);
	CHECK_ERR("chmod +x is EPERM", fchmod(fd, 0755), EPERM);
	CHECK("chmod without x is fine", fchmod(fd, 0600) == 0);
	CHECK("more seals may follow", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0);
	close(fd);
	fd = memfd_create("exec", MFD_ALLOW_SEALING);
	CHECK("a plain memfd is mode 0777", fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0777);
	CHECK("F_SEAL_EXEC added", fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC) == 0);
	CHECK("to an executable file, it brings the write seals",
	      fcntl(fd, F_GET_SEALS) ==
		      (F_SEAL_EXEC | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE));
	CHECK_ERR("then chmod -x is EPERM", fchmod(fd, 0666), EPERM);
	CHECK_ERR("and writes are EPERM", write(fd, "x", 1), EPERM);
	close(fd);
}

int main(void)
{
	unsealable();
	size_seals();
	write_seal();
	future_write_seal();
	seal_seal();
	exec_seal();
	return summary();
}

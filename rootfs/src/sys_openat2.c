/*
 * sys_openat2: openat2's struct open_how (size versioning, flag, mode and
 * resolve checks) and its RESOLVE_* walks: no symlinks, no magic links, no
 * mount crossing, beneath the start, in a root; in a tree made in the scratch
 * directory argv[1] and on /proc and /dev.  Prints results and errno names.
 */
#include "sys_report.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#define RESOLVE_IN_ROOT 0x10
#define RESOLVE_CACHED 0x20

struct how {
	uint64_t flags, mode, resolve;
};

static struct stat target;

/* openat2 with `how`, reported as "ok" (and whether it opened the tree's file
 * d/f) or an errno name. */
static void try_open(const char *label, int dirfd, const char *path, uint64_t flags,
		     uint64_t mode, uint64_t resolve)
{
	struct how h = { flags, mode, resolve };
	errno = 0;
	long fd = syscall(SYS_openat2, dirfd, path, &h, sizeof h);
	if (fd < 0) {
		report(label, fd);
		return;
	}
	struct stat st;
	fstat(fd, &st);
	int same = st.st_ino == target.st_ino && st.st_dev == target.st_dev;
	printf("%s: ok%s%s\n", label, same ? " (d/f)" : "",
	       (fcntl(fd, F_GETFD) & FD_CLOEXEC) ? " cloexec" : "");
	close(fd);
}

static long raw_openat2(int dirfd, const char *path, void *how, size_t size)
{
	return syscall(SYS_openat2, dirfd, path, how, size);
}

int main(int argc, char **argv)
{
	report_start();
	if (argc < 2) {
		fprintf(stderr, "usage: sys_openat2 WORKDIR\n");
		return 2;
	}
	char d[512], path[700];
	snprintf(d, sizeof d, "%s/d", argv[1]);
	mkdir(d, 0755);
	snprintf(path, sizeof path, "%s/f", d);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	stat(path, &target);
	snprintf(path, sizeof path, "%s/sub", d);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/abs", d);
	char abs_target[600];
	snprintf(abs_target, sizeof abs_target, "%s/f", d);
	symlink(abs_target, path);
	snprintf(path, sizeof path, "%s/rel", d);
	symlink("f", path);
	snprintf(path, sizeof path, "%s/up", d);
	symlink("../d/f", path);
	snprintf(path, sizeof path, "%s/escape", d);
	symlink("../../../../../..", path);
	snprintf(path, sizeof path, "%s/subdir", d);
	symlink("sub", path);
	snprintf(path, sizeof path, "%s/loop", d);
	symlink("loop", path);
	int dir = open(d, O_PATH | O_DIRECTORY);
	int rootdir = open("/", O_PATH | O_DIRECTORY);
	int procdir = open("/proc", O_PATH | O_DIRECTORY);
	int file = open(abs_target, O_RDONLY);

	printf("-- struct open_how\n");
	char big[4200];
	memset(big, 0, sizeof big);
	R("size 0", raw_openat2(dir, "f", big, 0));
	R("size 23", raw_openat2(dir, "f", big, 23));
	R("size 24", (close(raw_openat2(dir, "f", big, 24)), 0));
	R("size 64, zero tail", (close(raw_openat2(dir, "f", big, 64)), 0));
	big[40] = 1;
	R("size 64, non-zero tail", raw_openat2(dir, "f", big, 64));
	big[40] = 0;
	R("size 4097", raw_openat2(dir, "f", big, 4097));
	R("size 4096, zero", (close(raw_openat2(dir, "f", big, 4096)), 0));
	R("a bad pointer", raw_openat2(dir, "f", (void *)8, 24));
	R("a bad path pointer", raw_openat2(dir, (char *)8, big, 24));
	try_open("flags beyond 32 bits", dir, "f", 1ULL << 40, 0, 0);
	try_open("an unknown flag bit", dir, "f", 1ULL << 30, 0, 0);
	try_open("an unknown resolve bit", dir, "f", O_RDONLY, 0, 0x40);
	try_open("RESOLVE_BENEATH|RESOLVE_IN_ROOT", dir, "f", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT);
	try_open("a mode without O_CREAT", dir, "f", O_RDONLY, 0644, 0);
	try_open("a mode beyond 07777", dir, "new1", O_CREAT | O_WRONLY, 010000, 0);
	try_open("O_CREAT with mode 0644", dir, "new1", O_CREAT | O_WRONLY, 0644, 0);
	try_open("O_PATH|O_RDWR", dir, "f", O_PATH | O_RDWR, 0, 0);
	try_open("O_PATH|O_NOFOLLOW|O_CLOEXEC", dir, "f", O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, 0);
	try_open("O_CREAT|O_DIRECTORY", dir, "new2", O_CREAT | O_DIRECTORY | O_RDWR, 0644, 0);
	try_open("O_TMPFILE read-only", dir, ".", O_TMPFILE | O_RDONLY, 0600, 0);
	try_open("RESOLVE_CACHED with O_CREAT", dir, "f", O_CREAT | O_RDWR, 0644, RESOLVE_CACHED);
	try_open("RESOLVE_CACHED with O_TRUNC", dir, "f", O_TRUNC | O_RDWR, 0, RESOLVE_CACHED);
	try_open("RESOLVE_CACHED", dir, "f", O_RDONLY, 0, RESOLVE_CACHED);
	try_open("plain, relative", dir, "f", O_RDONLY, 0, 0);
	try_open("plain, absolute, dirfd ignored", 999, abs_target, O_RDONLY, 0, 0);
	try_open("a bad dirfd", 999, "f", O_RDONLY, 0, 0);
	try_open("a file as dirfd", file, "f", O_RDONLY, 0, 0);
	try_open("a loop", dir, "loop", O_RDONLY, 0, 0);
	try_open("O_NOFOLLOW on a symlink", dir, "rel", O_RDONLY | O_NOFOLLOW, 0, 0);

	printf("-- RESOLVE_NO_SYMLINKS\n");
	try_open("a symlink", dir, "rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS);
	try_open("a symlink as the last step, O_PATH|O_NOFOLLOW", dir, "rel", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS);
	try_open("through a symlinked directory", dir, "subdir/.", O_RDONLY, 0, RESOLVE_NO_SYMLINKS);
	try_open("no symlink on the way", dir, "sub/../f", O_RDONLY, 0, RESOLVE_NO_SYMLINKS);
	try_open("/proc/self/status", AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_SYMLINKS);

	printf("-- RESOLVE_NO_MAGICLINKS\n");
	try_open("/proc/self/exe", AT_FDCWD, "/proc/self/exe", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS);
	try_open("/proc/self/exe, O_PATH|O_NOFOLLOW", AT_FDCWD, "/proc/self/exe", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_MAGICLINKS);
	try_open("/proc/self/cwd/.", AT_FDCWD, "/proc/self/cwd/.", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS);
	try_open("/proc/self/status (self is no magic link)", AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS);
	try_open("an ordinary symlink", dir, "rel", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS);
	snprintf(path, sizeof path, "/proc/self/fd/%d", file);
	try_open("/proc/self/fd/N", AT_FDCWD, path, O_RDONLY, 0, RESOLVE_NO_MAGICLINKS);
	try_open("/proc/self/fd/N without the flag", AT_FDCWD, path, O_RDONLY, 0, 0);

	printf("-- RESOLVE_NO_XDEV\n");
	try_open("dev/null from /", rootdir, "dev/null", O_RDONLY, 0, RESOLVE_NO_XDEV);
	try_open("proc/self/status from /", rootdir, "proc/self/status", O_RDONLY, 0, RESOLVE_NO_XDEV);
	try_open("/proc, absolute", AT_FDCWD, "/proc", O_PATH, 0, RESOLVE_NO_XDEV);
	try_open("self/status from /proc", procdir, "self/status", O_RDONLY, 0, RESOLVE_NO_XDEV);
	try_open(".. from /proc", procdir, "..", O_PATH, 0, RESOLVE_NO_XDEV);
	try_open("self/cwd/. from /proc", procdir, "self/cwd/.", O_PATH, 0, RESOLVE_NO_XDEV);
	try_open("inside the tree", dir, "sub/../rel", O_RDONLY, 0, RESOLVE_NO_XDEV);

	printf("-- RESOLVE_BENEATH\n");
	try_open("f", dir, "f", O_RDONLY, 0, RESOLVE_BENEATH);
	try_open("sub/../f", dir, "sub/../f", O_RDONLY, 0, RESOLVE_BENEATH);
	try_open("../d/f", dir, "../d/f", O_RDONLY, 0, RESOLVE_BENEATH);
	try_open("sub/../../d/f", dir, "sub/../../d/f", O_RDONLY, 0, RESOLVE_BENEATH);
	try_open("an absolute path", dir, abs_target, O_RDONLY, 0, RESOLVE_BENEATH);
	try_open("a relative symlink inside", dir, "rel", O_RDONLY, 0, RESOLVE_BENEATH);
	try_open("an absolute symlink", dir, "abs", O_RDONLY, 0, RESOLVE_BENEATH);
	try_open("a symlink up and back", dir, "up", O_RDONLY, 0, RESOLVE_BENEATH);
	try_open("a symlink far up", dir, "escape", O_RDONLY, 0, RESOLVE_BENEATH);
	try_open("from the cwd (/)", AT_FDCWD, "etc/passwd", O_RDONLY, 0, RESOLVE_BENEATH);
	try_open("a magic link", procdir, "self/exe", O_RDONLY, 0, RESOLVE_BENEATH);
	try_open("O_CREAT above", dir, "../new3", O_CREAT | O_WRONLY, 0644, RESOLVE_BENEATH);
	try_open("O_CREAT inside", dir, "sub/new4", O_CREAT | O_WRONLY, 0644, RESOLVE_BENEATH);

	printf("-- RESOLVE_IN_ROOT\n");
	try_open("/f", dir, "/f", O_RDONLY, 0, RESOLVE_IN_ROOT);
	try_open("../../f", dir, "../../f", O_RDONLY, 0, RESOLVE_IN_ROOT);
	try_open("a symlink far up stays at the root", dir, "escape/f", O_RDONLY, 0, RESOLVE_IN_ROOT);
	try_open("an absolute symlink resolves inside", dir, "abs", O_RDONLY, 0, RESOLVE_IN_ROOT);
	try_open("a symlink up and back", dir, "up", O_RDONLY, 0, RESOLVE_IN_ROOT);
	try_open("a magic link", procdir, "self/exe", O_RDONLY, 0, RESOLVE_IN_ROOT);
	try_open("an absolute path, bad dirfd", 999, "/f", O_RDONLY, 0, RESOLVE_IN_ROOT);
	try_open("O_CREAT of /new5", dir, "/new5", O_CREAT | O_WRONLY, 0600, RESOLVE_IN_ROOT);
	snprintf(path, sizeof path, "%s/new5", d);
	R("  d/new5 exists", access(path, F_OK));
	try_open("with RESOLVE_NO_SYMLINKS", dir, "/rel", O_RDONLY, 0, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
	return 0;
}

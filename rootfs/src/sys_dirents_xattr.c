/*
 * sys_dirents_xattr: getdents (the old linux_dirent layout) against
 * getdents64, and the extended attribute calls (get/set/list/remove in their
 * path, l and f forms) on a host file (in the scratch directory argv[1]) and
 * an in-memory one (/dev/shm).  Prints results and errno names only.
 */
#include "sys_report.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

struct old_dirent {
	unsigned long d_ino;
	unsigned long d_off;
	unsigned short d_reclen;
	char d_name[];
};

struct entry {
	char name[256];
	unsigned char type;
	unsigned long ino, off;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Reads a whole directory with getdents (old) or getdents64 into `out`. */
static int read_dir(const char *dir, int old, struct entry *out, int max, int bufsize)
{
	char buf[4096];
	int fd = open(dir, O_RDONLY | O_DIRECTORY), n = 0;
	long got;
	while ((got = syscall(old ? SYS_getdents : SYS_getdents64, fd, buf, bufsize)) > 0) {
		for (long at = 0; at < got && n < max;) {
			struct entry *e = &out[n++];
			if (old) {
				struct old_dirent *d = (void *)(buf + at);
				snprintf(e->name, sizeof e->name, "%s", d->d_name);
				e->type = buf[at + d->d_reclen - 1];
				e->ino = d->d_ino;
				e->off = d->d_off;
				at += d->d_reclen;
			} else {
				struct dirent64 *d = (void *)(buf + at);
				snprintf(e->name, sizeof e->name, "%s", d->d_name);
				e->type = d->d_type;
				e->ino = d->d_ino;
				e->off = d->d_off;
				at += d->d_reclen;
			}
		}
	}
	close(fd);
	return got < 0 ? -1 : n;
}

static void test_getdents(const char *work)
{
	char dir[512], path[600];
	snprintf(dir, sizeof dir, "%s/dir", work);
	mkdir(dir, 0755);
	const char *files[] = { "a", "bb", "a_rather_long_name_to_need_padding_x", "c" };
	for (unsigned i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		close(open(path, O_CREAT | O_WRONLY, 0644));
	}
	snprintf(path, sizeof path, "%s/sub", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/link", dir);
	symlink("a", path);
	snprintf(path, sizeof path, "%s/fifo", dir);
	mkfifo(path, 0644);

	struct entry old[32], new[32], small[32];
	int n_old = read_dir(dir, 1, old, 32, 4096);
	int n_new = read_dir(dir, 0, new, 32, 4096);
	int n_small = read_dir(dir, 1, small, 32, 64);
	printf("getdents entries: %d, getdents64 entries: %d, with a 64-byte buffer: %d\n",
	       n_old, n_new, n_small);
	int same = n_old == n_new;
	for (int i = 0; same && i < n_old; i++)
		same = !strcmp(old[i].name, new[i].name) && old[i].type == new[i].type &&
		       old[i].ino == new[i].ino && old[i].off == new[i].off;
	fact("getdents matches getdents64 (names, types, inodes, offsets)", same);
	same = n_small == n_old;
	for (int i = 0; same && i < n_old; i++)
		same = !strcmp(old[i].name, small[i].name);
	fact("a small buffer reads the same entries", same);
	qsort(old, n_old, sizeof *old, by_name);
	for (int i = 0; i < n_old; i++)
		printf("  %s type %d\n", old[i].name, old[i].type);

	char buf[4096];
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	R("getdents with a buffer smaller than one entry", syscall(SYS_getdents, fd, buf, 10));
	R("getdents with count 0", syscall(SYS_getdents, fd, buf, 0));
	R("getdents to a bad address", syscall(SYS_getdents, fd, (void *)8, 4096));
	long first = syscall(SYS_getdents, fd, buf, 4096);
	fact("getdents reads entries", first > 0);
	R("getdents at the end", syscall(SYS_getdents, fd, buf, 4096));
	struct old_dirent *d = (void *)buf;
	lseek(fd, d->d_off, SEEK_SET);
	long again = syscall(SYS_getdents, fd, buf, 4096);
	fact("seeking to the first d_off skips exactly the first entry", again == first - d->d_reclen);
	close(fd);
	R("getdents on a bad fd", syscall(SYS_getdents, 999, buf, 4096));
	snprintf(path, sizeof path, "%s/a", dir);
	fd = open(path, O_RDONLY);
	R("getdents on a file", syscall(SYS_getdents, fd, buf, 4096));
	close(fd);
	fd = open(dir, O_PATH);
	R("getdents on an O_PATH fd", syscall(SYS_getdents, fd, buf, 4096));
	close(fd);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints the names listxattr returns, sorted. */
static void print_list(const char *label, long n, const char *list)
{
	if (n < 0) {
		report(label, n);
		return;
	}
	const char *names[32];
	int count = 0;
	for (long at = 0; at < n && count < 32; at += strlen(list + at) + 1)
		names[count++] = list + at;
	qsort(names, count, sizeof *names, cmp_str);
	printf("%s: %ld bytes:", label, n);
	for (int i = 0; i < count; i++)
		printf(" %s", names[i]);
	printf("\n");
}

static void test_xattrs(const char *where, const char *dir)
{
	char file[600], link[600], sub[600], val[64], list[1024];
	static char big[65537];
	printf("-- xattrs in %s\n", where);
	snprintf(file, sizeof file, "%s/xattr-file-%d", dir, 7);
	snprintf(link, sizeof link, "%s/xattr-link-%d", dir, 7);
	snprintf(sub, sizeof sub, "%s/xattr-dir-%d", dir, 7);
	unlink(file);
	unlink(link);
	rmdir(sub);
	int fd = open(file, O_CREAT | O_RDWR, 0644);
	symlink(file, link);
	mkdir(sub, 0755);

	R("get of a missing attribute", getxattr(file, "user.a", val, sizeof val));
	R("set with XATTR_CREATE", setxattr(file, "user.a", "hello", 5, XATTR_CREATE));
	R("set with XATTR_CREATE again", setxattr(file, "user.a", "hello", 5, XATTR_CREATE));
	R("set of a missing one with XATTR_REPLACE", setxattr(file, "user.b", "x", 1, XATTR_REPLACE));
	R("replace with XATTR_REPLACE", setxattr(file, "user.a", "hello!", 6, XATTR_REPLACE));
	R("get with size 0", getxattr(file, "user.a", NULL, 0));
	R("get into a short buffer", getxattr(file, "user.a", val, 3));
	memset(val, 0, sizeof val);
	R("get", getxattr(file, "user.a", val, sizeof val));
	printf("value: %s\n", val);
	R("fset of an empty value", fsetxattr(fd, "user.empty", "", 0, 0));
	R("fget of the empty value", fgetxattr(fd, "user.empty", val, sizeof val));
	R("set through the symlink", setxattr(link, "user.via", "v", 1, 0));
	R("lget on the symlink", lgetxattr(link, "user.via", val, sizeof val));
	R("lset on a symlink", lsetxattr(link, "user.x", "1", 1, 0));
	R("trusted set (root)", setxattr(file, "trusted.t", "tt", 2, 0));
	R("list with size 0", listxattr(file, NULL, 0));
	print_list("list", listxattr(file, list, sizeof list), list);
	print_list("flist", flistxattr(fd, list, sizeof list), list);
	R("list into a short buffer", listxattr(file, list, 4));
	print_list("llist of the symlink", llistxattr(link, list, sizeof list), list);
	R("set on a directory", setxattr(sub, "user.d", "dir", 3, 0));
	print_list("list of the directory", listxattr(sub, list, sizeof list), list);
	R("remove", removexattr(file, "user.a"));
	R("remove again", removexattr(file, "user.a"));
	R("fremove", fremovexattr(fd, "user.empty"));
	R("lremove on the symlink", lremovexattr(link, "user.via"));
	R("remove through the symlink", removexattr(link, "user.via"));
	R("remove trusted", removexattr(file, "trusted.t"));
	R("remove on the directory", removexattr(sub, "user.d"));
	print_list("list after removals", listxattr(file, list, sizeof list), list);

	R("unknown namespace", setxattr(file, "foo.bar", "1", 1, 0));
	R("get in an unknown namespace", getxattr(file, "foo.bar", val, sizeof val));
	R("remove in an unknown namespace", removexattr(file, "foo.bar"));
	R("empty name after the prefix", setxattr(file, "user.", "1", 1, 0));
	R("empty name", setxattr(file, "", "1", 1, 0));
	R("remove with an empty name", removexattr(file, ""));
	char longname[300];
	memset(longname, 'n', sizeof longname);
	memcpy(longname, "user.", 5);
	longname[255] = 0;
	R("set with a 255-byte name", setxattr(file, longname, "1", 1, 0));
	R("remove with a 255-byte name", removexattr(file, longname));
	longname[255] = 'n';
	longname[256] = 0;
	R("set with a 256-byte name", setxattr(file, longname, "1", 1, 0));
	R("get with a 256-byte name", getxattr(file, longname, val, sizeof val));
	R("remove with a 256-byte name", removexattr(file, longname));
	R("set with a 64 KiB + 1 value", setxattr(file, "user.big", big, sizeof big, 0));
	R("set with bad flags", setxattr(file, "user.a", "1", 1, 4));
	R("set with a bad name pointer", setxattr(file, (char *)8, "1", 1, 0));
	R("set with a bad value pointer", syscall(SYS_setxattr, file, "user.a", (char *)8, 1, 0));
	R("get into a bad buffer", (setxattr(file, "user.a", "1", 1, 0), syscall(SYS_getxattr, file, "user.a", (char *)8, 10)));
	R("list into a bad buffer", syscall(SYS_listxattr, file, (char *)8, 100));
	R("remove on a missing file", removexattr("/nonexistent/x", "user.a"));
	R("lremove on a missing file", lremovexattr("/nonexistent/x", "user.a"));
	R("fremove on a bad fd", fremovexattr(999, "user.a"));
	R("fget on a bad fd", fgetxattr(999, "user.a", val, sizeof val));
	int p[2];
	pipe(p);
	R("fset on a pipe", fsetxattr(p[0], "user.a", "1", 1, 0));
	R("fget on a pipe", fgetxattr(p[0], "user.a", val, sizeof val));
	R("fremove on a pipe", fremovexattr(p[0], "user.a"));
	R("flist on a pipe", flistxattr(p[0], list, sizeof list));
	close(p[0]);
	close(p[1]);
	close(fd);
	unlink(link);
	unlink(file);
	rmdir(sub);
}

int main(int argc, char **argv)
{
	report_start();
	if (argc < 2) {
		fprintf(stderr, "usage: sys_dirents_xattr WORKDIR\n");
		return 2;
	}
	test_getdents(argv[1]);
	test_xattrs("the scratch directory", argv[1]);
	test_xattrs("/dev/shm", "/dev/shm");
	R("get on an overlay host file", getxattr("/etc/passwd", "user.none", NULL, 0));
	return 0;
}

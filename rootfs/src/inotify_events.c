/*
 * inotify_events: inotify in a scratch directory (argv[1], empty), compared
 * with a native run.  Each step performs file operations under watches and
 * prints the events read back: which watch (by label, never a raw wd), the
 * mask bits, the name, and rename cookies as pairs (#1, #2, ... in order of
 * appearance, never raw values).  Also: the inotify fd's flags and errors,
 * short reads, FIONREAD, poll/epoll readiness, a blocking read woken by a
 * child, IN_ONESHOT, IN_MASK_ADD/IN_MASK_CREATE, IN_EXCL_UNLINK, rm_watch and
 * the queue overflow.  With --existing, only watches on objects that exist
 * before the run (SCRATCH_DIR/f), which under sentry may be the overlay's.
 */
#include "sys_report.h"
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define BUF 65536

static int ifd;
static char buf[BUF] __attribute__((aligned(8)));

/* Labels of the watches, by wd. */
static struct {
	int wd;
	const char *label;
} labels[64];
static int nlabels;

/* Cookies seen so far, numbered in order of appearance. */
static uint32_t cookies[64];
static int ncookies;

static void label(int wd, const char *name)
{
	if (wd < 0) {
		printf("watch %s: %s\n", name, errname(errno));
		return;
	}
	for (int i = 0; i < nlabels; i++) {
		if (labels[i].wd == wd) {
			printf("watch %s: same wd as %s\n", name, labels[i].label);
			return;
		}
	}
	labels[nlabels].wd = wd;
	labels[nlabels++].label = name;
	printf("watch %s: new wd\n", name);
}

static const char *label_of(int wd)
{
	if (wd == -1)
		return "(none)";
	for (int i = nlabels - 1; i >= 0; i--)
		if (labels[i].wd == wd)
			return labels[i].label;
	return "(unknown)";
}

static int cookie_no(uint32_t c)
{
	for (int i = 0; i < ncookies; i++)
		if (cookies[i] == c)
			return i + 1;
	cookies[ncookies] = c;
	return ++ncookies;
}

static const struct {
	uint32_t bit;
	const char *name;
} bits[] = {
	{ IN_ACCESS, "ACCESS" },
	{ IN_MODIFY, "MODIFY" },
	{ IN_ATTRIB, "ATTRIB" },
	{ IN_CLOSE_WRITE, "CLOSE_WRITE" },
	{ IN_CLOSE_NOWRITE, "CLOSE_NOWRITE" },
	{ IN_OPEN, "OPEN" },
	{ IN_MOVED_FROM, "MOVED_FROM" },
	{ IN_MOVED_TO, "MOVED_TO" },
	{ IN_CREATE, "CREATE" },
	{ IN_DELETE, "DELETE" },
	{ IN_DELETE_SELF, "DELETE_SELF" },
	{ IN_MOVE_SELF, "MOVE_SELF" },
	{ IN_UNMOUNT, "UNMOUNT" },
	{ IN_Q_OVERFLOW, "Q_OVERFLOW" },
	{ IN_IGNORED, "IGNORED" },
	{ IN_ISDIR, "ISDIR" },
};

static void print_event(const struct inotify_event *e)
{
	printf("  %s", label_of(e->wd));
	const char *sep = " ";
	uint32_t left = e->mask;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if (left & bits[i].bit) {
			printf("%s%s", sep, bits[i].name);
			sep = "|";
			left &= ~bits[i].bit;
		}
	}
	if (left)
		printf("%s0x%x", sep, left);
	if (e->len)
		printf(" name=%s len=%u", e->name, e->len);
	if (e->cookie)
		printf(" cookie#%d", cookie_no(e->cookie));
	printf("\n");
}

/* Prints every event in buf[0..n). */
static void print_events(ssize_t n)
{
	for (ssize_t at = 0; at < n;) {
		const struct inotify_event *e = (const void *)(buf + at);
		print_event(e);
		at += sizeof(*e) + e->len;
	}
}

/* Reads and prints whatever is queued now, under a title. */
static void drain(const char *title)
{
	printf("%s:\n", title);
	for (;;) {
		struct pollfd p = { .fd = ifd, .events = POLLIN };
		if (poll(&p, 1, 0) != 1)
			break;
		ssize_t n = read(ifd, buf, sizeof(buf));
		if (n <= 0) {
			printf("  read: %s\n", n < 0 ? errname(errno) : "0");
			break;
		}
		print_events(n);
	}
}

/* dir/name (never freed: the program is short). */
static const char *at(const char *dir, const char *name)
{
	char *p;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		exit(2);
	return p;
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0 || write(fd, data, strlen(data)) < 0)
		printf("write %s: %s\n", path, errname(errno));
	if (fd >= 0)
		close(fd);
}

static void read_file(const char *path)
{
	char tmp[64];
	int fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, tmp, sizeof(tmp)) < 0)
		printf("read %s: %s\n", path, errname(errno));
	if (fd >= 0)
		close(fd);
}

static int watch(const char *path, uint32_t mask)
{
	return inotify_add_watch(ifd, path, mask);
}

static void instance_and_errors(const char *dir)
{
	const char *file = at(dir, "f");
	write_file(file, "x");
	R("init1 bad flags", inotify_init1(IN_NONBLOCK << 1));
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	fact("init1 ok", fd >= 0);
	fact("cloexec", fcntl(fd, F_GETFD) == FD_CLOEXEC);
	fact("nonblock", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	fact("access mode rdonly", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
	R("read empty nonblocking", read(fd, buf, sizeof(buf)));
	int avail = -1;
	R("FIONREAD empty", ioctl(fd, FIONREAD, &avail));
	printf("FIONREAD empty value: %d\n", avail);
	char link[64], target[64] = "";
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n > 0)
		target[n] = 0;
	printf("fd link: %s\n", target);
	R("write", write(fd, "x", 1));
	R("lseek", lseek(fd, 0, SEEK_SET));

	int plain = inotify_init();
	fact("init ok", plain >= 0);
	fact("init blocking", (fcntl(plain, F_GETFL) & O_NONBLOCK) == 0);
	fact("init no cloexec", fcntl(plain, F_GETFD) == 0);
	close(plain);

	R("add bad fd", inotify_add_watch(-1, file, IN_ALL_EVENTS));
	R("add closed fd", inotify_add_watch(plain, file, IN_ALL_EVENTS));
	int devnull = open("/dev/null", O_RDONLY);
	R("add not inotify", inotify_add_watch(devnull, file, IN_ALL_EVENTS));
	R("rm not inotify", inotify_rm_watch(devnull, 1));
	close(devnull);
	R("rm bad fd", inotify_rm_watch(-1, 1));
	R("add mask 0", inotify_add_watch(fd, file, 0));
	R("add unknown bit", inotify_add_watch(fd, file, IN_MODIFY | 0x10000));
	R("add unknown bit only", inotify_add_watch(-1, file, 0x10000));
	R("add add+create", inotify_add_watch(fd, file, IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE));
	R("add missing", inotify_add_watch(fd, at(dir, "missing"), IN_MODIFY));
	R("add empty path", inotify_add_watch(fd, "", IN_MODIFY));
	R("add missing parent", inotify_add_watch(fd, at(dir, "no/such"), IN_MODIFY));
	R("add onlydir on file", inotify_add_watch(fd, file, IN_MODIFY | IN_ONLYDIR));
	R("add file as dir", inotify_add_watch(fd, at(dir, "f/"), IN_MODIFY));
	int wd = inotify_add_watch(fd, file, IN_MODIFY);
	fact("add file", wd >= 1);
	R("add again with MASK_CREATE", inotify_add_watch(fd, file, IN_MODIFY | IN_MASK_CREATE));
	fact("add again same wd", inotify_add_watch(fd, file, IN_ATTRIB) == wd);
	fact("add onlydir on dir", inotify_add_watch(fd, dir, IN_MODIFY | IN_ONLYDIR) > wd);
	fact("flag-only mask accepted", inotify_add_watch(fd, dir, IN_ONLYDIR) > wd);
	R("rm unknown wd", inotify_rm_watch(fd, wd + 100));
	R("rm negative wd", inotify_rm_watch(fd, -1));
	R("rm", inotify_rm_watch(fd, wd));
	R("rm again", inotify_rm_watch(fd, wd));
	int wd2 = inotify_add_watch(fd, file, IN_MODIFY);
	fact("wd not reused at once", wd2 > wd);
	/* The rm_watch's IN_IGNORED is queued: a 16-byte record with no name. */
	avail = -1;
	ioctl(fd, FIONREAD, &avail);
	printf("FIONREAD after rm: %d\n", avail);
	n = read(fd, buf, sizeof(buf));
	printf("read after rm: %zd bytes, mask %s\n", n,
	       n >= 16 && ((struct inotify_event *)buf)->mask == IN_IGNORED ? "IGNORED" : "?");
	fact("ignored wd is the removed one", n >= 16 && ((struct inotify_event *)buf)->wd == wd);

	/* A symlink: followed unless IN_DONT_FOLLOW. */
	symlink("f", at(dir, "link"));
	fact("link follows to file", inotify_add_watch(fd, at(dir, "link"), IN_MODIFY) == wd2);
	int lwd = inotify_add_watch(fd, at(dir, "link"), IN_MODIFY | IN_DONT_FOLLOW);
	fact("dont_follow watches the link", lwd > wd2);
	R("dangling link", (symlink("nowhere", at(dir, "dangling")),
			    inotify_add_watch(fd, at(dir, "dangling"), IN_MODIFY)));
	fact("dangling link dont_follow",
	     inotify_add_watch(fd, at(dir, "dangling"), IN_MODIFY | IN_DONT_FOLLOW) > 0);
	unlink(at(dir, "link"));
	unlink(at(dir, "dangling"));
	unlink(file);
	close(fd);
}

/* One file and its directory, both watched for everything. */
static void basic_events(const char *dir)
{
	const char *a = at(dir, "a");
	write_file(a, "");
	label(watch(dir, IN_ALL_EVENTS), "dir");
	label(watch(a, IN_ALL_EVENTS), "a");
	drain("watching");

	write_file(a, "hello");
	drain("append to a");
	read_file(a);
	drain("read a");

	int fd = open(a, O_RDWR);
	write(fd, "1", 1);
	write(fd, "2", 1);
	pwrite(fd, "3", 1, 0);
	drain("three writes");
	pread(fd, buf, 1, 0);
	write(fd, "4", 1);
	pread(fd, buf, 1, 0);
	drain("read, write, read");
	R("ftruncate", ftruncate(fd, 1));
	close(fd);
	drain("ftruncate and close");

	chmod(a, 0600);
	drain("chmod");
	chown(a, -1, -1);
	drain("chown to the same ids");
	chown(a, getuid(), -1);
	drain("chown");
	utimensat(AT_FDCWD, a, NULL, 0);
	drain("utimensat now");
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = 1000 } };
	utimensat(AT_FDCWD, a, ts, 0);
	drain("utimensat mtime only");
	ts[0] = (struct timespec){ .tv_sec = 1000 };
	ts[1] = (struct timespec){ .tv_nsec = UTIME_OMIT };
	utimensat(AT_FDCWD, a, ts, 0);
	drain("utimensat atime only");
	truncate(a, 0);
	drain("truncate");
	int x = setxattr(a, "user.inotify", "v", 1, 0);
	if (x == 0 || errno != ENOTSUP)
		drain("setxattr");
	else
		printf("setxattr:\n  (not supported)\n");

	fd = open(a, O_WRONLY | O_TRUNC);
	close(fd);
	drain("open O_TRUNC");
	fd = open(a, O_RDONLY | O_PATH);
	close(fd);
	drain("O_PATH open and close");
	fd = open(at(dir, "b"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	close(fd);
	drain("create b");
	fd = open(at(dir, "."), O_RDONLY | O_DIRECTORY);
	getdents64(fd, buf, sizeof(buf));
	getdents64(fd, buf, sizeof(buf));
	close(fd);
	drain("list dir");

	mkdir(at(dir, "sub"), 0755);
	drain("mkdir sub");
	fd = open(at(dir, "sub"), O_RDONLY | O_DIRECTORY);
	getdents64(fd, buf, sizeof(buf));
	close(fd);
	chmod(at(dir, "sub"), 0700);
	drain("list and chmod sub");
	rmdir(at(dir, "sub"));
	drain("rmdir sub");
	symlink("a", at(dir, "sym"));
	drain("symlink");
	unlink(at(dir, "sym"));
	mkfifo(at(dir, "fifo"), 0644);
	drain("unlink symlink, mkfifo");
	unlink(at(dir, "fifo"));
	drain("unlink fifo");

	link(a, at(dir, "hard"));
	drain("link a hard");
	label(watch(at(dir, "hard"), IN_ALL_EVENTS), "hard link of a");
	const char *base = strrchr(dir, '/');
	char other[PATH_MAX];
	snprintf(other, sizeof(other), "%s/..%s/./a", dir, base ? base : "/.");
	label(watch(other, IN_ALL_EVENTS), "a by another path");
	write_file(at(dir, "hard"), "via hard link");
	drain("write through the hard link");
	unlink(at(dir, "hard"));
	drain("unlink hard");
	unlink(a);
	drain("unlink a (last link)");
	unlink(at(dir, "b"));
	drain("unlink b");
}

static void renames(const char *dir)
{
	const char *d1 = at(dir, "d1");
	const char *d2 = at(dir, "d2");
	mkdir(d1, 0755);
	mkdir(d2, 0755);
	write_file(at(d1, "x"), "x");
	write_file(at(d1, "t"), "t");
	write_file(at(d2, "y"), "y");
	label(watch(d1, IN_ALL_EVENTS), "d1");
	label(watch(d2, IN_ALL_EVENTS), "d2");
	label(watch(at(d1, "x"), IN_ALL_EVENTS), "x");
	label(watch(at(d1, "t"), IN_ALL_EVENTS), "t");
	drain("watching");

	rename(at(d1, "x"), at(d1, "x2"));
	drain("rename x to x2 in d1");
	rename(at(d1, "x2"), at(d2, "x3"));
	drain("rename x2 in d1 to x3 in d2");
	write_file(at(d2, "x3"), "still watched");
	drain("write x3");
	rename(at(d2, "x3"), at(d1, "t"));
	drain("rename x3 over t");
	rename(at(d1, "t"), at(d1, "t"));
	drain("rename t to itself");
	R("rename noreplace", renameat2(AT_FDCWD, at(d2, "y"), AT_FDCWD, at(d1, "t"), RENAME_NOREPLACE));
	drain("failed rename");

	mkdir(at(d1, "sd"), 0755);
	label(watch(at(d1, "sd"), IN_ALL_EVENTS), "sd");
	drain("mkdir sd");
	rename(at(d1, "sd"), at(d2, "sd2"));
	drain("rename dir sd to d2/sd2");
	write_file(at(at(d2, "sd2"), "inner"), "");
	drain("create in renamed sd2");
	unlink(at(at(d2, "sd2"), "inner"));
	rmdir(at(d2, "sd2"));
	drain("empty and rmdir sd2");

	rename(d1, at(dir, "d1b"));
	drain("rename watched d1");
	write_file(at(at(dir, "d1b"), "z"), "");
	drain("create in renamed d1b");
	unlink(at(at(dir, "d1b"), "z"));
	unlink(at(at(dir, "d1b"), "t"));
	unlink(at(d2, "y"));
	rmdir(at(dir, "d1b"));
	rmdir(d2);
	drain("clean up");
}

static void watch_flags(const char *dir)
{
	const char *f = at(dir, "flags");
	write_file(f, "");
	label(watch(f, IN_MODIFY), "modify");
	write_file(f, "1");
	write_file(f, "2");
	int fd = open(f, O_WRONLY);
	write(fd, "3", 1);
	write(fd, "4", 1);
	close(fd);
	drain("four writes, coalesced");
	label(watch(f, IN_MODIFY | IN_ONESHOT), "oneshot");
	write_file(f, "1");
	write_file(f, "2");
	drain("oneshot: two appends");
	label(watch(f, IN_OPEN), "open only");
	write_file(f, "3");
	drain("open only: append");
	label(watch(f, IN_CLOSE_WRITE | IN_MASK_ADD), "mask add close_write");
	write_file(f, "4");
	drain("open + close_write: append");
	label(watch(f, IN_MODIFY), "replaced by modify");
	write_file(f, "5");
	drain("modify only: append");
	R("mask_create on watched", watch(f, IN_OPEN | IN_MASK_CREATE));
	write_file(f, "6");
	drain("after failed mask_create: append");
	label(watch(f, IN_MODIFY | IN_ONESHOT | IN_MASK_ADD), "mask add oneshot");
	write_file(f, "7");
	write_file(f, "8");
	drain("oneshot added: two appends");

	/* IN_EXCL_UNLINK: no events from an unlinked child's open file. */
	label(watch(dir, IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE | IN_EXCL_UNLINK), "dir excl_unlink");
	fd = open(f, O_WRONLY);
	unlink(f);
	write(fd, "x", 1);
	close(fd);
	drain("excl_unlink: write to an unlinked file");
	label(watch(dir, IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE), "dir without excl_unlink");
	write_file(f, "");
	fd = open(f, O_WRONLY);
	unlink(f);
	write(fd, "x", 1);
	close(fd);
	drain("no excl_unlink: write to an unlinked file");
	int wd = watch(dir, IN_CREATE);
	R("rm dir watch", inotify_rm_watch(ifd, wd));
	drain("rm_watch");
}

static void reads_and_readiness(const char *dir)
{
	const char *f = at(dir, "long-name-of-twenty-ch");
	label(watch(dir, IN_CREATE | IN_DELETE), "dir");
	write_file(f, "");
	int avail = -1;
	ioctl(ifd, FIONREAD, &avail);
	printf("FIONREAD one event: %d\n", avail);
	R("read 16 bytes", read(ifd, buf, 16));
	R("read one byte short", read(ifd, buf, avail - 1));
	unlink(f);
	ioctl(ifd, FIONREAD, &avail);
	printf("FIONREAD two events: %d\n", avail);
	ssize_t n = read(ifd, buf, avail - 1);
	printf("read two events less one byte: %zd\n", n);
	print_events(n);
	n = read(ifd, buf, sizeof(buf));
	printf("read the rest: %zd\n", n);
	print_events(n);

	struct pollfd p = { .fd = ifd, .events = POLLIN | POLLOUT };
	R("poll empty", poll(&p, 1, 0));
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 7 };
	epoll_ctl(ep, EPOLL_CTL_ADD, ifd, &ev);
	R("epoll empty", epoll_wait(ep, &ev, 1, 0));
	write_file(f, "");
	R("poll with an event", poll(&p, 1, 0));
	printf("revents: %s%s\n", p.revents & POLLIN ? "POLLIN" : "",
	       p.revents & POLLOUT ? " POLLOUT" : "");
	memset(&ev, 0, sizeof(ev));
	R("epoll with an event", epoll_wait(ep, &ev, 1, 0));
	printf("epoll events: %s data %u\n", ev.events == EPOLLIN ? "EPOLLIN" : "?", ev.data.u32);
	drain("queued");

	/* A blocking read, woken by a child's change; an epoll_wait likewise. */
	int flags = fcntl(ifd, F_GETFL);
	fcntl(ifd, F_SETFL, flags & ~O_NONBLOCK);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(100000);
		unlink(f);
		_exit(0);
	}
	n = read(ifd, buf, sizeof(buf));
	printf("blocking read woken: %zd\n", n);
	print_events(n);
	waitpid(pid, NULL, 0);
	pid = fork();
	if (pid == 0) {
		usleep(100000);
		write_file(f, "");
		_exit(0);
	}
	R("epoll_wait woken", epoll_wait(ep, &ev, 1, 5000));
	waitpid(pid, NULL, 0);
	fcntl(ifd, F_SETFL, flags);
	unlink(f);
	drain("after epoll");
	close(ep);
}

static void overflow(const char *dir)
{
	long max = 0;
	FILE *m = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	if (!m || fscanf(m, "%ld", &max) != 1) {
		printf("max_queued_events: unreadable\n");
		return;
	}
	fclose(m);
	int fd = inotify_init1(IN_NONBLOCK);
	const char *f = at(dir, "busy");
	int file = open(f, O_RDWR | O_CREAT, 0644);
	int wd = inotify_add_watch(fd, f, IN_MODIFY | IN_ACCESS);
	/* Alternate, so that no event merges with the one before. */
	for (long i = 0; i < max + 10; i++) {
		if (i % 2)
			pread(file, buf, 1, 0);
		else
			pwrite(file, "x", 1, 0);
	}
	long events = 0, overflows = 0, last_overflow = 0, bad = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t o = 0; o < n;) {
			const struct inotify_event *e = (const void *)(buf + o);
			events++;
			if (e->mask & IN_Q_OVERFLOW) {
				overflows++;
				last_overflow = events;
				if (e->wd != -1 || e->len)
					bad++;
			} else if (e->wd != wd) {
				bad++;
			}
			o += sizeof(*e) + e->len;
		}
	}
	printf("overflow: %ld events (%ld more than max_queued_events), %ld overflow event%s, last %s, %ld bad\n",
	       events, events - max, overflows, overflows == 1 ? "" : "s",
	       last_overflow == events ? "yes" : "no", bad);
	/* After the queue drained, events are queued again. */
	pwrite(file, "x", 1, 0);
	n = read(fd, buf, sizeof(buf));
	printf("after draining: %zd bytes\n", n);
	close(file);
	unlink(f);
	close(fd);
}

/*
 * Objects that exist before the run (DIR/f, with contents): under sentry without
 * a bind these come from the read-only overlay's lower layer, and the first
 * change copies them up; their watches must follow.
 */
static void existing_objects(const char *dir)
{
	const char *f = at(dir, "f");
	label(watch(dir, IN_ALL_EVENTS), "dir");
	label(watch(f, IN_ALL_EVENTS), "f");
	read_file(f);
	drain("read f");
	write_file(f, "more\n");
	drain("append to f");
	chmod(f, 0600);
	drain("chmod f");
	label(watch(f, IN_ATTRIB | IN_MOVE_SELF), "f again");
	write_file(at(dir, "g"), "");
	drain("create g");
	mkdir(at(dir, "sub"), 0755);
	rename(f, at(at(dir, "sub"), "h"));
	drain("mkdir sub, rename f to sub/h");
	unlink(at(at(dir, "sub"), "h"));
	unlink(at(dir, "g"));
	rmdir(at(dir, "sub"));
	drain("clean up");
}

static void limits(void)
{
	const char *names[] = { "max_queued_events", "max_user_instances", "max_user_watches" };
	for (int i = 0; i < 3; i++) {
		char path[128];
		snprintf(path, sizeof(path), "/proc/sys/fs/inotify/%s", names[i]);
		FILE *f = fopen(path, "r");
		long v = -1;
		if (f && fscanf(f, "%ld", &v) == 1)
			printf("%s: %ld\n", names[i], v);
		else
			printf("%s: unreadable\n", names[i]);
		if (f)
			fclose(f);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2 || (argc == 3 && strcmp(argv[2], "--existing")) || argc > 3) {
		fprintf(stderr, "usage: inotify_events SCRATCH_DIR [--existing]\n");
		return 2;
	}
	report_start();
	const char *dir = argv[1];
	if (argc == 3) {
		ifd = inotify_init1(IN_NONBLOCK);
		existing_objects(dir);
		return 0;
	}
	instance_and_errors(dir);
	limits();

	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	printf("-- basic events\n");
	basic_events(dir);
	close(ifd);

	ifd = inotify_init1(IN_NONBLOCK);
	nlabels = 0;
	printf("-- renames\n");
	renames(dir);
	close(ifd);

	ifd = inotify_init1(IN_NONBLOCK);
	nlabels = 0;
	printf("-- watch flags\n");
	watch_flags(dir);
	close(ifd);

	ifd = inotify_init1(IN_NONBLOCK);
	nlabels = 0;
	printf("-- reads and readiness\n");
	reads_and_readiness(dir);
	close(ifd);

	printf("-- overflow\n");
	overflow(dir);
	return 0;
}

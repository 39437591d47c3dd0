/*
 * Shared by the lock_* guests, on top of check.h and sys_report.h: processes
 * that coordinate through pipes (one byte at a time, never sleeps), lock
 * requests, and how a lock looks to another process, printed as relations
 * ("pid=child") rather than pids so that the output compares with a native
 * run's.
 */
#ifndef LOCK_CHECK_H
#define LOCK_CHECK_H

#define _GNU_SOURCE
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The child the current test started, for who(). */
static pid_t kid;

/* Whose pid `pid` is, relative to this process. */
static inline const char *who(pid_t pid)
{
	if (pid == getpid())
		return "me";
	if (kid && pid == kid)
		return "child";
	if (pid == getppid())
		return "parent";
	if (pid == -1)
		return "-1";
	return "other";
}

static inline void die(const char *what)
{
	perror(what);
	exit(2);
}

static inline void xpipe(int p[2])
{
	if (pipe(p))
		die("pipe");
}

static inline void put(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		die("write");
}

/* Reads one byte; a closed pipe (the other side died) ends the guest. */
static inline char get(int fd)
{
	char c = 0;
	if (read(fd, &c, 1) != 1)
		die("read");
	return c;
}

/* Whether byte `c` is already waiting in pipe `fd` (without blocking). */
static inline int waiting(int fd, char c)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	char got = 0;
	int n = read(fd, &got, 1);
	fcntl(fd, F_SETFL, fl);
	return n == 1 && got == c;
}

/* Waits for child `p`; its exit status, which children use for an errno. */
static inline int reap(pid_t p)
{
	int st = child_status(p);
	if (st < 0)
		die("waitpid");
	return st;
}

static inline int openf(const char *path, int flags)
{
	int fd = open(path, flags | O_CREAT, 0644);
	if (fd < 0)
		die("open");
	return fd;
}

static inline struct flock req(short type, short whence, off_t start, off_t len)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = whence;
	fl.l_start = start;
	fl.l_len = len;
	return fl;
}

/* fcntl(fd, cmd) with a lock request. */
static inline int lk(int fd, int cmd, short type, short whence, off_t start, off_t len)
{
	struct flock fl = req(type, whence, start, len);
	return fcntl(fd, cmd, &fl);
}

/* `label: ERR`, `label: unlocked`, or the lock F_GETLK reported. */
static inline void show(const char *label, int err, struct flock fl)
{
	if (err)
		printf("%s: %s\n", label, errname(err));
	else if (fl.l_type == F_UNLCK)
		printf("%s: unlocked\n", label);
	else
		printf("%s: %s start=%lld len=%lld whence=%d pid=%s\n", label,
		       fl.l_type == F_RDLCK ? "read" : "write", (long long)fl.l_start,
		       (long long)fl.l_len, fl.l_whence, who(fl.l_pid));
}

/* fcntl(fd, cmd) (F_GETLK or F_OFD_GETLK) with a request, from a new child
 * process: how the file looks to another process. */
static inline void probe_cmd(const char *label, int fd, int cmd, short type, short whence,
			     off_t start, off_t len)
{
	int p[2];
	xpipe(p);
	pid_t c = xfork();
	if (c == 0) {
		struct flock fl = req(type, whence, start, len);
		int err = fcntl(fd, cmd, &fl) ? errno : 0;
		/* Relations are judged by the parent: send the raw result. */
		if (write(p[1], &err, sizeof err) != sizeof err ||
		    write(p[1], &fl, sizeof fl) != sizeof fl)
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	int err;
	struct flock fl;
	if (read(p[0], &err, sizeof err) != sizeof err || read(p[0], &fl, sizeof fl) != sizeof fl)
		die("probe read");
	reap(c);
	close(p[0]);
	show(label, err, fl);
}

/* F_GETLK from a new child process. */
static inline void probe(const char *label, int fd, short type, short whence, off_t start,
			 off_t len)
{
	probe_cmd(label, fd, F_GETLK, type, whence, start, len);
}

/* fcntl(fd, cmd) with a lock request from a new child process (whose own POSIX
 * locks then go with it): `label: ERR`. */
static inline void other_cmd(const char *label, int fd, int cmd, short type, off_t start,
			     off_t len)
{
	pid_t c = xfork();
	if (c == 0)
		_exit(lk(fd, cmd, type, SEEK_SET, start, len) ? errno : 0);
	printf("%s: %s\n", label, errname(reap(c)));
}

/* F_SETLK from a new child process. */
static inline void other(const char *label, int fd, short type, off_t start, off_t len)
{
	other_cmd(label, fd, F_SETLK, type, start, len);
}

/*
 * Whether /proc/locks lists `CLASS ADVISORY  KIND PID MAJ:MIN:INO START END`
 * for fd's file and this process (the line's ordinal number aside).
 */
static inline int proc_locks_has(int fd, const char *class_kind, const char *range)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return 0;
	char want[200], line[400];
	snprintf(want, sizeof want, "%s %d %02x:%02x:%llu %s\n", class_kind, getpid(),
		 major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino, range);
	FILE *f = fopen("/proc/locks", "r");
	int found = 0;
	while (f && fgets(line, sizeof line, f)) {
		char *p = strchr(line, ' ');
		if (p && strcmp(p + 1, want) == 0)
			found = 1;
	}
	if (f)
		fclose(f);
	return found;
}

#endif

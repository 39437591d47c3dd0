/*
 * lock_posix: POSIX record locks (fcntl F_SETLK, F_SETLKW, F_GETLK, and lockf)
 * between processes, run with a scratch directory as argv[1].
 *
 * - What another process sees with F_GETLK (type, start, length, and whose
 *   pid l_pid is) after locking, splitting, merging, upgrading and
 *   downgrading ranges; l_whence SEEK_SET/SEEK_CUR/SEEK_END, l_len 0 and
 *   negative; conflicts (EAGAIN) and what does not conflict.
 * - Errors: EINVAL, EOVERFLOW, EBADF for the open mode, EFAULT.
 * - A process's locks go when it closes any fd of the file (a second open, a
 *   dup), at exit, and for close-on-exec fds at exec; other fds keep theirs
 *   across exec. Locks are not inherited by fork; threads share them.
 * - F_SETLKW waits until the holder unlocks or exits, fails with EINTR when a
 *   handler without SA_RESTART interrupts it and restarts with SA_RESTART;
 *   two processes waiting for each other's locks: one gets EDEADLK.
 * - lockf, and the process's locks in /proc/locks.
 *
 * Processes coordinate through pipes, never sleeps. The output holds no pid
 * or inode number, only relations ("pid=child"), so that it can be compared
 * with a native run's.
 */
#include "lock_check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>

static char path[4096], path2[4096];

static void ranges(void)
{
	int fd = openf(path, O_RDWR | O_TRUNC);
	R("lock write [0,100)", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 100));
	probe("probe read from 0", fd, F_RDLCK, SEEK_SET, 0, 0);
	probe("probe write [100,EOF)", fd, F_WRLCK, SEEK_SET, 100, 0);
	other("other read [50,51)", fd, F_RDLCK, 50, 1);
	other("other read [100,110)", fd, F_RDLCK, 100, 10);
	probe("after the other exits", fd, F_WRLCK, SEEK_SET, 100, 10);

	R("unlock [40,60)", lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 40, 20));
	probe("split: from 0", fd, F_RDLCK, SEEK_SET, 0, 0);
	probe("split: the hole", fd, F_WRLCK, SEEK_SET, 40, 20);
	probe("split: from 50", fd, F_WRLCK, SEEK_SET, 50, 0);

	R("lock write [100,110)", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 100, 10));
	R("lock write [110,120)", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 110, 10));
	probe("merged: from 50", fd, F_WRLCK, SEEK_SET, 50, 0);

	R("downgrade all to read", lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 0, 0));
	probe("downgraded: read", fd, F_RDLCK, SEEK_SET, 0, 0);
	probe("downgraded: write at 500", fd, F_WRLCK, SEEK_SET, 500, 1);
	other("other read after downgrade", fd, F_RDLCK, 0, 0);
	other("other write after downgrade", fd, F_WRLCK, 1000, 1);

	R("upgrade [10,20)", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 10, 10));
	probe("upgraded: write probe", fd, F_WRLCK, SEEK_SET, 0, 0);
	probe("upgraded: read probe", fd, F_RDLCK, SEEK_SET, 0, 0);
	probe("upgraded: read probe from 20", fd, F_RDLCK, SEEK_SET, 20, 0);

	R("unlock all", lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
	probe("all unlocked", fd, F_WRLCK, SEEK_SET, 0, 0);

	R("lseek 1000", lseek(fd, 1000, SEEK_SET));
	R("lock SEEK_CUR -100 len 50", lk(fd, F_SETLK, F_WRLCK, SEEK_CUR, -100, 50));
	probe("SEEK_CUR lock", fd, F_RDLCK, SEEK_SET, 0, 0);
	probe("probe with SEEK_CUR", fd, F_RDLCK, SEEK_CUR, -60, 1);
	R("ftruncate 2000", ftruncate(fd, 2000));
	R("lock SEEK_END -10 len 0", lk(fd, F_SETLK, F_RDLCK, SEEK_END, -10, 0));
	probe("SEEK_END lock", fd, F_WRLCK, SEEK_SET, 1500, 0);
	R("lock [500) len -100", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 500, -100));
	probe("negative length lock", fd, F_WRLCK, SEEK_SET, 0, 0);
	probe("probe with negative length", fd, F_WRLCK, SEEK_SET, 1000, -60);
	R("unlock all", lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));

	/* A process's own locks never conflict, whatever fd took them. */
	int fd2 = openf(path, O_RDWR);
	R("lock write [0,10) on fd", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
	R("lock write [5,15) on a second open", lk(fd2, F_SETLK, F_WRLCK, SEEK_SET, 5, 10));
	struct flock fl = req(F_WRLCK, SEEK_SET, 0, 0);
	R("own F_GETLK", fcntl(fd, F_GETLK, &fl));
	show("own F_GETLK sees", 0, fl);
	probe("two fds, one owner", fd, F_RDLCK, SEEK_SET, 0, 0);
	close(fd2);
	close(fd);
}

static void errors(void)
{
	int fd = openf(path, O_RDWR);
	int rd = openf(path, O_RDONLY);
	int wr = openf(path, O_WRONLY);
	R("bad whence", lk(fd, F_SETLK, F_WRLCK, 7, 0, 1));
	R("start before 0", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, -1, 1));
	R("negative length before 0", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 10, -11));
	R("bad type", lk(fd, F_SETLK, 9, SEEK_SET, 0, 1));
	R("bad type and mode", lk(rd, F_SETLK, 9, SEEK_SET, 0, 1));
	R("bad whence on read-only fd", lk(rd, F_SETLK, F_WRLCK, 7, 0, 1));
	R("start past OFFSET_MAX", lk(fd, F_SETLK, F_WRLCK, SEEK_END, 0x7fffffffffffffffLL, 1));
	R("length past OFFSET_MAX", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 2, 0x7fffffffffffffffLL));
	R("length to OFFSET_MAX", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 1, 0x7fffffffffffffffLL));
	R("unlock it", lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
	R("F_GETLK of F_UNLCK", lk(fd, F_GETLK, F_UNLCK, SEEK_SET, 0, 1));
	R("F_GETLK bad whence", lk(fd, F_GETLK, F_RDLCK, 3, 0, 1));
	R("write lock on read-only fd", lk(rd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
	R("read lock on write-only fd", lk(wr, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
	R("read lock on read-only fd", lk(rd, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
	R("write lock on write-only fd", lk(wr, F_SETLK, F_WRLCK, SEEK_SET, 10, 1));
	R("unlock on read-only fd", lk(rd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
	R("F_GETLK write on read-only fd", lk(rd, F_GETLK, F_WRLCK, SEEK_SET, 0, 1));
	R("bad fd", lk(99, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
	R("bad pointer", fcntl(fd, F_SETLK, (struct flock *)8));
	R("F_GETLK bad pointer", fcntl(fd, F_GETLK, (struct flock *)8));
	int opath = open(path, O_PATH);
	R("O_PATH fd", lk(opath, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	R("lock a directory", lk(dir, F_SETLK, F_RDLCK, SEEK_SET, 0, 0));
	close(dir);
	close(opath);
	close(fd);
	close(rd);
	close(wr);
}

static void closing(void)
{
	int fd = openf(path, O_RDWR);
	int b = openf(path2, O_RDWR);
	R("lock", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
	R("lock the other file", lk(b, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
	int fd2 = openf(path, O_RDONLY);
	R("close a second open of the file", close(fd2));
	probe("after closing the second open", fd, F_WRLCK, SEEK_SET, 0, 0);
	probe("the other file's lock", b, F_WRLCK, SEEK_SET, 0, 0);

	R("lock again", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
	int d = dup(fd);
	R("close a dup", close(d));
	probe("after closing a dup", fd, F_WRLCK, SEEK_SET, 0, 0);

	R("lock again", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
	d = dup(fd);
	R("dup2 over the dup", dup2(b, d));
	probe("after dup2 replaced a dup", fd, F_WRLCK, SEEK_SET, 0, 0);
	close(d);
	probe("the other file after closing its dup", b, F_WRLCK, SEEK_SET, 0, 0);
	close(b);
	close(fd);
}

/* Locks are not inherited, and a child's unlock leaves the parent's. */
static void forked(void)
{
	int fd = openf(path, O_RDWR);
	R("lock [0,10)", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
	int p[2];
	xpipe(p);
	pid_t c = xfork();
	if (c == 0) {
		struct flock fl = req(F_RDLCK, SEEK_SET, 0, 0);
		int r = fcntl(fd, F_GETLK, &fl);
		char line[200];
		int n = snprintf(line, sizeof line, "child F_GETLK: %d %s start=%lld len=%lld pid=%s\n", r,
				 fl.l_type == F_WRLCK ? "write" : "other", (long long)fl.l_start,
				 (long long)fl.l_len, who(fl.l_pid));
		n += snprintf(line + n, sizeof line - n, "child lock: %s\n",
			      errname(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 5, 1) ? errno : 0));
		n += snprintf(line + n, sizeof line - n, "child unlock all: %s\n",
			      errname(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0) ? errno : 0));
		if (write(p[1], line, n) != n)
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	char buf[300];
	int n = read(p[0], buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	fputs(buf, stdout);
	reap(c);
	close(p[0]);
	probe("parent's lock after the child", fd, F_WRLCK, SEEK_SET, 0, 0);
	close(fd);
}

static void *thread_lock(void *arg)
{
	int fd = *(int *)arg;
	long r = lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10);
	return (void *)r;
}

static void threads(void)
{
	int fd = openf(path, O_RDWR);
	pthread_t t;
	void *r;
	pthread_create(&t, NULL, thread_lock, &fd);
	pthread_join(t, &r);
	printf("thread lock: %ld\n", (long)r);
	R("main thread locks the thread's range", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 5, 10));
	probe("locks of both threads", fd, F_RDLCK, SEEK_SET, 0, 0);
	close(fd);
}

/* The holder unlocks while a child waits in F_SETLKW. */
static void wait_unlock(void)
{
	int fd = openf(path, O_RDWR);
	int ready[2], unlocked[2];
	xpipe(ready);
	xpipe(unlocked);
	R("lock [0,1)", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
	pid_t c = xfork();
	if (c == 0) {
		printf("child F_SETLK: %s\n", errname(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1) ? errno : 0));
		put(ready[1], 'w');
		int r = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1);
		printf("child F_SETLKW: %s\n", errname(r ? errno : 0));
		fact("child woke after the unlock", waiting(unlocked[0], 'u'));
		_exit(0);
	}
	close(ready[1]);
	get(ready[0]);
	put(unlocked[1], 'u');
	int r = lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0);
	reap(c);
	report("unlock", r);
	close(fd);
}

/* The holder exits while the parent waits in F_SETLKW. */
static void wait_exit(void)
{
	int fd = openf(path, O_RDWR);
	int ready[2], go[2], exiting[2];
	xpipe(ready);
	xpipe(go);
	xpipe(exiting);
	pid_t c = xfork();
	if (c == 0) {
		if (lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0))
			_exit(3);
		put(ready[1], 'l');
		get(go[0]);
		put(exiting[1], 'x');
		_exit(0);
	}
	kid = c;
	close(ready[1]);
	get(ready[0]);
	probe("child holds", fd, F_RDLCK, SEEK_SET, 0, 0);
	R("F_SETLK while the child holds", lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 100, 1));
	put(go[1], 'g');
	R("F_SETLKW until the child exits", lk(fd, F_SETLKW, F_RDLCK, SEEK_SET, 100, 1));
	fact("woke after the holder exited", waiting(exiting[0], 'x'));
	reap(c);
	kid = 0;
	close(fd);
}

static int signal_pipe = -1;
static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	alarms++;
	if (signal_pipe >= 0) {
		char c = 'a';
		if (write(signal_pipe, &c, 1) != 1)
			_exit(4);
	}
}

static void arm(int restart)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 0}, {0, 50000}};
	setitimer(ITIMER_REAL, &it, NULL);
}

/* F_SETLKW ends with EINTR by a handler, or restarts with SA_RESTART. */
static void interrupted(void)
{
	int fd = openf(path, O_RDWR);
	int fired[2];
	xpipe(fired);
	R("lock [0,1)", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
	pid_t c = xfork();
	if (c == 0) {
		arm(0);
		int r = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1);
		printf("child F_SETLKW with a handler: %s (handler ran %d)\n", errname(r ? errno : 0), (int)alarms);
		signal_pipe = fired[1];
		arm(1);
		r = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1);
		printf("child F_SETLKW with an SA_RESTART handler: %s (handler ran %d)\n", errname(r ? errno : 0),
		       (int)alarms);
		_exit(0);
	}
	close(fired[1]);
	get(fired[0]);
	int r = lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0);
	reap(c);
	report("unlock once the restarting handler ran", r);
	close(fd);
}

/* Two processes each wait for the other's lock: the second to wait gets EDEADLK. */
static void deadlock(void)
{
	int fd = openf(path, O_RDWR);
	int ready[2], result[2];
	xpipe(ready);
	xpipe(result);
	R("parent locks byte 0", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
	pid_t c = xfork();
	if (c == 0) {
		if (lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 1, 1))
			_exit(3);
		put(ready[1], 'r');
		int r = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1);
		int err = r ? errno : 0;
		if (err == EDEADLK)
			lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 1, 1);
		if (write(result[1], &err, sizeof err) != sizeof err)
			_exit(2);
		_exit(0);
	}
	close(ready[1]);
	get(ready[0]);
	int r = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 1, 1);
	int mine = r ? errno : 0;
	if (mine == EDEADLK)
		lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 1);
	int theirs;
	if (read(result[0], &theirs, sizeof theirs) != sizeof theirs)
		die("read");
	reap(c);
	fact("exactly one EDEADLK", (mine == EDEADLK) + (theirs == EDEADLK) == 1);
	fact("the other got its lock", (mine == 0) + (theirs == 0) == 1);
	R("unlock", lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
	close(fd);
}

/* Exec keeps the locks of fds that stay open and drops those of close-on-exec fds. */
static void exec_child(int out, int in)
{
	put(out, 'e');
	get(in);
	_exit(0);
}

static void exec(const char *self)
{
	int fd = openf(path, O_RDWR);
	int fd2 = openf(path2, O_RDWR);
	int ready[2], done[2];
	xpipe(ready);
	xpipe(done);
	pid_t c = xfork();
	if (c == 0) {
		int keep = openf(path, O_RDWR);
		int gone = openf(path2, O_RDWR | O_CLOEXEC);
		if (lk(keep, F_SETLK, F_WRLCK, SEEK_SET, 0, 10) || lk(gone, F_SETLK, F_WRLCK, SEEK_SET, 0, 10))
			_exit(3);
		char a[16], b[16];
		snprintf(a, sizeof a, "%d", ready[1]);
		snprintf(b, sizeof b, "%d", done[0]);
		execl(self, self, "--exec-child", a, b, (char *)NULL);
		_exit(5);
	}
	kid = c;
	close(ready[1]);
	get(ready[0]);
	probe("after exec: the kept fd's lock", fd, F_RDLCK, SEEK_SET, 0, 0);
	probe("after exec: the close-on-exec fd's lock", fd2, F_RDLCK, SEEK_SET, 0, 0);
	put(done[1], 'd');
	reap(c);
	kid = 0;
	probe("after the child exited", fd, F_RDLCK, SEEK_SET, 0, 0);
	close(fd);
	close(fd2);
}

static void lockf_calls(void)
{
	int fd = openf(path, O_RDWR);
	R("lockf F_LOCK 10", lockf(fd, F_LOCK, 10));
	pid_t c = xfork();
	if (c == 0) {
		printf("child lockf F_TEST: %s\n", errname(lockf(fd, F_TEST, 10) ? errno : 0));
		printf("child lockf F_TLOCK: %s\n", errname(lockf(fd, F_TLOCK, 10) ? errno : 0));
		lseek(fd, 10, SEEK_SET);
		printf("child lockf F_TLOCK past it: %s\n", errname(lockf(fd, F_TLOCK, 10) ? errno : 0));
		_exit(0);
	}
	reap(c);
	R("lockf F_TEST own", lockf(fd, F_TEST, 10));
	R("lseek 0", lseek(fd, 0, SEEK_SET));
	R("lockf F_ULOCK", lockf(fd, F_ULOCK, 0));
	probe("after F_ULOCK", fd, F_WRLCK, SEEK_SET, 0, 0);
	close(fd);
}

/* /proc/locks lists this process's POSIX write lock. */
static void proc_locks(void)
{
	int fd = openf(path, O_RDWR);
	R("lock [10,20)", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 10, 10));
	fact("/proc/locks has the lock", proc_locks_has(fd, "POSIX  ADVISORY  WRITE", "10 19"));
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--exec-child") == 0)
		exec_child(atoi(argv[2]), atoi(argv[3]));
	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	report_start();
	char self[4096];
	if (!realpath(argv[0], self))
		die("realpath");
	snprintf(path, sizeof path, "%s/posix-a", argv[1]);
	snprintf(path2, sizeof path2, "%s/posix-b", argv[1]);
	if (chdir(argv[1]))
		die("chdir");
	ranges();
	errors();
	closing();
	forked();
	threads();
	wait_unlock();
	wait_exit();
	interrupted();
	deadlock();
	exec(self);
	lockf_calls();
	proc_locks();
	return 0;
}

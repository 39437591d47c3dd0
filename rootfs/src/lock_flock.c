/*
 * lock_flock: flock(2) locks, run with a scratch directory as argv[1].
 *
 * - LOCK_SH/LOCK_EX/LOCK_UN with LOCK_NB (EWOULDBLOCK) between two opens of a
 *   file, in one process and across processes; conversions, which drop the
 *   old lock first (a failed LOCK_NB upgrade leaves no lock).
 * - Owned by the open file description: shared by dups and forked children,
 *   dropped by the description's last close, not by closing a dup.
 * - Independent of fcntl record locks, both ways.
 * - A blocking flock waits until the holder unlocks or exits, and ends with
 *   EINTR when a handler interrupts it.
 * - Errors: EINVAL for bad operations, EBADF; locks on read-only fds and
 *   directories; the lock in /proc/locks.
 */
#include "lock_check.h"

#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>

static char path[4096];

/* flock from a new child process through its own open of the file. */
static void other_flock(const char *label, int op)
{
	pid_t c = xfork();
	if (c == 0)
		_exit(flock(openf(path, O_RDONLY), op) ? errno : 0);
	printf("%s: %s\n", label, errname(reap(c)));
}

static void conversions(void)
{
	int fd1 = openf(path, O_RDWR | O_TRUNC);
	int fd2 = openf(path, O_RDWR);
	R("fd1 LOCK_EX", flock(fd1, LOCK_EX));
	R("fd2 LOCK_EX|LOCK_NB", flock(fd2, LOCK_EX | LOCK_NB));
	R("fd2 LOCK_SH|LOCK_NB", flock(fd2, LOCK_SH | LOCK_NB));
	other_flock("other process LOCK_SH|LOCK_NB", LOCK_SH | LOCK_NB);
	R("fd1 LOCK_EX again", flock(fd1, LOCK_EX));
	R("fd1 down to LOCK_SH", flock(fd1, LOCK_SH));
	R("fd2 LOCK_SH|LOCK_NB", flock(fd2, LOCK_SH | LOCK_NB));
	other_flock("other process LOCK_SH|LOCK_NB", LOCK_SH | LOCK_NB);
	other_flock("other process LOCK_EX|LOCK_NB", LOCK_EX | LOCK_NB);
	R("fd1 up to LOCK_EX|LOCK_NB", flock(fd1, LOCK_EX | LOCK_NB));
	/* The failed upgrade dropped fd1's shared lock, so fd2 can upgrade. */
	R("fd2 up to LOCK_EX|LOCK_NB", flock(fd2, LOCK_EX | LOCK_NB));
	R("fd1 LOCK_SH|LOCK_NB", flock(fd1, LOCK_SH | LOCK_NB));
	R("fd2 LOCK_UN", flock(fd2, LOCK_UN));
	R("fd2 LOCK_UN again", flock(fd2, LOCK_UN | LOCK_NB));
	R("fd1 LOCK_EX|LOCK_NB", flock(fd1, LOCK_EX | LOCK_NB));
	R("fd1 LOCK_UN", flock(fd1, LOCK_UN));
	close(fd1);
	close(fd2);
}

static void sharing(void)
{
	int fd1 = openf(path, O_RDWR);
	int fd2 = openf(path, O_RDWR);
	R("fd1 LOCK_EX", flock(fd1, LOCK_EX));
	int d = dup(fd1);
	R("LOCK_UN through a dup", flock(d, LOCK_UN));
	R("fd2 LOCK_EX|LOCK_NB", flock(fd2, LOCK_EX | LOCK_NB));
	R("fd2 LOCK_UN", flock(fd2, LOCK_UN));

	R("fd1 LOCK_EX", flock(fd1, LOCK_EX));
	R("close the dup", close(d));
	R("fd2 LOCK_SH|LOCK_NB", flock(fd2, LOCK_SH | LOCK_NB));
	int fd3 = openf(path, O_RDONLY);
	R("close another open of the file", close(fd3));
	R("fd2 LOCK_SH|LOCK_NB", flock(fd2, LOCK_SH | LOCK_NB));

	pid_t c = xfork();
	if (c == 0)
		_exit(flock(fd1, LOCK_EX | LOCK_NB) ? errno : 0);
	printf("child LOCK_EX|LOCK_NB on the shared description: %s\n", errname(reap(c)));
	other_flock("other process LOCK_SH|LOCK_NB after the child", LOCK_SH | LOCK_NB);

	R("close fd1, the description's last fd", close(fd1));
	R("fd2 LOCK_EX|LOCK_NB", flock(fd2, LOCK_EX | LOCK_NB));

	/* A child's own open goes at its exit, with its lock. */
	c = xfork();
	if (c == 0)
		_exit(flock(openf(path, O_RDONLY), LOCK_SH | LOCK_NB) ? errno : 0);
	printf("child's own LOCK_SH|LOCK_NB: %s\n", errname(reap(c)));
	R("fd2 LOCK_UN", flock(fd2, LOCK_UN));
	other_flock("other process LOCK_EX|LOCK_NB", LOCK_EX | LOCK_NB);
	close(fd2);
}

static void independent(void)
{
	int fd = openf(path, O_RDWR);
	R("LOCK_EX", flock(fd, LOCK_EX));
	other("other process F_SETLK write", fd, F_WRLCK, 0, 0);
	probe("other process F_GETLK", fd, F_WRLCK, SEEK_SET, 0, 0);
	R("LOCK_UN", flock(fd, LOCK_UN));

	int ready[2], done[2];
	xpipe(ready);
	xpipe(done);
	pid_t c = xfork();
	if (c == 0) {
		if (lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0))
			_exit(3);
		put(ready[1], 'r');
		get(done[0]);
		_exit(0);
	}
	close(ready[1]);
	get(ready[0]);
	R("LOCK_EX|LOCK_NB while another process has a record lock", flock(fd, LOCK_EX | LOCK_NB));
	put(done[1], 'd');
	reap(c);
	R("LOCK_UN", flock(fd, LOCK_UN));
	close(fd);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	alarms++;
}

static void waits(void)
{
	int fd = openf(path, O_RDWR);
	int ready[2], unlocked[2];
	xpipe(ready);
	xpipe(unlocked);
	R("LOCK_EX", flock(fd, LOCK_EX));
	pid_t c = xfork();
	if (c == 0) {
		int mine = openf(path, O_RDONLY);
		printf("child LOCK_SH|LOCK_NB: %s\n", errname(flock(mine, LOCK_SH | LOCK_NB) ? errno : 0));
		put(ready[1], 'w');
		int r = flock(mine, LOCK_SH);
		printf("child LOCK_SH: %s\n", errname(r ? errno : 0));
		fact("child woke after the unlock", waiting(unlocked[0], 'u'));
		_exit(0);
	}
	close(ready[1]);
	get(ready[0]);
	put(unlocked[1], 'u');
	int r = flock(fd, LOCK_UN);
	reap(c);
	report("LOCK_UN", r);

	/* The holder exits while this process waits. */
	int go[2], exiting[2];
	xpipe(ready);
	xpipe(go);
	xpipe(exiting);
	c = xfork();
	if (c == 0) {
		if (flock(openf(path, O_RDONLY), LOCK_SH))
			_exit(3);
		put(ready[1], 'l');
		get(go[0]);
		put(exiting[1], 'x');
		_exit(0);
	}
	close(ready[1]);
	get(ready[0]);
	R("LOCK_EX|LOCK_NB while the child holds LOCK_SH", flock(fd, LOCK_EX | LOCK_NB));

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 0}, {0, 50000}};
	setitimer(ITIMER_REAL, &it, NULL);
	R("LOCK_EX with a handler", flock(fd, LOCK_EX));
	printf("handler ran: %d\n", (int)alarms);

	put(go[1], 'g');
	R("LOCK_EX until the child exits", flock(fd, LOCK_EX));
	fact("woke after the holder exited", waiting(exiting[0], 'x'));
	reap(c);
	close(fd);
}

static void errors(void)
{
	int fd = openf(path, O_RDWR);
	R("op 0", flock(fd, 0));
	R("LOCK_SH|LOCK_EX", flock(fd, LOCK_SH | LOCK_EX));
	R("LOCK_NB alone", flock(fd, LOCK_NB));
	R("op 64", flock(fd, 64));
	R("bad fd", flock(99, LOCK_SH));
	R("bad fd, bad op", flock(99, 0));
	int opath = open(path, O_PATH);
	R("O_PATH fd", flock(opath, LOCK_SH));
	close(opath);
	int rd = openf(path, O_RDONLY);
	R("LOCK_EX on a read-only fd", flock(rd, LOCK_EX));
	close(rd);
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	R("LOCK_EX on a directory", flock(dir, LOCK_EX));
	close(dir);
	close(fd);
}

/* /proc/locks lists this process's flock lock. */
static void proc_locks(void)
{
	int fd = openf(path, O_RDWR);
	R("LOCK_SH", flock(fd, LOCK_SH));
	fact("/proc/locks has the lock", proc_locks_has(fd, "FLOCK  ADVISORY  READ", "0 EOF"));
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	report_start();
	snprintf(path, sizeof path, "%s/flock", argv[1]);
	if (chdir(argv[1]))
		die("chdir");
	conversions();
	sharing();
	independent();
	waits();
	errors();
	proc_locks();
	return 0;
}

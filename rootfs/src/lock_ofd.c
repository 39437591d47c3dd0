/*
 * lock_ofd: open file description locks (fcntl F_OFD_SETLK, F_OFD_SETLKW,
 * F_OFD_GETLK), run with a scratch directory as argv[1].
 *
 * - Owned by the open file description: two opens in one process conflict, a
 *   dup or a forked child shares (and can convert) the lock; F_OFD_GETLK
 *   reports l_pid -1; l_pid other than 0 is EINVAL.
 * - Closing another fd of the file (the POSIX rule) or a dup keeps the lock;
 *   the description's last close drops it, even from a child's exit.
 * - OFD and POSIX locks on one file conflict both ways, also within one
 *   process.
 * - F_OFD_SETLKW waits until the holder's description goes, and ends with
 *   EINTR when a handler interrupts it.
 */
#include "lock_check.h"

#include <signal.h>
#include <sys/time.h>

static char path[4096];

static void ofd_getlk(const char *label, int fd, short type, off_t start, off_t len)
{
	struct flock fl = req(type, SEEK_SET, start, len);
	int err = fcntl(fd, F_OFD_GETLK, &fl) ? errno : 0;
	show(label, err, fl);
}

static void ownership(void)
{
	int fd1 = openf(path, O_RDWR | O_TRUNC);
	int fd2 = openf(path, O_RDWR);
	R("OFD write [0,10) on fd1", lk(fd1, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10));
	R("OFD write [5,6) on a second open", lk(fd2, F_OFD_SETLK, F_WRLCK, SEEK_SET, 5, 1));
	R("OFD read [10,20) on a second open", lk(fd2, F_OFD_SETLK, F_RDLCK, SEEK_SET, 10, 10));
	ofd_getlk("F_OFD_GETLK on the second open", fd2, F_RDLCK, 0, 0);
	ofd_getlk("F_OFD_GETLK on fd1 itself", fd1, F_WRLCK, 0, 10);
	ofd_getlk("F_OFD_GETLK on fd1 sees the second open", fd1, F_WRLCK, 0, 0);
	R("l_pid 1 on F_OFD_SETLK", ({
		  struct flock fl = req(F_RDLCK, SEEK_SET, 0, 1);
		  fl.l_pid = 1;
		  fcntl(fd1, F_OFD_SETLK, &fl);
	  }));
	R("l_pid 1 on F_OFD_GETLK", ({
		  struct flock fl = req(F_RDLCK, SEEK_SET, 0, 1);
		  fl.l_pid = 1;
		  fcntl(fd1, F_OFD_GETLK, &fl);
	  }));
	R("OFD write lock on a read-only fd", lk(openf(path, O_RDONLY), F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 1));

	int d = dup(fd1);
	R("OFD write [0,10) through a dup", lk(d, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10));
	R("close the dup", close(d));
	ofd_getlk("after closing the dup", fd2, F_RDLCK, 0, 1);
	int fd3 = openf(path, O_RDONLY);
	R("close a third open", close(fd3));
	ofd_getlk("after closing another open (the POSIX rule)", fd2, F_RDLCK, 0, 1);
	probe_cmd("another process's F_OFD_GETLK", fd2, F_OFD_GETLK, F_RDLCK, SEEK_SET, 0, 1);

	/* A child shares the description: it converts the lock, and its exit keeps it. */
	pid_t c = xfork();
	if (c == 0)
		_exit(lk(fd1, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 10) ? errno : 0);
	printf("child converts the shared lock to read: %s\n", errname(reap(c)));
	ofd_getlk("read probe after the child", fd2, F_RDLCK, 0, 10);
	ofd_getlk("write probe after the child", fd2, F_WRLCK, 0, 10);

	R("close fd1, the description's last fd", close(fd1));
	ofd_getlk("after the last close", fd2, F_WRLCK, 0, 10);
	R("unlock fd2's locks", lk(fd2, F_OFD_SETLK, F_UNLCK, SEEK_SET, 0, 0));
	close(fd2);
}

static void mixed(void)
{
	int fd1 = openf(path, O_RDWR);
	int fd2 = openf(path, O_RDWR);
	R("OFD read [0,10) on fd1", lk(fd1, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 10));
	R("POSIX write [5,6) on fd2", lk(fd2, F_SETLK, F_WRLCK, SEEK_SET, 5, 1));
	R("POSIX write [5,6) on fd1 itself", lk(fd1, F_SETLK, F_WRLCK, SEEK_SET, 5, 1));
	R("POSIX read [5,6) on fd2", lk(fd2, F_SETLK, F_RDLCK, SEEK_SET, 5, 1));
	struct flock fl = req(F_WRLCK, SEEK_SET, 0, 0);
	R("POSIX F_GETLK", fcntl(fd2, F_GETLK, &fl));
	show("POSIX F_GETLK sees", 0, fl);
	R("POSIX write [20,30) on fd2", lk(fd2, F_SETLK, F_WRLCK, SEEK_SET, 20, 10));
	ofd_getlk("F_OFD_GETLK sees the POSIX lock", fd1, F_RDLCK, 10, 0);
	R("OFD write [25,26) on fd1", lk(fd1, F_OFD_SETLK, F_WRLCK, SEEK_SET, 25, 1));
	R("close fd2: the POSIX locks go", close(fd2));
	R("OFD write [25,26) on fd1 now", lk(fd1, F_OFD_SETLK, F_WRLCK, SEEK_SET, 25, 1));
	probe("another process's F_GETLK", fd1, F_WRLCK, SEEK_SET, 0, 0);
	other("another process's POSIX write [10,20)", fd1, F_WRLCK, 10, 10);
	other("another process's POSIX write [20,30)", fd1, F_WRLCK, 20, 10);
	close(fd1);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	alarms++;
}

static void waits(void)
{
	int fd = openf(path, O_RDWR);
	int ready[2], go[2], closing[2];
	xpipe(ready);
	xpipe(go);
	xpipe(closing);
	pid_t c = xfork();
	if (c == 0) {
		int mine = openf(path, O_RDWR);
		if (lk(mine, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 0))
			_exit(3);
		put(ready[1], 'l');
		get(go[0]);
		put(closing[1], 'c');
		close(mine);
		get(go[0]);
		_exit(0);
	}
	kid = c;
	close(ready[1]);
	get(ready[0]);
	R("F_OFD_SETLK while the child holds", lk(fd, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 1));

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 0}, {0, 50000}};
	setitimer(ITIMER_REAL, &it, NULL);
	R("F_OFD_SETLKW with a handler", lk(fd, F_OFD_SETLKW, F_RDLCK, SEEK_SET, 0, 1));
	printf("handler ran: %d\n", (int)alarms);

	put(go[1], 'g');
	R("F_OFD_SETLKW until the child closes", lk(fd, F_OFD_SETLKW, F_RDLCK, SEEK_SET, 0, 1));
	fact("woke after the holder closed its fd", waiting(closing[0], 'c'));
	put(go[1], 'g');
	reap(c);
	kid = 0;
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	report_start();
	snprintf(path, sizeof path, "%s/ofd", argv[1]);
	ownership();
	mixed();
	waits();
	return 0;
}

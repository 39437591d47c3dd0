/*
 * sys_pidfd: process and thread pidfds (pidfd_open, CLONE_PIDFD from clone and
 * clone3, polling and epoll for exit, /proc/self/fdinfo, pidfd_send_signal
 * with and without siginfo and with its scope flags, pidfd_getfd,
 * waitid(P_PIDFD)) and kcmp of
 * files, address spaces, fd tables, file-system contexts, signal handlers,
 * semaphore undo lists and epoll targets; what an unprivileged process may
 * take, compare and signal.  Prints results, relations and errno names only.
 */
#include "sys_report.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PIDFD_NONBLOCK O_NONBLOCK
#define PIDFD_THREAD O_EXCL
#define PIDFD_SIGNAL_THREAD 1
#define PIDFD_SIGNAL_THREAD_GROUP 2
#define PIDFD_SIGNAL_PROCESS_GROUP 4
#define PIDFD_SELF_THREAD -10000
#define PIDFD_SELF_THREAD_GROUP -10001

static int report_pipe[2];

static long pidfd_open(pid_t pid, unsigned flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

static long send_sig(int pidfd, int sig, siginfo_t *info, unsigned flags)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags);
}

static long getfd(int pidfd, int fd, unsigned flags)
{
	return syscall(SYS_pidfd_getfd, pidfd, fd, flags);
}

static int poll_fd(int fd, int timeout)
{
	struct pollfd p = { fd, POLLIN | POLLOUT | POLLPRI, 0 };
	int n = poll(&p, 1, timeout);
	return n < 0 ? -1 : p.revents;
}

/* /proc/self/fdinfo of `fd`, with the mount id and inode reduced to their presence and
 * the pid lines to their relation with `pid`. */
static void show_fdinfo(const char *label, int fd, pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("%s: %s\n", label, errname(errno));
		return;
	}
	printf("%s:\n", label);
	while (fgets(line, sizeof line, f)) {
		char key[32];
		long long v;
		if (sscanf(line, "%31[^:]:\t%lld", key, &v) != 2)
			printf("  unparsed %s", line);
		else if (!strcmp(key, "mnt_id") || !strcmp(key, "ino"))
			printf("  %s present\n", key);
		else if (!strcmp(key, "Pid") || !strcmp(key, "NSpid"))
			printf("  %s %s\n", key, v == pid ? "as named" : v == -1 ? "-1" : "other");
		else
			printf("  %s", line);
	}
	fclose(f);
}

/* A child that waits for signals and reports each one's code and value. */
static void on_usr1(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	int msg[3] = { sig, si->si_code, si->si_value.sival_int };
	write(report_pipe[1], msg, sizeof msg);
}

static pid_t signal_child(int own_group)
{
	pid_t c = fork();
	if (c == 0) {
		if (own_group)
			setpgid(0, 0);
		for (;;)
			pause();
	}
	if (own_group)
		setpgid(c, c);
	return c;
}

static void show_report(const char *label)
{
	int msg[3];
	if (read(report_pipe[0], msg, sizeof msg) != sizeof msg) {
		printf("%s: nothing\n", label);
		return;
	}
	printf("%s: sig %d code %d value %d\n", label, msg[0], msg[1], msg[2]);
}

static int leader_gate[2];

static void *wait_gate(void *arg)
{
	char c;
	read(leader_gate[0], &c, 1);
	return arg;
}

/* A process whose leader exits before its other thread: its pidfd is not readable and
 * waitid finds nothing until the thread ends too. */
static void test_leader_exits_first(void)
{
	pipe(leader_gate);
	int ready[2];
	pipe(ready);
	pid_t c = fork();
	if (c == 0) {
		pthread_t t;
		pthread_create(&t, NULL, wait_gate, NULL);
		write(ready[1], "", 1);
		syscall(SYS_exit, 0);
	}
	int pfd = pidfd_open(c, 0);
	char x;
	read(ready[0], &x, 1);
	usleep(100000);
	printf("leader gone, thread running: poll %#x\n", poll_fd(pfd, 0));
	siginfo_t si;
	memset(&si, 0, sizeof si);
	R("  waitid WNOHANG", waitid(P_PIDFD, pfd, &si, WEXITED | WNOHANG));
	printf("  found %d\n", si.si_pid != 0);
	write(leader_gate[1], "", 1);
	printf("  after the thread ends: poll %#x\n", poll_fd(pfd, 5000));
	R("  waitid", waitid(P_PIDFD, pfd, &si, WEXITED));
	printf("  code %d status %d\n", si.si_code, si.si_status);
	close(pfd);
}

static void test_pidfd(void)
{
	printf("-- pidfd_open and exit\n");
	pid_t c = signal_child(0);
	int pfd = pidfd_open(c, 0);
	fact("pidfd_open of a child", pfd >= 0);
	char link[64] = { 0 }, path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", pfd);
	readlink(path, link, sizeof link - 1);
	printf("  link %s\n", link);
	struct stat st;
	fstat(pfd, &st);
	printf("  mode %o, F_GETFL %#x, FD_CLOEXEC %d\n", st.st_mode, fcntl(pfd, F_GETFL),
	       fcntl(pfd, F_GETFD) & FD_CLOEXEC);
	int pfd2 = pidfd_open(c, PIDFD_NONBLOCK);
	printf("  nonblocking: F_GETFL %#x\n", fcntl(pfd2, F_GETFL));
	struct stat st2;
	fstat(pfd2, &st2);
	fact("  two pidfds of one process have one inode", st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
	char buf[8];
	show_fdinfo("fdinfo", pfd, c);
	show_fdinfo("fdinfo of the nonblocking one", pfd2, c);
	R("read", read(pfd, buf, sizeof buf));
	R("write", write(pfd, buf, sizeof buf));
	R("lseek", lseek(pfd, 0, SEEK_SET));
	printf("poll while it runs: %#x\n", poll_fd(pfd, 0));
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 };
	R("epoll_ctl add", epoll_ctl(ep, EPOLL_CTL_ADD, pfd, &ev));
	R("epoll_wait while it runs", epoll_wait(ep, &ev, 1, 0));
	siginfo_t si;
	memset(&si, 0, sizeof si);
	R("waitid P_PIDFD on a nonblocking pidfd while it runs", waitid(P_PIDFD, pfd2, &si, WEXITED));
	R("  and with WNOHANG", waitid(P_PIDFD, pfd2, &si, WEXITED | WNOHANG));
	printf("  si_pid %d\n", si.si_pid);
	R("pidfd_send_signal 0", send_sig(pfd, 0, NULL, 0));
	R("pidfd_send_signal SIGTERM", send_sig(pfd, SIGTERM, NULL, 0));
	printf("poll after the exit: %#x\n", poll_fd(pfd, 5000));
	memset(&ev, 0, sizeof ev);
	R("epoll_wait after the exit", epoll_wait(ep, &ev, 1, 5000));
	printf("  events %#x data %llu\n", ev.events, (unsigned long long)ev.data.u64);
	R("pidfd_send_signal to the zombie", send_sig(pfd, SIGTERM, NULL, 0));
	R("pidfd_getfd of the zombie", getfd(pfd, 0, 0));
	memset(&si, 0, sizeof si);
	show_fdinfo("fdinfo of the zombie", pfd, c);
	R("waitid P_PIDFD WNOWAIT", waitid(P_PIDFD, pfd, &si, WEXITED | WNOWAIT));
	printf("  pid matches %d, code %d, status %d\n", si.si_pid == c, si.si_code, si.si_status);
	R("waitid P_PIDFD", waitid(P_PIDFD, pfd, &si, WEXITED));
	printf("poll after the reap: %#x\n", poll_fd(pfd, 0));
	show_fdinfo("fdinfo after the reap", pfd, c);
	R("pidfd_send_signal after the reap", send_sig(pfd, SIGTERM, NULL, 0));
	R("pidfd_getfd after the reap", getfd(pfd, 0, 0));
	R("waitid P_PIDFD again", waitid(P_PIDFD, pfd, &si, WEXITED));
	R("pidfd_open after the reap", pidfd_open(c, 0));
	close(ep);
	close(pfd);
	close(pfd2);

	c = fork();
	if (c == 0) {
		usleep(100000);
		_exit(3);
	}
	pfd = pidfd_open(c, 0);
	printf("blocking poll until a child exits: %#x\n", poll_fd(pfd, -1));
	R("waitid P_PIDFD", waitid(P_PIDFD, pfd, &si, WEXITED));
	printf("  code %d status %d\n", si.si_code, si.si_status);
	close(pfd);

	test_leader_exits_first();

	R("pidfd_open pid 0", pidfd_open(0, 0));
	R("pidfd_open pid -1", pidfd_open(-1, 0));
	R("pidfd_open flag 1", pidfd_open(getpid(), 1));
	R("pidfd_open of no process", pidfd_open(99999, 0));
	R("waitid P_PIDFD -1", waitid(P_PIDFD, -1, &si, WEXITED));
	R("waitid P_PIDFD on a bad fd", waitid(P_PIDFD, 999, &si, WEXITED));
	R("waitid P_PIDFD on stdout", waitid(P_PIDFD, 1, &si, WEXITED));
}

static void *thread_tid(void *arg)
{
	*(pid_t *)arg = gettid();
	return NULL;
}

static long kcmp(pid_t a, pid_t b, int type, unsigned long x, unsigned long y)
{
	return syscall(SYS_kcmp, a, b, type, x, y);
}

/* kcmp's answer as "same", "different" (checking that the two directions disagree
 * consistently) or an errno name. */
static void kc(const char *label, pid_t a, pid_t b, int type, unsigned long x, unsigned long y)
{
	errno = 0;
	long r = kcmp(a, b, type, x, y);
	if (r < 0) {
		report(label, r);
		return;
	}
	long back = kcmp(b, a, type, y, x);
	const char *what = r == 0 ? "same" : (r + back == 3 ? "different" : "inconsistent");
	printf("%s: %s\n", label, what);
}

/* As another user, a child may not take fds from, compare with or signal its root parent,
 * but may take an fd from its own child. */
static void test_getfd_permissions(void)
{
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		int ppfd = pidfd_open(parent, 0);
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) {
			printf("cannot become nobody\n");
			_exit(1);
		}
		fact("as nobody: a pidfd of root's process", ppfd >= 0);
		R("  pidfd_getfd from it", getfd(ppfd, 1, 0));
		R("  pidfd_send_signal 0 to it", send_sig(ppfd, 0, NULL, 0));
		R("  kill 0 to it", kill(parent, 0));
		R("  tgkill 0 to it", syscall(SYS_tgkill, parent, parent, 0));
		R("  kill SIGCONT to it, in its session", kill(parent, SIGCONT));
		siginfo_t qi;
		memset(&qi, 0, sizeof qi);
		qi.si_code = SI_QUEUE;
		R("  sigqueueinfo 0 to it", syscall(SYS_rt_sigqueueinfo, parent, 0, &qi));
		R("  kcmp KCMP_VM with it", kcmp(getpid(), parent, 1, 0, 0));
		R("  kcmp KCMP_FILE with it", kcmp(parent, getpid(), 0, 1, 1));
		pid_t g = signal_child(0);
		int gpfd = pidfd_open(g, 0);
		long got = getfd(gpfd, 1, 0);
		fact("  pidfd_getfd from its own child", got >= 0);
		kc("  kcmp KCMP_FILE of that fd and the child's", getpid(), g, 0, got, 1);
		kill(g, SIGKILL);
		waitpid(g, NULL, 0);
		_exit(0);
	}
	int status;
	waitpid(c, &status, 0);
	printf("  nobody's child exited %d\n", WEXITSTATUS(status));
}

static void test_send_and_getfd(void)
{
	printf("-- pidfd_send_signal\n");
	pipe(report_pipe);
	struct sigaction sa = { .sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO };
	sigaction(SIGUSR1, &sa, NULL);
	pid_t c = signal_child(0);
	int pfd = pidfd_open(c, 0);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = SIGUSR1;
	si.si_code = SI_QUEUE;
	si.si_value.sival_int = 1234;
	R("with SI_QUEUE siginfo", send_sig(pfd, SIGUSR1, &si, 0));
	show_report("  child got");
	R("without siginfo", send_sig(pfd, SIGUSR1, NULL, 0));
	show_report("  child got");
	R("PIDFD_SIGNAL_THREAD", send_sig(pfd, SIGUSR1, NULL, PIDFD_SIGNAL_THREAD));
	show_report("  child got");
	R("PIDFD_SIGNAL_THREAD_GROUP", send_sig(pfd, SIGUSR1, NULL, PIDFD_SIGNAL_THREAD_GROUP));
	show_report("  child got");
	R("PIDFD_SIGNAL_PROCESS_GROUP, not a group leader", send_sig(pfd, 0, NULL, PIDFD_SIGNAL_PROCESS_GROUP));
	si.si_code = SI_USER;
	R("posing as kill to another process", send_sig(pfd, SIGUSR1, &si, 0));
	si.si_code = SI_QUEUE;
	si.si_signo = SIGUSR2;
	R("siginfo for another signal", send_sig(pfd, SIGUSR1, &si, 0));
	R("siginfo at a bad address", send_sig(pfd, SIGUSR1, (siginfo_t *)8, 0));
	R("two scope flags", send_sig(pfd, 0, NULL, 3));
	R("an unknown flag", send_sig(pfd, 0, NULL, 8));
	R("signal 65", send_sig(pfd, 65, NULL, 0));
	R("on stdout", send_sig(1, 0, NULL, 0));
	R("on a bad fd", send_sig(999, 0, NULL, 0));
	R("PIDFD_SELF_THREAD, signal 0", send_sig(PIDFD_SELF_THREAD, 0, NULL, 0));
	R("PIDFD_SELF_THREAD_GROUP, signal 0", send_sig(PIDFD_SELF_THREAD_GROUP, 0, NULL, 0));
	si.si_signo = SIGUSR1;
	si.si_code = SI_USER;
	si.si_value.sival_int = 77;
	R("to myself posing as kill", send_sig(PIDFD_SELF_THREAD, SIGUSR1, &si, 0));
	show_report("  I got");
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	close(pfd);

	c = signal_child(1);
	pfd = pidfd_open(c, 0);
	R("PIDFD_SIGNAL_PROCESS_GROUP to a group leader", send_sig(pfd, SIGUSR1, NULL, PIDFD_SIGNAL_PROCESS_GROUP));
	show_report("  child got");
	si.si_code = SI_QUEUE;
	R("  with SI_QUEUE siginfo", send_sig(pfd, SIGUSR1, &si, PIDFD_SIGNAL_PROCESS_GROUP));
	show_report("  child got");

	pid_t tid = 0;
	pthread_t t;
	pthread_create(&t, NULL, thread_tid, &tid);
	pthread_join(t, NULL);
	R("pidfd_open of an exited thread", pidfd_open(tid, 0));

	printf("-- pidfd_getfd\n");
	int fds[2];
	pipe(fds);
	pid_t d = fork();
	if (d == 0) {
		int p[2];
		pipe(p);
		write(p[1], "from the child", 14);
		write(fds[1], &p[0], sizeof p[0]);
		pause();
		_exit(0);
	}
	int child_fd;
	read(fds[0], &child_fd, sizeof child_fd);
	int dpfd = pidfd_open(d, 0);
	long got = getfd(dpfd, child_fd, 0);
	fact("pidfd_getfd of the child's pipe", got >= 0);
	char buf[32] = { 0 };
	read(got, buf, sizeof buf - 1);
	printf("  read \"%s\", FD_CLOEXEC %d\n", buf, fcntl(got, F_GETFD) & FD_CLOEXEC);
	close(got);
	R("pidfd_getfd of a closed fd", getfd(dpfd, 500, 0));
	R("pidfd_getfd with flags", getfd(dpfd, child_fd, 1));
	R("pidfd_getfd on stdout", getfd(1, 0, 0));
	int self = pidfd_open(getpid(), 0);
	got = getfd(self, 1, 0);
	fact("pidfd_getfd of my own stdout", got >= 0);
	close(got);
	kill(d, SIGKILL);
	waitpid(d, NULL, 0);
	close(dpfd);
	close(self);
	test_getfd_permissions();
	close(pfd);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
}

static void test_clone_pidfd(void)
{
	printf("-- CLONE_PIDFD\n");
	int pidfd = -1;
	struct clone_args args;
	memset(&args, 0, sizeof args);
	args.flags = CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	long c = syscall(SYS_clone3, &args, sizeof args);
	if (c == 0)
		_exit(7);
	fact("clone3 with CLONE_PIDFD", c > 0 && pidfd >= 0);
	printf("  FD_CLOEXEC %d\n", fcntl(pidfd, F_GETFD) & FD_CLOEXEC);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	R("waitid P_PIDFD", waitid(P_PIDFD, pidfd, &si, WEXITED));
	printf("  pid matches %d, status %d\n", si.si_pid == c, si.si_status);
	close(pidfd);

	pidfd = -1;
	c = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, 0, 0);
	if (c == 0)
		_exit(8);
	fact("clone with CLONE_PIDFD", c > 0 && pidfd >= 0);
	R("waitid P_PIDFD", waitid(P_PIDFD, pidfd, &si, WEXITED));
	printf("  status %d\n", si.si_status);
	close(pidfd);

	R("clone CLONE_PIDFD|CLONE_PARENT_SETTID", syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &pidfd, 0, 0));
	pid_t ptid = 0;
	args.flags = CLONE_PIDFD | CLONE_PARENT_SETTID;
	args.parent_tid = (uint64_t)(uintptr_t)&ptid;
	c = syscall(SYS_clone3, &args, sizeof args);
	if (c == 0)
		_exit(9);
	fact("clone3 CLONE_PIDFD|CLONE_PARENT_SETTID to two places", c > 0 && ptid == c);
	waitid(P_PIDFD, pidfd, &si, WEXITED);
	close(pidfd);
	args.parent_tid = args.pidfd;
	R("clone3 CLONE_PIDFD|CLONE_PARENT_SETTID to one place", syscall(SYS_clone3, &args, sizeof args));
	args.flags = CLONE_PIDFD | CLONE_DETACHED;
	R("clone3 CLONE_PIDFD|CLONE_DETACHED", syscall(SYS_clone3, &args, sizeof args));
	args.flags = CLONE_PIDFD;
	args.pidfd = 8;
	R("clone3 CLONE_PIDFD to a bad address", syscall(SYS_clone3, &args, sizeof args));
	R("  left no child behind", waitpid(-1, NULL, WNOHANG));
}

struct parked {
	int wait_fd, tell_fd;
	pid_t tid;
};

/* A thread that tells its id and waits to be let go. */
static void *thread_park(void *arg)
{
	struct parked *p = arg;
	char c;
	p->tid = gettid();
	write(p->tell_fd, "", 1);
	read(p->wait_fd, &c, 1);
	return NULL;
}

static void test_kcmp(void)
{
	printf("-- kcmp\n");
	pid_t me = getpid();
	int nul1 = open("/dev/null", O_RDONLY), nul2 = open("/dev/null", O_RDONLY);
	int dup1 = dup(nul1);
	kc("KCMP_FILE fd vs itself", me, me, 0, nul1, nul1);
	kc("KCMP_FILE fd vs its dup", me, me, 0, nul1, dup1);
	kc("KCMP_FILE two opens", me, me, 0, nul1, nul2);
	kc("KCMP_FILE a closed fd", me, me, 0, nul1, 999);
	int ctl[2], back[2];
	pipe(ctl);
	pipe(back);
	pid_t c = fork();
	if (c == 0) {
		char x;
		read(ctl[0], &x, 1);
		_exit(0);
	}
	kc("KCMP_FILE an inherited fd", me, c, 0, nul1, nul1);
	kc("KCMP_VM with a child", me, c, 1, 0, 0);
	kc("KCMP_FILES with a child", me, c, 2, 0, 0);
	kc("KCMP_FS with a child", me, c, 3, 0, 0);
	kc("KCMP_SIGHAND with a child", me, c, 4, 0, 0);
	kc("KCMP_IO with a child", me, c, 5, 0, 0);
	kc("KCMP_SYSVSEM with a child", me, c, 6, 0, 0);
	pid_t c2 = fork();
	if (c2 == 0) {
		char y;
		read(ctl[0], &y, 1);
		_exit(0);
	}
	kc("KCMP_SYSVSEM between two children", c, c2, 6, 0, 0);
	kc("KCMP_VM between two children", c, c2, 1, 0, 0);
	int release[2];
	pipe(release);
	struct parked parked = { release[0], back[1], 0 };
	pthread_t t;
	pthread_create(&t, NULL, thread_park, &parked);
	char x;
	read(back[0], &x, 1);
	pid_t tid = parked.tid;
	kc("KCMP_VM with a thread", me, tid, 1, 0, 0);
	kc("KCMP_FILES with a thread", me, tid, 2, 0, 0);
	kc("KCMP_FS with a thread", me, tid, 3, 0, 0);
	kc("KCMP_SIGHAND with a thread", me, tid, 4, 0, 0);
	write(release[1], "", 1);
	pthread_join(t, NULL);

	int p[2];
	pipe(p);
	int ep = epoll_create1(0), notep = nul1;
	struct epoll_event ev = { .events = EPOLLIN };
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	struct { int efd, tfd; unsigned toff; } slot = { ep, p[0], 0 };
	R("KCMP_EPOLL_TFD of the registered file", kcmp(me, me, 7, p[0], (unsigned long)&slot));
	errno = 0;
	long r = kcmp(me, me, 7, p[1], (unsigned long)&slot);
	printf("KCMP_EPOLL_TFD of another file: %s\n", r > 0 ? "different" : errname(errno));
	slot.toff = 1;
	R("KCMP_EPOLL_TFD with toff 1", kcmp(me, me, 7, p[0], (unsigned long)&slot));
	slot.toff = 0;
	slot.tfd = p[1];
	R("KCMP_EPOLL_TFD of an unregistered fd", kcmp(me, me, 7, p[0], (unsigned long)&slot));
	slot.efd = notep;
	R("KCMP_EPOLL_TFD with no epoll", kcmp(me, me, 7, p[0], (unsigned long)&slot));
	slot.efd = 999;
	R("KCMP_EPOLL_TFD with a closed epoll fd", kcmp(me, me, 7, p[0], (unsigned long)&slot));
	R("KCMP_EPOLL_TFD with a bad slot", kcmp(me, me, 7, p[0], 8));
	R("type 8", kcmp(me, me, 8, 0, 0));
	R("no such process, type 8", kcmp(99999, me, 8, 0, 0));
	R("no such second process", kcmp(me, 99999, 1, 0, 0));
	write(ctl[1], "xx", 2);
	waitpid(c, NULL, 0);
	waitpid(c2, NULL, 0);
}

/* Waits (up to 5 s) for a pidfd to hang up, and gives its final poll events. */
static int poll_until_hangup(int fd)
{
	int ev = 0;
	for (int i = 0; i < 500 && !(ev & POLLHUP); i++) {
		ev = poll_fd(fd, 0);
		if (!(ev & POLLHUP))
			usleep(10000);
	}
	return ev;
}

static pid_t signalled_tid;

/* Reports a signal's code and whether the parked thread took it. */
static void on_usr2(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	int msg[3] = { sig, si->si_code, gettid() == signalled_tid };
	write(report_pipe[1], msg, sizeof msg);
}

/* clone3 of a thread that exits at once, touching no memory (its stack is ours). */
static long clone3_exiting_thread(struct clone_args *args)
{
	long ret;
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "mov $60, %%eax\n\t"
			 "xor %%edi, %%edi\n\t"
			 "syscall\n\t"
			 "1:"
			 : "=a"(ret)
			 : "a"((long)SYS_clone3), "D"(args), "S"(sizeof *args)
			 : "rcx", "r11", "memory");
	return ret;
}

static void test_thread_pidfd(void)
{
	printf("-- PIDFD_THREAD\n");
	int release[2], back[2];
	pipe(release);
	pipe(back);
	struct parked parked = { release[0], back[1], 0 };
	pthread_t t;
	pthread_create(&t, NULL, thread_park, &parked);
	char x;
	read(back[0], &x, 1);
	pid_t tid = parked.tid;
	R("pidfd_open of a running thread", pidfd_open(tid, 0));
	int a = pidfd_open(tid, PIDFD_THREAD);
	fact("pidfd_open of it with PIDFD_THREAD", a >= 0);
	printf("  F_GETFL %#x, FD_CLOEXEC %d\n", fcntl(a, F_GETFL), fcntl(a, F_GETFD) & FD_CLOEXEC);
	int n = pidfd_open(tid, PIDFD_THREAD | PIDFD_NONBLOCK);
	printf("  nonblocking: F_GETFL %#x\n", fcntl(n, F_GETFL));
	int lead = pidfd_open(getpid(), PIDFD_THREAD);
	printf("  of the leader: F_GETFL %#x\n", fcntl(lead, F_GETFL));
	show_fdinfo("  fdinfo", a, tid);
	printf("poll while it runs: %#x\n", poll_fd(a, 0));
	struct sigaction sa = { .sa_sigaction = on_usr2, .sa_flags = SA_SIGINFO | SA_RESTART };
	sigaction(SIGUSR2, &sa, NULL);
	signalled_tid = tid;
	R("pidfd_send_signal", send_sig(a, SIGUSR2, NULL, 0));
	show_report("  got (sig, code, in the thread)");
	R("pidfd_send_signal PIDFD_SIGNAL_THREAD_GROUP, signal 0", send_sig(a, 0, NULL, PIDFD_SIGNAL_THREAD_GROUP));
	R("pidfd_send_signal PIDFD_SIGNAL_PROCESS_GROUP", send_sig(a, 0, NULL, PIDFD_SIGNAL_PROCESS_GROUP));
	errno = 0;
	long got = getfd(a, 1, 0);
	printf("pidfd_getfd through it: %s\n", got >= 0 ? "an fd" : errname(errno));
	if (got >= 0)
		close(got);
	siginfo_t si;
	R("waitid P_PIDFD on it", waitid(P_PIDFD, a, &si, WEXITED | WNOHANG));
	R("waitid P_PIDFD on the leader's", waitid(P_PIDFD, lead, &si, WEXITED | WNOHANG));
	write(release[1], "", 1);
	pthread_join(t, NULL);
	printf("poll after its exit: %#x\n", poll_until_hangup(a));
	show_fdinfo("  fdinfo", a, tid);
	R("pidfd_send_signal after its exit", send_sig(a, 0, NULL, 0));
	R("pidfd_getfd after its exit", getfd(a, 1, 0));
	R("pidfd_open after its exit", pidfd_open(tid, PIDFD_THREAD));
	printf("poll of the leader's: %#x\n", poll_fd(lead, 0));
	close(a);
	close(n);
	close(lead);

	pid_t c = signal_child(0);
	int pfd = pidfd_open(c, PIDFD_THREAD);
	R("waitid P_PIDFD on a child's leader thread, WNOHANG", waitid(P_PIDFD, pfd, &si, WEXITED | WNOHANG));
	kill(c, SIGKILL);
	printf("  poll after it is killed: %#x\n", poll_fd(pfd, 5000));
	memset(&si, 0, sizeof si);
	R("  waitid", waitid(P_PIDFD, pfd, &si, WEXITED));
	printf("  pid matches %d, code %d, status %d\n", si.si_pid == c, si.si_code, si.si_status);
	printf("  poll after the reap: %#x\n", poll_fd(pfd, 0));
	close(pfd);

	int tfd = -1;
	struct clone_args args;
	memset(&args, 0, sizeof args);
	args.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
		     CLONE_SYSVSEM | CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&tfd;
	long r = clone3_exiting_thread(&args);
	fact("clone3 CLONE_THREAD|CLONE_PIDFD", r > 0 && tfd >= 0);
	printf("  F_GETFL %#x, FD_CLOEXEC %d\n", fcntl(tfd, F_GETFL), fcntl(tfd, F_GETFD) & FD_CLOEXEC);
	printf("  poll after the thread's exit: %#x\n", poll_until_hangup(tfd));
	close(tfd);
}

int main(void)
{
	report_start();
	test_pidfd();
	test_send_and_getfd();
	test_clone_pidfd();
	test_thread_pidfd();
	test_kcmp();
	return 0;
}

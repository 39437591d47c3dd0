/*
 * proc_wait: self-checking guest for wait statuses, waitid, orphans and
 * process groups.
 *
 * - Exit codes 0/1/42/255 and deaths by SIGTERM/SIGKILL/SIGSEGV (raised,
 *   sent by the parent, and a real fault) as wait4 reports them (WCOREDUMP
 *   is not printed: it depends on RLIMIT_CORE).
 * - WNOHANG with a running child, waitpid of one pid among several, wait for
 *   any child, ECHILD (no children, a pid that is not a child), wait4 with an
 *   rusage pointer, a zombie staying visible to kill(pid, 0) until reaped,
 *   stop and continue reports (WUNTRACED, WCONTINUED), and SIGCHLD set to
 *   SIG_IGN reaping children automatically.
 * - waitid: P_PID and P_ALL with WEXITED|WNOWAIT (the child stays waitable),
 *   then reaping it; siginfo fields; WNOHANG with nothing ready.
 * - Orphans: a grandchild whose parent exits is reparented; it reports only
 *   whether getppid() changed (the new parent is the sentry's pid 1 or the
 *   host's subreaper, which differ).
 * - Process groups and sessions: relations (not numbers) of setpgid,
 *   getpgid, getpgrp, setsid, getsid and their errors, and kill(0, sig) and
 *   kill(-pgid, sig) reaching every member of a group.
 *
 * Children never print; the parent prints one line per check and a summary.
 * Exit status 0 only if all passed.
 */
#define _GNU_SOURCE
#include "check.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* "exited N", "killed by SIGX", "stopped by SIGX", "continued". */
static const char *describe(int status)
{
	static char buf[64];
	if (WIFEXITED(status))
		snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof buf, "killed by SIG%s",
			 sigabbrev_np(WTERMSIG(status)));
	else if (WIFSTOPPED(status))
		snprintf(buf, sizeof buf, "stopped by SIG%s",
			 sigabbrev_np(WSTOPSIG(status)));
	else if (WIFCONTINUED(status))
		snprintf(buf, sizeof buf, "continued");
	else
		snprintf(buf, sizeof buf, "unknown %#x", status);
	return buf;
}

/* A child that blocks until `gate` is closed by the parent, then exits. */
static pid_t gated_child(int gate[2], int code)
{
	if (pipe(gate) != 0) {
		perror("pipe");
		exit(2);
	}
	pid_t pid = xfork();
	if (pid == 0) {
		char c;
		/* Drop other children's gates, so each gets its own EOF. */
		for (int fd = 3; fd < 64; fd++)
			if (fd != gate[0])
				close(fd);
		ssize_t n = read(gate[0], &c, 1);
		_exit(n >= 0 ? code : 99);
	}
	close(gate[0]);
	return pid;
}

static void test_exit_codes(void)
{
	static const int codes[] = {0, 1, 42, 255};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		pid_t pid = xfork();
		if (pid == 0)
			_exit(codes[i]);
		int status;
		pid_t got = waitpid(pid, &status, 0);
		printf("exit(%d): %s\n", codes[i], describe(status));
		CHECK("waitpid returns the child",
		      got == pid && WIFEXITED(status) &&
			      WEXITSTATUS(status) == codes[i]);
	}
	/* exit(256) is 0: only the low byte survives. */
	pid_t pid = xfork();
	if (pid == 0)
		_exit(256 + 3);
	int status;
	waitpid(pid, &status, 0);
	printf("exit(259): %s\n", describe(status));
}

static void test_signal_deaths(void)
{
	static const int sigs[] = {SIGTERM, SIGKILL, SIGSEGV};
	for (size_t i = 0; i < 3; i++) {
		/* Raised by the child itself. */
		pid_t pid = xfork();
		if (pid == 0) {
			kill(getpid(), sigs[i]);
			_exit(0);
		}
		int status;
		waitpid(pid, &status, 0);
		printf("self-sent SIG%s: %s\n", sigabbrev_np(sigs[i]),
		       describe(status));
		CHECK("WIFSIGNALED/WTERMSIG",
		      WIFSIGNALED(status) && WTERMSIG(status) == sigs[i]);

		/* Sent by the parent to a blocked child. */
		int gate[2];
		pid = gated_child(gate, 0);
		CHECK("kill child", kill(pid, sigs[i]) == 0);
		waitpid(pid, &status, 0);
		close(gate[1]);
		printf("parent-sent SIG%s: %s\n", sigabbrev_np(sigs[i]),
		       describe(status));
		CHECK("WIFSIGNALED/WTERMSIG",
		      WIFSIGNALED(status) && WTERMSIG(status) == sigs[i]);
	}
	/* A real fault: a store through a null pointer. */
	pid_t pid = xfork();
	if (pid == 0) {
		*(volatile int *)0 = 1;
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("null store: %s\n", describe(status));
	CHECK("fault is SIGSEGV",
	      WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
}

static void test_wnohang_and_selection(void)
{
	int gate[2];
	pid_t pid = gated_child(gate, 5);
	int status = -1;
	CHECK("WNOHANG with a running child returns 0",
	      waitpid(pid, &status, WNOHANG) == 0);
	CHECK("WNOHANG for any child returns 0",
	      waitpid(-1, &status, WNOHANG) == 0);
	close(gate[1]);
	CHECK("blocking wait then returns the child",
	      waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 5);

	/* Three children; release the last first, wait for the first only. */
	int gates[3][2];
	pid_t kids[3];
	for (int i = 0; i < 3; i++)
		kids[i] = gated_child(gates[i], 11 + i);
	close(gates[2][1]);
	sleep_ms(50);
	close(gates[0][1]);
	CHECK("waitpid(first) returns the first",
	      waitpid(kids[0], &status, 0) == kids[0] &&
		      WEXITSTATUS(status) == 11);
	CHECK("waitpid(third) returns the third",
	      waitpid(kids[2], &status, 0) == kids[2] &&
		      WEXITSTATUS(status) == 13);
	CHECK("second is still running",
	      waitpid(kids[1], &status, WNOHANG) == 0);
	close(gates[1][1]);
	CHECK("waitpid(second)", waitpid(kids[1], &status, 0) == kids[1] &&
					 WEXITSTATUS(status) == 12);

	/* wait() for any: every child comes back exactly once. */
	pid_t any[4];
	for (int i = 0; i < 4; i++) {
		any[i] = xfork();
		if (any[i] == 0)
			_exit(20 + i);
	}
	int seen = 0;
	for (int i = 0; i < 4; i++) {
		pid_t got = wait(&status);
		for (int j = 0; j < 4; j++)
			if (got == any[j] && WEXITSTATUS(status) == 20 + j)
				seen |= 1 << j;
	}
	CHECK("wait() returned each of four children", seen == 0xf);
	errno = 0;
	CHECK("then wait() is ECHILD", wait(&status) == -1 && errno == ECHILD);
	errno = 0;
	CHECK("waitpid(-1, WNOHANG) is ECHILD",
	      waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD);
	errno = 0;
	CHECK("waitpid of a non-child is ECHILD",
	      waitpid(getpid(), &status, 0) == -1 && errno == ECHILD);

	/* wait4 with an rusage pointer. */
	pid = xfork();
	if (pid == 0)
		_exit(4);
	struct rusage ru;
	memset(&ru, 0xff, sizeof ru);
	CHECK("wait4 with rusage",
	      wait4(pid, &status, 0, &ru) == pid && WEXITSTATUS(status) == 4);
	CHECK("rusage filled in",
	      ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 &&
		      ru.ru_utime.tv_usec < 1000000 && ru.ru_stime.tv_sec >= 0);

	/* A zombie is still a process until it is reaped. */
	pid = xfork();
	if (pid == 0)
		_exit(0);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	CHECK("zombie answers kill(pid, 0)", kill(pid, 0) == 0);
	waitpid(pid, &status, 0);
	errno = 0;
	CHECK("reaped child is ESRCH", kill(pid, 0) == -1 && errno == ESRCH);
}

static void test_stop_continue(void)
{
	int gate[2];
	pid_t pid = gated_child(gate, 0);
	int status;
	CHECK("SIGSTOP", kill(pid, SIGSTOP) == 0);
	CHECK("WUNTRACED reports the stop",
	      waitpid(pid, &status, WUNTRACED) == pid);
	printf("after SIGSTOP: %s\n", describe(status));
	CHECK("SIGCONT", kill(pid, SIGCONT) == 0);
	CHECK("WCONTINUED reports the continue",
	      waitpid(pid, &status, WCONTINUED) == pid);
	printf("after SIGCONT: %s\n", describe(status));
	close(gate[1]);
	CHECK("then it exits", waitpid(pid, &status, 0) == pid &&
				       WIFEXITED(status));
}

static void test_waitid(void)
{
	pid_t pid = xfork();
	if (pid == 0)
		_exit(9);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	CHECK("waitid P_PID WNOWAIT",
	      waitid(P_PID, pid, &si, WEXITED | WNOWAIT) == 0);
	CHECK("siginfo of the peek",
	      si.si_pid == pid && si.si_signo == SIGCHLD &&
		      si.si_code == CLD_EXITED && si.si_status == 9 &&
		      si.si_uid == getuid());
	memset(&si, 0, sizeof si);
	CHECK("waitid P_ALL WNOWAIT sees it again",
	      waitid(P_ALL, 0, &si, WEXITED | WNOWAIT) == 0 && si.si_pid == pid);
	memset(&si, 0, sizeof si);
	CHECK("waitid P_PID reaps",
	      waitid(P_PID, pid, &si, WEXITED) == 0 && si.si_pid == pid &&
		      si.si_status == 9);
	errno = 0;
	CHECK("then ECHILD", waitid(P_PID, pid, &si, WEXITED) == -1 &&
				     errno == ECHILD);

	pid = xfork();
	if (pid == 0) {
		kill(getpid(), SIGKILL);
		_exit(0);
	}
	memset(&si, 0, sizeof si);
	CHECK("waitid P_ALL of a killed child",
	      waitid(P_ALL, 0, &si, WEXITED) == 0 && si.si_pid == pid &&
		      si.si_code == CLD_KILLED && si.si_status == SIGKILL);

	int gate[2];
	pid = gated_child(gate, 1);
	memset(&si, 0xff, sizeof si);
	CHECK("waitid WNOHANG with nothing ready",
	      waitid(P_ALL, 0, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0);
	close(gate[1]);
	CHECK("waitid P_PGID of our group",
	      waitid(P_PGID, getpgrp(), &si, WEXITED) == 0 && si.si_pid == pid &&
		      si.si_status == 1);
}

static void test_sigchld_ignored(void)
{
	struct sigaction sa = {0}, old;
	sa.sa_handler = SIG_IGN;
	sigaction(SIGCHLD, &sa, &old);
	for (int i = 0; i < 3; i++) {
		pid_t pid = xfork();
		if (pid == 0)
			_exit(0);
	}
	int status;
	errno = 0;
	/* wait blocks until all are gone, then reports ECHILD. */
	CHECK("SIGCHLD ignored: children are reaped automatically",
	      wait(&status) == -1 && errno == ECHILD);
	sigaction(SIGCHLD, &old, NULL);
}

static void test_orphan(void)
{
	int report[2], sync[2];
	CHECK("pipe", pipe(report) == 0);
	pid_t pid = xfork();
	if (pid == 0) {
		pid_t middle = getpid();
		if (pipe(sync) != 0)
			_exit(1);
		pid_t gc = fork();
		if (gc == 0) {
			close(report[0]);
			close(sync[0]);
			char r = getppid() == middle ? 'p' : 'x';
			/* Let the middle process exit, then wait (up to 5 s)
			 * for the reparenting. */
			close(sync[1]);
			for (int i = 0; i < 500 && getppid() == middle; i++)
				sleep_ms(10);
			char c = getppid() != middle ? 'y' : 'n';
			char out[2] = {r, c};
			ssize_t n = write(report[1], out, 2);
			_exit(n == 2 ? 0 : 1);
		}
		close(sync[1]);
		char c;
		ssize_t n = read(sync[0], &c, 1);
		_exit(n == 0 ? 0 : 1);
	}
	close(report[1]);
	int status;
	waitpid(pid, &status, 0);
	CHECK("middle process exited", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	char in[2] = {0, 0};
	ssize_t n = read(report[0], in, 2);
	close(report[0]);
	CHECK("grandchild saw its parent first", n == 2 && in[0] == 'p');
	printf("orphan's getppid() changed after its parent exited: %s\n",
	       in[1] == 'y' ? "yes" : "no");
	CHECK("orphan reparented", in[1] == 'y');
}

static void test_groups_and_sessions(void)
{
	pid_t me = getpid();
	/*
	 * Lead our own group, so that its id is visible even when the group we
	 * were started in belongs to an outer pid namespace (getpgrp() is 0 there
	 * and a child could not be moved back into it).
	 */
	CHECK("we lead our own group", getpgrp() == me || setpgid(0, 0) == 0);
	pid_t my_pgrp = getpgrp();
	pid_t my_sid = getsid(0);
	CHECK("getpgid(0) == getpgrp()", getpgid(0) == my_pgrp);
	CHECK("getpgid(self) == getpgrp()", getpgid(me) == my_pgrp);
	CHECK("getsid(self) == getsid(0)", getsid(me) == my_sid);

	/* A fresh child is in our group and session. */
	int gate[2];
	pid_t pid = gated_child(gate, 0);
	CHECK("child starts in the parent's group", getpgid(pid) == my_pgrp);
	CHECK("child starts in the parent's session", getsid(pid) == my_sid);
	CHECK("parent moves the child to its own group",
	      setpgid(pid, pid) == 0 && getpgid(pid) == pid);
	CHECK("and back", setpgid(pid, my_pgrp) == 0 && getpgid(pid) == my_pgrp);
	errno = 0;
	CHECK("setpgid to a group that does not exist is EPERM",
	      setpgid(pid, 0x3ffffff0) == -1 && errno == EPERM);
	errno = 0;
	CHECK("setpgid negative pgid is EINVAL",
	      setpgid(pid, -5) == -1 && errno == EINVAL);
	close(gate[1]);
	waitpid(pid, NULL, 0);
	errno = 0;
	CHECK("getpgid of no process is ESRCH",
	      getpgid(0x3ffffff0) == -1 && errno == ESRCH);
	errno = 0;
	CHECK("getsid of no process is ESRCH",
	      getsid(0x3ffffff0) == -1 && errno == ESRCH);
	errno = 0;
	CHECK("kill of no group is ESRCH",
	      kill(-0x3ffffff0, SIGTERM) == -1 && errno == ESRCH);
	CHECK("kill(0, 0) reaches our group", kill(0, 0) == 0);

	/* Inside a child: setpgid(0, 0), setsid and their errors. */
	int report[2];
	CHECK("pipe", pipe(report) == 0);
	pid = xfork();
	if (pid == 0) {
		close(report[0]);
		unsigned bits = 0;
		pid_t self = getpid();
		if (setpgid(0, 0) == 0 && getpgrp() == self)
			bits |= 1; /* own group */
		if (getsid(0) == my_sid)
			bits |= 2; /* same session still */
		errno = 0;
		if (setsid() == -1 && errno == EPERM)
			bits |= 4; /* a group leader cannot setsid */
		pid_t gc = fork();
		if (gc == 0) {
			unsigned g = 0;
			if (getpgrp() == self)
				g |= 1;
			pid_t s = setsid();
			if (s == getpid() && getsid(0) == getpid() &&
			    getpgrp() == getpid())
				g |= 2;
			errno = 0;
			if (setpgid(0, self) == -1 && errno == EPERM)
				g |= 4; /* other session */
			errno = 0;
			if (setsid() == -1 && errno == EPERM)
				g |= 8; /* already a leader */
			_exit(g);
		}
		int st;
		waitpid(gc, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 15)
			bits |= 8;
		ssize_t n = write(report[1], &bits, sizeof bits);
		_exit(n == sizeof bits ? 0 : 1);
	}
	close(report[1]);
	unsigned bits = 0;
	CHECK("child report", read(report[0], &bits, sizeof bits) == sizeof bits);
	close(report[0]);
	waitpid(pid, NULL, 0);
	CHECK("setpgid(0, 0) makes a group led by the caller", bits & 1);
	CHECK("a new group stays in the session", bits & 2);
	CHECK("setsid by a group leader is EPERM", bits & 4);
	CHECK("setsid in a grandchild: new session and group, no way back",
	      bits & 8);

	/* setpgid of a grandchild (not our child) is ESRCH. */
	int gcpipe[2];
	CHECK("pipe", pipe(gcpipe) == 0);
	int hold[2];
	CHECK("pipe", pipe(hold) == 0);
	pid = xfork();
	if (pid == 0) {
		close(gcpipe[0]);
		close(hold[1]);
		pid_t gc = fork();
		if (gc == 0) {
			char c;
			ssize_t n = read(hold[0], &c, 1);
			_exit(n < 0);
		}
		ssize_t n = write(gcpipe[1], &gc, sizeof gc);
		waitpid(gc, NULL, 0);
		_exit(n != sizeof gc);
	}
	close(gcpipe[1]);
	close(hold[0]);
	pid_t gc = 0;
	CHECK("grandchild pid", read(gcpipe[0], &gc, sizeof gc) == sizeof gc);
	errno = 0;
	CHECK("setpgid of a grandchild is ESRCH",
	      setpgid(gc, gc) == -1 && errno == ESRCH);
	close(hold[1]);
	close(gcpipe[0]);
	waitpid(pid, NULL, 0);
}

/*
 * A child leads a new group with three members that wait in pause(); the
 * signal must end all three. With `self_send`, the leader sends kill(0, sig)
 * (ignoring sig itself); otherwise the parent sends kill(-pgid, sig) (the
 * leader blocks sig). The leader exits with the number of members that died
 * of sig.
 */
static void test_group_kill(int self_send, int sig)
{
	int ready[2];
	CHECK("pipe", pipe(ready) == 0);
	pid_t leader = xfork();
	if (leader == 0) {
		close(ready[0]);
		setpgid(0, 0);
		pid_t members[3];
		for (int i = 0; i < 3; i++) {
			members[i] = fork();
			if (members[i] == 0) {
				for (;;)
					pause();
			}
		}
		if (self_send) {
			signal(sig, SIG_IGN);
			kill(0, sig);
		} else {
			sigset_t set;
			sigemptyset(&set);
			sigaddset(&set, sig);
			sigprocmask(SIG_BLOCK, &set, NULL);
			ssize_t n = write(ready[1], "r", 1);
			(void)n;
		}
		int dead = 0;
		for (int i = 0; i < 3; i++) {
			int st;
			if (waitpid(members[i], &st, 0) == members[i] &&
			    WIFSIGNALED(st) && WTERMSIG(st) == sig)
				dead++;
		}
		_exit(dead);
	}
	close(ready[1]);
	if (!self_send) {
		char c;
		CHECK("group ready", read(ready[0], &c, 1) == 1);
		CHECK("kill(-pgid)", kill(-leader, sig) == 0);
	}
	close(ready[0]);
	int status;
	waitpid(leader, &status, 0);
	printf("%s SIG%s: %d of 3 members killed, leader %s\n",
	       self_send ? "kill(0)" : "kill(-pgid)", sigabbrev_np(sig),
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1, describe(status));
	CHECK("every member of the group got the signal",
	      WIFEXITED(status) && WEXITSTATUS(status) == 3);
}

int main(void)
{
	test_exit_codes();
	test_signal_deaths();
	test_wnohang_and_selection();
	test_stop_continue();
	test_waitid();
	test_sigchld_ignored();
	test_orphan();
	test_groups_and_sessions();
	test_group_kill(1, SIGUSR1);
	test_group_kill(0, SIGTERM);
	return summary();
}

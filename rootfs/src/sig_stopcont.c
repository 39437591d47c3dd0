/*
 * sig_stopcont: job-control stops of a child, as its parent sees them.
 *
 * - SIGSTOP, then SIGCONT: waitpid(WUNTRACED | WCONTINUED) reports
 *   WIFSTOPPED / WSTOPSIG and then WIFCONTINUED; each report is given once.
 * - waitid(WSTOPPED) and waitid(WCONTINUED): CLD_STOPPED / CLD_CONTINUED
 *   with si_status; WNOWAIT leaves the report in place.
 * - The parent's SIGCHLD (blocked, fetched with sigtimedwait) carries
 *   CLD_STOPPED and CLD_CONTINUED; with SA_NOCLDSTOP no SIGCHLD comes for a
 *   stop; with SIG_DFL (whose action is to ignore) a blocked SIGCHLD still
 *   stays pending.
 * - A signal with a handler sent to a stopped child stays pending until
 *   SIGCONT: the handler's write to a pipe appears only after SIGCONT.
 * - SIGTSTP with the default action stops the child too (the child is in
 *   its own process group, whose parent is in another group of the same
 *   session, so the group is not orphaned and SIGTSTP is not discarded).
 * - SIGCONT to a running child reports nothing; SIGKILL kills a stopped
 *   child (WIFSIGNALED, SIGKILL).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int report_fd = -1;

static void on_usr1(int sig)
{
	(void)!write(report_fd, "u", 1);
}

static const char *describe(int status)
{
	static char buf[64];
	if (WIFSTOPPED(status))
		snprintf(buf, sizeof(buf), "stopped by %s", strsignal(WSTOPSIG(status)));
	else if (WIFCONTINUED(status))
		snprintf(buf, sizeof(buf), "continued");
	else if (WIFEXITED(status))
		snprintf(buf, sizeof(buf), "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof(buf), "killed by %s", strsignal(WTERMSIG(status)));
	else
		snprintf(buf, sizeof(buf), "?");
	return buf;
}

static void show_wait(const char *what, pid_t child, int flags)
{
	int status = 0;
	pid_t r = waitpid(child, &status, flags);
	if (r > 0)
		printf("%s: %s\n", what, describe(status));
	else if (r == 0)
		printf("%s: nothing to report\n", what);
	else
		printf("%s: %s\n", what, strerror(errno));
}

static const char *cld_name(int code)
{
	switch (code) {
	case CLD_EXITED:
		return "CLD_EXITED";
	case CLD_KILLED:
		return "CLD_KILLED";
	case CLD_STOPPED:
		return "CLD_STOPPED";
	case CLD_CONTINUED:
		return "CLD_CONTINUED";
	default:
		return "other";
	}
}

static void show_waitid(const char *what, pid_t child, int flags)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	int r = waitid(P_PID, child, &si, flags);
	if (r != 0)
		printf("%s: %s\n", what, strerror(errno));
	else if (si.si_pid == 0)
		printf("%s: nothing to report\n", what);
	else
		printf("%s: %s, si_status %s, si_pid matches %s\n", what, cld_name(si.si_code),
		       strsignal(si.si_status), si.si_pid == child ? "yes" : "no");
}

/* The SIGCHLD the parent has pending (SIGCHLD is blocked), within
 * `wait_ms`: long when one is expected, short when none is. */
static void show_sigchld(const char *what, int wait_ms)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	struct timespec t = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
	siginfo_t si;
	int r = sigtimedwait(&set, &si, &t);
	if (r == SIGCHLD)
		printf("%s: SIGCHLD %s, si_status %s\n", what, cld_name(si.si_code),
		       si.si_code == CLD_EXITED ? "exit code" : strsignal(si.si_status));
	else
		printf("%s: no SIGCHLD (%s)\n", what, errno == EAGAIN ? "EAGAIN" : strerror(errno));
}

/* A child in its own process group that sleeps until killed, writing "u"
 * to `out` from its SIGUSR1 handler. It is returned once its handler is in
 * place: it says so through a pipe. */
static pid_t spawn(int out)
{
	int ready[2];
	pipe(ready);
	pid_t child = fork();
	if (child == 0) {
		setpgid(0, 0);
		report_fd = out;
		signal(SIGUSR1, on_usr1);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		(void)!write(ready[1], "r", 1);
		for (;;)
			pause();
	}
	setpgid(child, child);
	char c;
	if (read(ready[0], &c, 1) != 1)
		printf("child did not start\n");
	close(ready[0]);
	close(ready[1]);
	return child;
}

static void on_chld(int sig)
{
}

static void set_chld(void (*fn)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
}

static int readable(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, ms) == 1;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	set_chld(on_chld, 0);

	int p[2];
	pipe(p);
	pid_t child = spawn(p[1]);

	show_wait("nothing yet (WNOHANG|WUNTRACED|WCONTINUED)", child,
		  WNOHANG | WUNTRACED | WCONTINUED);
	kill(child, SIGSTOP);
	show_wait("after SIGSTOP, waitpid(WUNTRACED)", child, WUNTRACED);
	show_sigchld("  parent", 2000);
	show_wait("  again (WNOHANG|WUNTRACED): reported once", child, WNOHANG | WUNTRACED);

	/* SIGUSR1 to the stopped child is held until SIGCONT. */
	kill(child, SIGUSR1);
	printf("handler ran while stopped: %s\n", readable(p[0], 200) ? "yes" : "no");
	kill(child, SIGCONT);
	show_wait("after SIGCONT, waitpid(WCONTINUED)", child, WCONTINUED);
	show_sigchld("  parent", 2000);
	char c;
	printf("handler ran after SIGCONT: %s\n",
	       readable(p[0], 5000) && read(p[0], &c, 1) == 1 ? "yes" : "no");

	kill(child, SIGCONT);
	show_wait("SIGCONT to a running child (WNOHANG|WCONTINUED)", child, WNOHANG | WCONTINUED);
	show_sigchld("  parent", 100);

	/* waitid. */
	kill(child, SIGSTOP);
	show_waitid("waitid(WSTOPPED|WNOWAIT)", child, WSTOPPED | WNOWAIT);
	show_waitid("waitid(WSTOPPED)", child, WSTOPPED);
	show_waitid("waitid(WSTOPPED|WNOHANG) again", child, WSTOPPED | WNOHANG);
	show_sigchld("  parent", 2000);
	kill(child, SIGCONT);
	show_waitid("waitid(WCONTINUED)", child, WCONTINUED);
	show_sigchld("  parent", 2000);

	/* SIGTSTP's default action stops. */
	kill(child, SIGTSTP);
	show_wait("after SIGTSTP, waitpid(WUNTRACED)", child, WUNTRACED);
	show_sigchld("  parent", 2000);

	/* SIGKILL kills the stopped child. */
	kill(child, SIGKILL);
	show_wait("after SIGKILL of the stopped child", child, 0);
	show_sigchld("  parent", 2000);
	show_wait("  no child left", -1, WNOHANG);

	/* SA_NOCLDSTOP: no SIGCHLD for stops, but still for the exit. */
	set_chld(on_chld, SA_NOCLDSTOP);
	child = spawn(p[1]);
	kill(child, SIGSTOP);
	show_wait("SA_NOCLDSTOP: after SIGSTOP", child, WUNTRACED);
	show_sigchld("  parent", 200);
	kill(child, SIGCONT);
	show_wait("SA_NOCLDSTOP: after SIGCONT", child, WCONTINUED);
	show_sigchld("  parent", 200);
	kill(child, SIGTERM);
	show_wait("SA_NOCLDSTOP: after SIGTERM", child, 0);
	show_sigchld("  parent", 2000);

	/* SIGCHLD's default action is to ignore it, but a blocked signal is
	 * never discarded: it stays pending for sigtimedwait. */
	set_chld(SIG_DFL, 0);
	child = spawn(p[1]);
	kill(child, SIGSTOP);
	show_wait("SIG_DFL: after SIGSTOP", child, WUNTRACED);
	show_sigchld("  parent", 2000);
	kill(child, SIGKILL);
	show_wait("SIG_DFL: after SIGKILL", child, 0);
	show_sigchld("  parent", 2000);
	return 0;
}

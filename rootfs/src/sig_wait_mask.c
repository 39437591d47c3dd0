/*
 * sig_wait_mask: the signal masks of pselect6, ppoll and epoll_pwait, and the
 * timeouts they write back.
 *
 * - pselect6's mask ({sigset_t *, size_t} at its sixth argument) is in force
 *   during the wait: a SIGCHLD blocked outside and already pending ends the
 *   wait with EINTR at once, one that arrives during the wait ends it too
 *   (GNU make -j waits for its children so); the handler runs, and the old
 *   mask is back afterwards. A size other than 8 is EINVAL.
 * - ppoll and epoll_pwait: a pending signal the mask unblocks ends the wait,
 *   but a ready fd wins (the signal stays pending, blocked again).
 * - The raw ppoll and pselect6 syscalls write the time left back to their
 *   timeout (zero after a timeout; untouched by glibc, which passes a copy).
 */
#define _GNU_SOURCE
#include "check.h"
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>

static volatile int hits;

static void on_signal(int sig)
{
	(void)sig;
	hits++;
}

/* The sixth argument of pselect6. */
struct sigset_arg {
	const sigset_t *mask;
	size_t size;
};

static long pselect6(int nfds, fd_set *rd, struct timespec *ts, const sigset_t *mask, size_t size)
{
	struct sigset_arg arg = {mask, size};
	return syscall(SYS_pselect6, nfds, rd, NULL, NULL, ts, mask ? &arg : NULL);
}

static int blocked(int sig)
{
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, sig);
}

static int pending(int sig)
{
	sigset_t set;
	sigpending(&set);
	return sigismember(&set, sig);
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t block, none;
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &block, NULL);
	int p[2];
	if (pipe(p) != 0)
		return 2;
	fd_set rd;

	/* A child that exits before the wait: SIGCHLD pending, blocked. */
	pid_t pid = xfork();
	if (pid == 0)
		_exit(0);
	while (!pending(SIGCHLD))
		sleep_ms(10);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	hits = 0;
	check_err("pselect6 pending SIGCHLD", pselect6(p[0] + 1, &rd, NULL, &none, 8), EINTR);
	CHECK("pselect6 ran the handler", hits == 1);
	CHECK("pselect6 restored the mask", blocked(SIGCHLD));
	CHECK("child reaped", child_status(pid) == 0);

	/* A child that exits during the wait. */
	pid = xfork();
	if (pid == 0) {
		sleep_ms(100);
		_exit(0);
	}
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	hits = 0;
	check_err("pselect6 SIGCHLD during the wait", pselect6(p[0] + 1, &rd, NULL, &none, 8),
		  EINTR);
	CHECK("pselect6 ran the handler again", hits == 1);
	CHECK("child reaped again", child_status(pid) == 0);

	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	struct timespec ts = {1, 0};
	check_err("pselect6 mask size 7", pselect6(p[0] + 1, &rd, &ts, &none, 7), EINVAL);

	/* ppoll: pending signal alone, then with a ready fd. */
	struct pollfd pfd = {p[0], POLLIN, 0};
	hits = 0;
	raise(SIGUSR1);
	check_err("ppoll pending SIGUSR1", ppoll(&pfd, 1, NULL, &none), EINTR);
	CHECK("ppoll ran the handler", hits == 1 && blocked(SIGUSR1));
	raise(SIGUSR1);
	if (write(p[1], "x", 1) != 1)
		return 2;
	hits = 0;
	CHECK("ppoll: a ready fd wins over a pending signal", ppoll(&pfd, 1, NULL, &none) == 1);
	CHECK("ppoll: the signal stays pending", hits == 0 && pending(SIGUSR1));
	sigsuspend(&none);
	CHECK("sigsuspend delivers it", hits == 1);
	char c;
	if (read(p[0], &c, 1) != 1)
		return 2;

	/* epoll_pwait. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	hits = 0;
	raise(SIGUSR1);
	check_err("epoll_pwait pending SIGUSR1", epoll_pwait(ep, &ev, 1, 5000, &none), EINTR);
	CHECK("epoll_pwait ran the handler", hits == 1 && blocked(SIGUSR1));

	/* Timeouts written back. */
	ts = (struct timespec){0, 50 * 1000 * 1000};
	long n = syscall(SYS_ppoll, &pfd, 1, &ts, NULL, 8);
	CHECK("raw ppoll times out and zeroes its timeout", n == 0 && ts.tv_sec == 0 && ts.tv_nsec == 0);
	ts = (struct timespec){0, 50 * 1000 * 1000};
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	n = pselect6(p[0] + 1, &rd, &ts, NULL, 0);
	CHECK("raw pselect6 times out and zeroes its timeout", n == 0 && ts.tv_sec == 0 && ts.tv_nsec == 0);
	if (write(p[1], "x", 1) != 1)
		return 2;
	ts = (struct timespec){100, 0};
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	n = pselect6(p[0] + 1, &rd, &ts, NULL, 0);
	CHECK("raw pselect6 ready: time left written back", n == 1 && ts.tv_sec >= 98 && ts.tv_sec < 100);
	ts = (struct timespec){100, 0};
	n = syscall(SYS_ppoll, &pfd, 1, &ts, NULL, 8);
	CHECK("raw ppoll ready: time left written back", n == 1 && ts.tv_sec >= 98 && ts.tv_sec < 100);
	return summary_of("sig_wait_mask");
}

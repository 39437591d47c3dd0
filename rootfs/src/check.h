/*
 * check.h: the self-checking guests' helpers.  Each check prints one line,
 * `NAME: ok` or `NAME: FAIL (what, errno ENAME)`, and is counted; the guest
 * ends with a summary line and returns its exit status (0 only if every check
 * passed).  Also what those guests do around their checks: fork with stdout
 * flushed, wait for a child's exit status, sleep.
 */
#ifndef CHECK_H
#define CHECK_H

#include "sys_report.h" /* errname */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int checks, failures;

/* Each line is flushed, so that a child forked later does not repeat it. */
static inline void check(const char *name, int ok, const char *what)
{
	checks++;
	if (ok) {
		printf("%s: ok\n", name);
	} else {
		failures++;
		printf("%s: FAIL (%s, errno %s)\n", name, what, errname(errno));
	}
	fflush(stdout);
}

#define CHECK(name, cond) check(name, (cond), #cond)

/* A call that must fail with errno E: `NAME: ok`. */
#define CHECK_ERR(name, call, E)                                                \
	do {                                                                    \
		errno = 0;                                                      \
		long r_ = (long)(call);                                         \
		check(name, r_ == -1 && errno == (E), #call " fails with " #E); \
	} while (0)

/* A call that returned ret must have failed with errno want: `NAME: EWANT`. */
static inline void check_err(const char *name, long ret, int want)
{
	checks++;
	if (ret == -1 && errno == want) {
		printf("%s: %s\n", name, errname(want));
	} else {
		failures++;
		printf("%s: FAIL (ret %ld errno %s, want %s)\n", name, ret,
		       ret == -1 ? errname(errno) : "0", errname(want));
	}
	fflush(stdout);
}

/* `N checks, F failed`; returns the exit status. */
static inline int summary(void)
{
	printf("%d checks, %d failed\n", checks, failures);
	return failures != 0;
}

/* `PROGRAM: all N checks ok` or `PROGRAM: F of N checks FAILED`; returns the
 * exit status. */
static inline int summary_of(const char *program)
{
	if (failures)
		printf("%s: %d of %d checks FAILED\n", program, failures, checks);
	else
		printf("%s: all %d checks ok\n", program, checks);
	return failures != 0;
}

/* Forks with stdout flushed, so buffered output is never duplicated; exits 2
 * if fork fails. */
static inline pid_t xfork(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	return pid;
}

/* Waits for child pid: its exit code, 128 + the signal that killed it, or -1
 * if it cannot be waited for. */
static inline int child_status(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The absolute time ms milliseconds from now on clock (for timed waits). */
static inline struct timespec deadline_in_ms(clockid_t clock, long ms)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	ts.tv_nsec += ms * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	return ts;
}

/* Sleeps ms milliseconds, through interruptions by signal handlers. */
static inline void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

#endif

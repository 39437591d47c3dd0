/*
 * sig_alarm_eintr: SIGALRM interrupting blocking syscalls, with and without
 * SA_RESTART.
 *
 * - read from an empty pipe: EINTR without SA_RESTART; with SA_RESTART the
 *   read restarts transparently and returns the data a child writes later.
 *   The child writes only once the handler has run (the handler wakes it
 *   through a second pipe), so the order is fixed and nothing is timed.
 * - waitpid: EINTR without SA_RESTART, restarted with it.
 * - nanosleep, pause, poll and select: EINTR even with SA_RESTART (Linux
 *   never restarts them after a handler ran); nanosleep reports a plausible
 *   remaining time.
 * - An ignored or a blocked SIGALRM interrupts nothing.
 *
 * Timers are 50-100 ms one-shot ITIMER_REAL timers; only bounds that hold
 * on any machine are printed ("plausible"), never times.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int handled;
static int go_fd = -1;	/* the handler writes one byte here, if set */

static void on_alarm(int sig)
{
	handled++;
	if (go_fd >= 0) {
		char c = 'g';
		(void)!write(go_fd, &c, 1);
	}
}

static void set_handler(void (*fn)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
}

static void arm_ms(long ms)
{
	struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static const char *err(long r)
{
	if (r >= 0)
		return "ok";
	return errno == EINTR ? "EINTR" : strerror(errno);
}

/* Forks a child that waits for the handler's byte on `go[0]`, then writes
 * "data" to `out` (if >= 0) and exits with `code`. */
static pid_t spawn_waker(int go[2], int out, int code)
{
	pid_t pid = fork();
	if (pid == 0) {
		close(go[1]);
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(99);
		if (out >= 0 && write(out, "data", 4) != 4)
			_exit(98);
		_exit(code);
	}
	close(go[0]);
	go_fd = go[1];
	return pid;
}

static void reap(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	go_fd = -1;
}

static void read_cases(void)
{
	for (int restart = 0; restart <= 1; restart++) {
		int data[2], go[2];
		pipe(data);
		pipe(go);
		pid_t child = spawn_waker(go, data[1], 0);
		set_handler(on_alarm, restart ? SA_RESTART : 0);
		handled = 0;
		arm_ms(100);
		char buf[16] = {0};
		long r = read(data[0], buf, sizeof(buf) - 1);
		const char *e = err(r);
		printf("read %s SA_RESTART: returned %ld %s", restart ? "with" : "without", r, e);
		if (r > 0)
			printf(" '%s'", buf);
		printf(", handler ran %d\n", handled);
		if (r < 0) {
			/* The child has been woken: its data is there now. */
			r = read(data[0], buf, sizeof(buf) - 1);
			printf("  next read: %ld '%s'\n", r, r > 0 ? buf : "");
		}
		reap(child);
		close(data[0]);
		close(data[1]);
		close(go[1]);
	}
}

static void wait_cases(void)
{
	for (int restart = 0; restart <= 1; restart++) {
		int go[2];
		pipe(go);
		pid_t child = spawn_waker(go, -1, 7);
		set_handler(on_alarm, restart ? SA_RESTART : 0);
		handled = 0;
		arm_ms(100);
		int status = 0;
		long r = waitpid(child, &status, 0);
		printf("waitpid %s SA_RESTART: %s, handler ran %d", restart ? "with" : "without",
		       r == child ? "child" : err(r), handled);
		if (r == child)
			printf(", exit status %d", WEXITSTATUS(status));
		printf("\n");
		if (r < 0) {
			r = waitpid(child, &status, 0);
			printf("  waited again: %s, exit status %d\n", r == child ? "child" : err(r),
			       WEXITSTATUS(status));
		}
		go_fd = -1;
		close(go[1]);
	}
}

static void never_restarted(void)
{
	for (int restart = 0; restart <= 1; restart++) {
		const char *how = restart ? "with" : "without";
		set_handler(on_alarm, restart ? SA_RESTART : 0);

		handled = 0;
		arm_ms(100);
		struct timespec req = {2, 0}, rem = {0, 0};
		long r = nanosleep(&req, &rem);
		double left = rem.tv_sec + rem.tv_nsec / 1e9;
		printf("nanosleep(2 s) %s SA_RESTART: %s, handler ran %d, remaining time "
		       "plausible (1 s < rem < 1.96 s): %s\n",
		       how, err(r), handled, left > 1.0 && left < 1.96 ? "yes" : "no");

		handled = 0;
		arm_ms(50);
		r = pause();
		printf("pause %s SA_RESTART: %s, handler ran %d\n", how, err(r), handled);

		int p[2];
		pipe(p);
		struct pollfd pfd = {p[0], POLLIN, 0};
		handled = 0;
		arm_ms(50);
		r = poll(&pfd, 1, 5000);
		printf("poll %s SA_RESTART: %s, handler ran %d\n", how, err(r), handled);

		fd_set set;
		FD_ZERO(&set);
		FD_SET(p[0], &set);
		struct timeval tv = {5, 0};
		handled = 0;
		arm_ms(50);
		r = select(p[0] + 1, &set, NULL, NULL, &tv);
		printf("select %s SA_RESTART: %s, handler ran %d\n", how, err(r), handled);
		close(p[0]);
		close(p[1]);
	}
}

/* An ignored, then a blocked SIGALRM fires while read waits for a child
 * that writes 300 ms later: the read returns the data either way. */
static void not_interrupting(void)
{
	for (int blocked = 0; blocked <= 1; blocked++) {
		int data[2];
		pipe(data);
		pid_t child = fork();
		if (child == 0) {
			struct timespec d = {0, 300 * 1000 * 1000};
			nanosleep(&d, NULL);
			_exit(write(data[1], "late", 4) == 4 ? 0 : 1);
		}
		sigset_t set, old;
		sigemptyset(&set);
		sigaddset(&set, SIGALRM);
		if (blocked) {
			set_handler(on_alarm, 0);
			sigprocmask(SIG_BLOCK, &set, &old);
		} else {
			set_handler(SIG_IGN, 0);
		}
		handled = 0;
		arm_ms(50);
		char buf[8] = {0};
		long r = read(data[0], buf, sizeof(buf) - 1);
		printf("read with SIGALRM %s: %ld %s '%s'\n", blocked ? "blocked" : "ignored", r,
		       err(r), r > 0 ? buf : "");
		reap(child);
		if (blocked) {
			sigset_t pending;
			sigpending(&pending);
			printf("  SIGALRM pending: %s\n", sigismember(&pending, SIGALRM) ? "yes" : "no");
			sigprocmask(SIG_SETMASK, &old, NULL);
			printf("  handler ran after unblocking: %d\n", handled);
		}
		close(data[0]);
		close(data[1]);
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	read_cases();
	wait_cases();
	never_restarted();
	not_interrupting();
	return 0;
}

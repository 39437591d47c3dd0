/*
 * sig_suspend_wait: waiting for signals and the handler flags.
 *
 * - sigsuspend: a pending blocked signal runs its handler inside
 *   sigsuspend (EINTR), with sigsuspend's mask (plus the signal itself) in
 *   force, and the old mask is back afterwards; a signal from a child wakes a sigsuspend that waits.
 * - sigwaitinfo / sigtimedwait on blocked signals: si_code SI_USER for
 *   kill, SI_QUEUE with si_value for sigqueue; standard signals coalesce,
 *   real-time ones queue, each with its value, lowest number first, the
 *   thread's own (tgkill) before the process's; a timeout gives EAGAIN;
 *   rt_sigpending shows what is pending.
 * - SA_RESETHAND: the disposition is SIG_DFL after the first delivery.
 * - SA_NODEFER: a handler that raises its own signal nests; without it the
 *   raise is deferred until the handler returns.
 * - sigaltstack with SA_ONSTACK: the handler runs on the alternate stack,
 *   sees SS_ONSTACK, and a nested on-stack signal stays on that stack.
 * - signalfd: reading a blocked signal (kill and sigqueue), poll readiness,
 *   EAGAIN when empty with SFD_NONBLOCK.
 *
 * Pids are never printed, only whether they match.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int hits;
static volatile int depth, max_depth;
static volatile int usr1_blocked_in_handler, int_blocked_in_handler, usr2_blocked_in_handler;
static volatile uintptr_t handler_sp;
static volatile int handler_onstack_flag;
static volatile uintptr_t nested_sp;

static void set_action(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void block(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_BLOCK, &s, NULL);
}

static void unblock(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
}

static int is_blocked(int sig)
{
	sigset_t s;
	sigprocmask(SIG_BLOCK, NULL, &s);
	return sigismember(&s, sig);
}

static const char *yes(int b)
{
	return b ? "yes" : "no";
}

static void count(int sig)
{
	hits++;
	usr1_blocked_in_handler = is_blocked(SIGUSR1);
	int_blocked_in_handler = is_blocked(SIGINT);
	usr2_blocked_in_handler = is_blocked(SIGUSR2);
}

static const char *code_name(int code)
{
	switch (code) {
	case SI_USER:
		return "SI_USER";
	case SI_QUEUE:
		return "SI_QUEUE";
	case SI_TKILL:
		return "SI_TKILL";
	case SI_TIMER:
		return "SI_TIMER";
	default:
		return "other";
	}
}

static void suspend_cases(void)
{
	set_action(SIGUSR1, count, 0);
	block(SIGUSR1);
	block(SIGUSR2);
	hits = 0;
	kill(getpid(), SIGUSR1);
	printf("sigsuspend: handler before: %d\n", hits);
	sigset_t wait_mask;
	sigemptyset(&wait_mask);
	sigaddset(&wait_mask, SIGINT);
	int r = sigsuspend(&wait_mask);
	printf("  returned %d %s, handler ran %d\n", r, errno == EINTR ? "EINTR" : "?", hits);
	printf("  inside the handler: SIGINT blocked %s, SIGUSR1 blocked %s, SIGUSR2 blocked %s\n",
	       yes(int_blocked_in_handler), yes(usr1_blocked_in_handler),
	       yes(usr2_blocked_in_handler));
	printf("  after: SIGUSR1 blocked %s, SIGUSR2 blocked %s, SIGINT blocked %s\n",
	       yes(is_blocked(SIGUSR1)), yes(is_blocked(SIGUSR2)), yes(is_blocked(SIGINT)));

	/* A signal from a child wakes the waiting sigsuspend. */
	hits = 0;
	pid_t child = fork();
	if (child == 0) {
		struct timespec d = {0, 50 * 1000 * 1000};
		nanosleep(&d, NULL);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	sigset_t none;
	sigemptyset(&none);
	r = sigsuspend(&none);
	printf("sigsuspend woken by a child's kill: %d %s, handler ran %d\n", r,
	       errno == EINTR ? "EINTR" : "?", hits);
	waitpid(child, NULL, 0);
	unblock(SIGUSR2);
}

static void wait_cases(void)
{
	siginfo_t si;
	int rt = SIGRTMIN + 2;
	block(SIGUSR1);
	block(rt);
	block(rt + 1);

	kill(getpid(), SIGUSR1);
	kill(getpid(), SIGUSR1);
	sigset_t pending;
	sigpending(&pending);
	printf("sigpending: SIGUSR1 %s, SIGUSR2 %s\n", yes(sigismember(&pending, SIGUSR1)),
	       yes(sigismember(&pending, SIGUSR2)));
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	memset(&si, 0, sizeof(si));
	int sig = sigwaitinfo(&set, &si);
	printf("sigwaitinfo: %s, si_signo %s, si_code %s, si_pid is mine %s, si_uid is mine %s\n",
	       sig == SIGUSR1 ? "SIGUSR1" : "other", si.si_signo == SIGUSR1 ? "SIGUSR1" : "other",
	       code_name(si.si_code), yes(si.si_pid == getpid()), yes(si.si_uid == getuid()));
	struct timespec zero = {0, 0};
	sig = sigtimedwait(&set, &si, &zero);
	printf("  second SIGUSR1 coalesced: %s (%s)\n", yes(sig < 0),
	       sig < 0 && errno == EAGAIN ? "EAGAIN" : "?");

	/* Real-time signals queue, each with its value, lowest number first. */
	for (int i = 0; i < 3; i++) {
		union sigval v = {.sival_int = 100 + i};
		sigqueue(getpid(), rt + 1, v);
		v.sival_int = 200 + i;
		sigqueue(getpid(), rt, v);
	}
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), rt);
	sigemptyset(&set);
	sigaddset(&set, rt);
	sigaddset(&set, rt + 1);
	printf("queued real-time signals:");
	for (int i = 0; i < 8; i++) {
		memset(&si, 0, sizeof(si));
		sig = sigtimedwait(&set, &si, &zero);
		if (sig < 0) {
			printf(" then %s\n", errno == EAGAIN ? "EAGAIN" : "?");
			break;
		}
		printf(" RTMIN+%d/%s", sig - SIGRTMIN, code_name(si.si_code));
		if (si.si_code == SI_QUEUE)
			printf("/%d", si.si_value.sival_int);
	}

	struct timespec t50 = {0, 50 * 1000 * 1000};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sig = sigtimedwait(&set, &si, &t50);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double waited = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("sigtimedwait 50 ms with nothing pending: %d %s, waited at least 45 ms: %s\n", sig,
	       errno == EAGAIN ? "EAGAIN" : "?", yes(waited >= 0.045));
	unblock(SIGUSR1);
	unblock(rt);
	unblock(rt + 1);
}

static void resethand_case(void)
{
	hits = 0;
	set_action(SIGUSR2, count, SA_RESETHAND);
	raise(SIGUSR2);
	struct sigaction now;
	sigaction(SIGUSR2, NULL, &now);
	printf("SA_RESETHAND: handler ran %d, disposition now %s, flag kept %s\n", hits,
	       now.sa_handler == SIG_DFL ? "SIG_DFL" : "handler",
	       yes(now.sa_flags & SA_RESETHAND));
}

static void nest(int sig)
{
	depth++;
	if (depth > max_depth)
		max_depth = depth;
	hits++;
	if (hits < 5)
		raise(sig);
	depth--;
}

static void nodefer_cases(void)
{
	for (int nodefer = 0; nodefer <= 1; nodefer++) {
		hits = depth = max_depth = 0;
		set_action(SIGUSR1, nest, nodefer ? SA_NODEFER : 0);
		raise(SIGUSR1);
		printf("%s: handler ran %d times, deepest nesting %d\n",
		       nodefer ? "SA_NODEFER" : "without SA_NODEFER", hits, max_depth);
	}
}

static char altstack[64 * 1024];

static void on_alt(int sig)
{
	int local;
	stack_t now;
	sigaltstack(NULL, &now);
	if (sig == SIGUSR1) {
		handler_sp = (uintptr_t)&local;
		handler_onstack_flag = (now.ss_flags & SS_ONSTACK) != 0;
		raise(SIGUSR2);
	} else {
		nested_sp = (uintptr_t)&local;
	}
}

static void altstack_cases(void)
{
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0};
	if (sigaltstack(&ss, NULL) != 0) {
		printf("sigaltstack failed\n");
		return;
	}
	/* SIGUSR2 nests inside the SIGUSR1 handler (not in its sa_mask). */
	set_action(SIGUSR1, on_alt, SA_ONSTACK);
	set_action(SIGUSR2, on_alt, SA_ONSTACK);
	int main_local;
	raise(SIGUSR1);
	uintptr_t lo = (uintptr_t)altstack, hi = lo + sizeof(altstack);
	printf("SA_ONSTACK: handler on the alternate stack %s, SS_ONSTACK seen %s\n",
	       yes(handler_sp >= lo && handler_sp < hi), yes(handler_onstack_flag));
	printf("  nested handler on the alternate stack %s, below the first %s\n",
	       yes(nested_sp >= lo && nested_sp < hi), yes(nested_sp < handler_sp));
	printf("  main stack is not the alternate stack %s\n",
	       yes((uintptr_t)&main_local < lo || (uintptr_t)&main_local >= hi));
	stack_t now;
	sigaltstack(NULL, &now);
	printf("  after return: ss_flags %s, size kept %s\n",
	       now.ss_flags == 0 ? "0" : "nonzero", yes(now.ss_size == sizeof(altstack)));
	/* Without SA_ONSTACK the handler runs on the normal stack. */
	set_action(SIGUSR1, on_alt, 0);
	set_action(SIGUSR2, on_alt, 0);
	raise(SIGUSR1);
	printf("without SA_ONSTACK: handler on the alternate stack %s\n",
	       yes(handler_sp >= lo && handler_sp < hi));
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	sigaltstack(NULL, &now);
	printf("SS_DISABLE: ss_flags disabled %s\n", yes(now.ss_flags & SS_DISABLE));
}

static void signalfd_cases(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN + 3);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		printf("signalfd failed: %s\n", strerror(errno));
		return;
	}
	struct signalfd_siginfo info;
	long r = read(fd, &info, sizeof(info));
	printf("signalfd empty read: %ld %s\n", r, r < 0 && errno == EAGAIN ? "EAGAIN" : "?");
	struct pollfd pfd = {fd, POLLIN, 0};
	printf("  poll before: %d\n", poll(&pfd, 1, 0));

	kill(getpid(), SIGUSR2);
	union sigval v = {.sival_int = 4242};
	sigqueue(getpid(), SIGRTMIN + 3, v);
	pfd.revents = 0;
	int n = poll(&pfd, 1, 0);
	printf("  poll after kill: %d, POLLIN %s\n", n, yes(pfd.revents & POLLIN));
	struct signalfd_siginfo two[2];
	memset(two, 0, sizeof(two));
	r = read(fd, two, sizeof(two));
	printf("  read %ld bytes (%ld records)\n", r, r / (long)sizeof(info));
	for (int i = 0; i < r / (long)sizeof(info); i++) {
		struct signalfd_siginfo *s = &two[i];
		printf("  record: signo %s, code %s, pid is mine %s",
		       s->ssi_signo == SIGUSR2 ? "SIGUSR2" : s->ssi_signo == (unsigned)SIGRTMIN + 3 ? "RTMIN+3" : "other",
		       code_name(s->ssi_code), yes(s->ssi_pid == (uint32_t)getpid()));
		if (s->ssi_code == SI_QUEUE)
			printf(", value %d", s->ssi_int);
		printf("\n");
	}
	sigset_t pending;
	sigpending(&pending);
	printf("  consumed: SIGUSR2 still pending %s\n", yes(sigismember(&pending, SIGUSR2)));

	/* A blocking read is woken by a signal sent from a child. */
	int bfd = signalfd(-1, &set, 0);
	pid_t child = fork();
	if (child == 0) {
		struct timespec d = {0, 50 * 1000 * 1000};
		nanosleep(&d, NULL);
		kill(getppid(), SIGUSR2);
		_exit(0);
	}
	r = read(bfd, &info, sizeof(info));
	printf("blocking signalfd read woken by a child's kill: %ld bytes, signo %s, pid is the "
	       "child's %s\n",
	       r, info.ssi_signo == SIGUSR2 ? "SIGUSR2" : "other",
	       yes(info.ssi_pid == (uint32_t)child));
	waitpid(child, NULL, 0);
	close(bfd);
	close(fd);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	suspend_cases();
	wait_cases();
	resethand_case();
	nodefer_cases();
	altstack_cases();
	signalfd_cases();
	return 0;
}

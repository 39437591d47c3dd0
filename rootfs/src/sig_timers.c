/*
 * sig_timers: POSIX timers, interval timers, alarm() and timerfd.
 *
 * - timer_create(SIGEV_SIGNAL): the signal carries si_code SI_TIMER and the
 *   sigev_value; a periodic timer whose signal stays blocked reports the
 *   missed expirations as si_overrun, and timer_getoverrun reports the
 *   overrun of that last delivered signal; a handler sees
 *   about as many expirations (signals plus overruns) as the time allows.
 * - SIGEV_THREAD_ID: the signal goes to the chosen thread, not to the main
 *   thread that leaves it unblocked.
 * - SIGEV_NONE and timer_gettime counting down; TIMER_ABSTIME;
 *   timer_settime returning the old value; timer_delete (no signal after
 *   it, EINVAL for the deleted id).
 * - setitimer/getitimer ITIMER_REAL: periodic SIGALRM, the interval as set.
 * - alarm(): the previous alarm's remaining seconds (rounded).
 * - timerfd: periodic expiration counts, timerfd_gettime, EAGAIN when
 *   disarmed, TFD_TIMER_ABSTIME.
 *
 * Counts that depend on timing are printed only as "within [lo, hi]", with
 * upper bounds generous enough for a loaded machine (a late wake-up only
 * adds expirations).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static const char *yes(int b)
{
	return b ? "yes" : "no";
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&d, &d) < 0 && errno == EINTR)
		;
}

/* Sleeps until `ms` have passed, through interruptions by handlers. */
static void sleep_through(long ms)
{
	double end = now() + ms / 1000.0;
	while (now() < end) {
		double left = end - now();
		if (left <= 0)
			break;
		struct timespec d = {(time_t)left, (long)((left - (time_t)left) * 1e9)};
		nanosleep(&d, NULL);
	}
}

static double ts(struct timespec t)
{
	return t.tv_sec + t.tv_nsec / 1e9;
}

static const char *within(long v, long lo, long hi)
{
	static char buf[64];
	snprintf(buf, sizeof(buf), "within [%ld, %ld]: %s", lo, hi, yes(v >= lo && v <= hi));
	return buf;
}

static void block(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_BLOCK, &s, NULL);
}

static int take(int sig, siginfo_t *si, long ms)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	memset(si, 0, sizeof(*si));
	return sigtimedwait(&s, si, &t);
}

static timer_t make_timer(int notify, int sig, int value)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = notify;
	sev.sigev_signo = sig;
	sev.sigev_value.sival_int = value;
	timer_t id;
	if (timer_create(CLOCK_MONOTONIC, &sev, &id) != 0)
		printf("timer_create: %s\n", strerror(errno));
	return id;
}

static void arm(timer_t id, long first_ms, long every_ms)
{
	struct itimerspec its = {{every_ms / 1000, (every_ms % 1000) * 1000000L},
				 {first_ms / 1000, (first_ms % 1000) * 1000000L}};
	if (timer_settime(id, 0, &its, NULL) != 0)
		printf("timer_settime: %s\n", strerror(errno));
}

static volatile long expirations, signals;

static void count_timer(int sig, siginfo_t *si, void *ctx)
{
	signals++;
	expirations += 1 + si->si_overrun;
}

static void posix_signal_timers(void)
{
	int sig = SIGRTMIN;
	block(sig);
	timer_t t = make_timer(SIGEV_SIGNAL, sig, 77);
	arm(t, 50, 0);
	siginfo_t si;
	int r = take(sig, &si, 5000);
	printf("one-shot SIGEV_SIGNAL: %s, si_code %s, si_value %d, si_overrun %d\n",
	       r == sig ? "SIGRTMIN" : "none", si.si_code == SI_TIMER ? "SI_TIMER" : "other",
	       si.si_value.sival_int, si.si_overrun);
	r = take(sig, &si, 100);
	printf("  no second signal: %s\n", yes(r < 0 && errno == EAGAIN));

	/* Periodic, 10 ms, while the signal stays blocked for 100 ms. */
	arm(t, 10, 10);
	sleep_ms(100);
	r = take(sig, &si, 5000);
	int overrun = timer_getoverrun(t);
	printf("periodic 10 ms, blocked 100 ms: si_code %s, si_overrun %s, timer_getoverrun the "
	       "same: %s\n",
	       si.si_code == SI_TIMER ? "SI_TIMER" : "other", within(si.si_overrun, 3, 50),
	       yes(overrun == si.si_overrun));
	arm(t, 0, 0);
	take(sig, &si, 0);
	timer_delete(t);

	/* A handler counting expirations of a 20 ms timer for 210 ms. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = count_timer;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGRTMIN + 1, &sa, NULL);
	t = make_timer(SIGEV_SIGNAL, SIGRTMIN + 1, 0);
	expirations = signals = 0;
	arm(t, 20, 20);
	sleep_through(210);
	arm(t, 0, 0);
	printf("periodic 20 ms for 210 ms with a handler: signals >= 1: %s, expirations %s\n",
	       yes(signals >= 1), within(expirations, 6, 40));
	timer_delete(t);
}

static volatile pid_t target_tid, handler_tid;
static volatile int thread_done, thread_si_code_ok;

static void note_tid(int sig)
{
	handler_tid = (pid_t)syscall(SYS_gettid);
}

static void *target_thread(void *arg)
{
	int blocked = (int)(long)arg;
	if (blocked) {
		block(SIGUSR2);
		target_tid = (pid_t)syscall(SYS_gettid);
		siginfo_t si;
		int r = take(SIGUSR2, &si, 5000);
		thread_si_code_ok = r == SIGUSR2 && si.si_code == SI_TIMER && si.si_value.sival_int == 5;
	} else {
		target_tid = (pid_t)syscall(SYS_gettid);
		double end = now() + 5;
		while (!handler_tid && now() < end)
			sleep_ms(1);
	}
	thread_done = 1;
	return NULL;
}

static void thread_id_timers(void)
{
	signal(SIGUSR1, note_tid);
	for (int blocked = 0; blocked <= 1; blocked++) {
		target_tid = handler_tid = 0;
		thread_done = 0;
		pthread_t th;
		pthread_create(&th, NULL, target_thread, (void *)(long)blocked);
		while (!target_tid)
			sleep_ms(1);
		struct sigevent sev;
		memset(&sev, 0, sizeof(sev));
		sev.sigev_notify = SIGEV_THREAD_ID;
		sev.sigev_signo = blocked ? SIGUSR2 : SIGUSR1;
		sev.sigev_value.sival_int = 5;
		sev._sigev_un._tid = target_tid;
		timer_t t;
		if (timer_create(CLOCK_MONOTONIC, &sev, &t) != 0) {
			printf("timer_create SIGEV_THREAD_ID: %s\n", strerror(errno));
			return;
		}
		arm(t, 30, 0);
		/* The main thread does not block SIGUSR1 and waits here. */
		double end = now() + 5;
		while (!thread_done && now() < end)
			sleep_ms(1);
		pthread_join(th, NULL);
		if (blocked)
			printf("SIGEV_THREAD_ID, thread waits in sigtimedwait: SI_TIMER with value: %s\n",
			       yes(thread_si_code_ok));
		else
			printf("SIGEV_THREAD_ID: handled by the target thread: %s, by main: %s\n",
			       yes(handler_tid == target_tid),
			       yes(handler_tid == (pid_t)syscall(SYS_gettid)));
		timer_delete(t);
	}
}

static void gettime_and_delete(void)
{
	/* (Linux keeps reporting the old expiry of a disarmed SIGEV_NONE timer,
	 * so the disarmed reading is checked on a signalling timer.) */
	int sig = SIGRTMIN + 2;
	block(sig);
	struct itimerspec a, b;
	for (int none = 1; none >= 0; none--) {
		timer_t t = make_timer(none ? SIGEV_NONE : SIGEV_SIGNAL, sig, 0);
		arm(t, 1000, 0);
		timer_gettime(t, &a);
		sleep_ms(20);
		timer_gettime(t, &b);
		printf("%s armed 1 s: first reading in (0.9, 1]: %s, decreasing: %s, "
		       "interval 0: %s\n",
		       none ? "SIGEV_NONE" : "SIGEV_SIGNAL",
		       yes(ts(a.it_value) > 0.9 && ts(a.it_value) <= 1.0),
		       yes(ts(b.it_value) < ts(a.it_value)), yes(ts(b.it_interval) == 0));
		struct itimerspec zero = {{0, 0}, {0, 0}}, old;
		timer_settime(t, 0, &zero, &old);
		printf("  disarm returns the old value (0.5, 1): %s\n",
		       yes(ts(old.it_value) > 0.5 && ts(old.it_value) < 1.0));
		if (!none) {
			timer_gettime(t, &a);
			printf("  disarmed reads 0: %s\n", yes(ts(a.it_value) == 0));
		}
		timer_delete(t);
	}
	timer_t t = make_timer(SIGEV_SIGNAL, sig, 0);
	timer_delete(t);
	errno = 0;
	int r = timer_gettime(t, &a);
	printf("timer_gettime after timer_delete: %d %s\n", r, errno == EINVAL ? "EINVAL" : "?");

	t = make_timer(SIGEV_SIGNAL, sig, 1);
	arm(t, 30, 0);
	timer_delete(t);
	sleep_ms(60);
	sigset_t pending;
	sigpending(&pending);
	printf("timer deleted before expiring: signal pending %s\n",
	       yes(sigismember(&pending, sig)));

	/* TIMER_ABSTIME. */
	t = make_timer(SIGEV_SIGNAL, sig, 2);
	struct timespec nowts;
	clock_gettime(CLOCK_MONOTONIC, &nowts);
	nowts.tv_nsec += 30 * 1000000L;
	if (nowts.tv_nsec >= 1000000000L) {
		nowts.tv_sec++;
		nowts.tv_nsec -= 1000000000L;
	}
	struct itimerspec abs = {{0, 0}, nowts};
	timer_settime(t, TIMER_ABSTIME, &abs, NULL);
	siginfo_t si;
	r = take(sig, &si, 5000);
	printf("TIMER_ABSTIME 30 ms ahead: fired %s, value %d\n", yes(r == sig),
	       si.si_value.sival_int);
	timer_delete(t);
}

static volatile int alarms;

static void on_alarm(int sig)
{
	alarms++;
}

static void itimers_and_alarm(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);

	struct itimerval it = {{0, 20000}, {0, 20000}}, got;
	alarms = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	getitimer(ITIMER_REAL, &got);
	printf("setitimer 20 ms periodic: interval reads %ld us, value in (0, 20000]: %s\n",
	       (long)got.it_interval.tv_usec,
	       yes(got.it_value.tv_sec == 0 && got.it_value.tv_usec > 0 &&
		   got.it_value.tv_usec <= 20000));
	sleep_through(210);
	struct itimerval off = {{0, 0}, {0, 0}}, old;
	setitimer(ITIMER_REAL, &off, &old);
	int seen = alarms;
	printf("  SIGALRMs in 210 ms %s; old interval returned %ld us\n", within(seen, 5, 40),
	       (long)old.it_interval.tv_usec);
	getitimer(ITIMER_REAL, &got);
	printf("  after disarming: value %ld.%06ld, interval %ld.%06ld\n", (long)got.it_value.tv_sec,
	       (long)got.it_value.tv_usec, (long)got.it_interval.tv_sec,
	       (long)got.it_interval.tv_usec);
	sleep_ms(50);
	printf("  no SIGALRM after disarming: %s\n", yes(alarms == seen));

	unsigned a = alarm(10);
	unsigned b = alarm(5);
	getitimer(ITIMER_REAL, &got);
	unsigned c = alarm(0);
	printf("alarm(10) -> %u, alarm(5) -> %u, alarm(0) -> %u; getitimer after alarm(5) "
	       "in (4, 5] s: %s\n",
	       a, b, c,
	       yes((got.it_value.tv_sec == 4 && got.it_value.tv_usec > 0) ||
		   (got.it_value.tv_sec == 5 && got.it_value.tv_usec == 0)));
	alarms = 0;
	double start = now();
	alarm(1);
	while (!alarms && now() - start < 5)
		sleep_ms(10);
	double took = now() - start;
	sleep_ms(20);
	printf("alarm(1): fired once %s, not before 0.9 s %s\n", yes(alarms == 1), yes(took >= 0.9));
}

static void timerfds(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec its = {{0, 10 * 1000000L}, {0, 10 * 1000000L}};
	timerfd_settime(fd, 0, &its, NULL);
	struct itimerspec cur;
	timerfd_gettime(fd, &cur);
	printf("timerfd 10 ms periodic: interval %ld ns, value in (0, 10 ms]: %s\n",
	       cur.it_interval.tv_nsec,
	       yes(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
		   cur.it_value.tv_nsec <= 10 * 1000000L));
	sleep_ms(55);
	uint64_t n = 0;
	(void)!read(fd, &n, sizeof(n));
	printf("  expirations after 55 ms %s\n", within((long)n, 3, 40));
	(void)!read(fd, &n, sizeof(n));
	printf("  blocking read: at least one: %s\n", yes(n >= 1));

	struct itimerspec zero = {{0, 0}, {0, 0}};
	timerfd_settime(fd, 0, &zero, NULL);
	int nb = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	errno = 0;
	long r = read(nb, &n, sizeof(n));
	printf("disarmed timerfd, non-blocking read: %ld %s\n", r, errno == EAGAIN ? "EAGAIN" : "?");

	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_nsec += 20 * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	struct itimerspec abs = {{0, 0}, t};
	timerfd_settime(fd, TFD_TIMER_ABSTIME, &abs, NULL);
	r = read(fd, &n, sizeof(n));
	printf("TFD_TIMER_ABSTIME 20 ms ahead: read %ld, expirations %llu\n", r,
	       (unsigned long long)n);
	close(fd);
	close(nb);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	posix_signal_timers();
	thread_id_timers();
	gettime_and_delete();
	itimers_and_alarm();
	timerfds();
	return 0;
}

/*
 * cpu_timers: CPU-time clocks and timers, RLIMIT_CPU, per-thread names and
 * /proc/<tid>.  Timings print only as whether they are within generous
 * bounds.  With "--print-comm" it prints its own name (the exec check).
 */
#define _GNU_SOURCE
#include "check.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>

static double now_on(clockid_t c)
{
	struct timespec ts;
	if (clock_gettime(c, &ts) != 0)
		return -1;
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Spins until clock c has advanced by secs or *stop is set; returns whether
 * *stop was set.  It reads the clock only every few tens of microseconds, so
 * that under sentry too most of the time is the guest's own CPU time, not
 * syscalls. */
static int spin_on(clockid_t c, double secs, volatile sig_atomic_t *stop)
{
	double start = now_on(c);
	while (!(stop && *stop) && now_on(c) - start < secs)
		for (volatile int i = 0; i < 20000 && !(stop && *stop); i++)
			;
	return stop && *stop;
}

/* Waits (sleeping, up to 20 s of wall time) until clock c has advanced by secs
 * from `from`, so that a loaded machine only makes it slower; returns whether
 * it did. */
static int wait_for_clock(clockid_t c, double from, double secs)
{
	for (int i = 0; i < 2000; i++) {
		if (now_on(c) - from >= secs)
			return 1;
		sleep_ms(10);
	}
	return 0;
}

static const char *yesno(int b) { return b ? "yes" : "no"; }

static volatile sig_atomic_t got, count, code, value, overrun, in_tid;

static void on_info(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	got = 1;
	count++;
	code = si->si_code;
	value = si->si_value.sival_int;
	overrun = si->si_overrun;
	in_tid = syscall(SYS_gettid);
}

static void handle(int sig)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_info;
	sa.sa_flags = SA_SIGINFO;
	sigaction(sig, &sa, NULL);
	got = count = code = value = overrun = in_tid = 0;
}

static void set_itimer(int which, long value_us, long interval_us)
{
	struct itimerval it = {{interval_us / 1000000, interval_us % 1000000},
			       {value_us / 1000000, value_us % 1000000}};
	setitimer(which, &it, NULL);
}

static double tv(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }
static double ts(struct timespec t) { return t.tv_sec + t.tv_nsec / 1e9; }

/* ---- clocks ---- */

static volatile sig_atomic_t stop_spinner;

static void *spinner(void *arg)
{
	(void)arg;
	while (!stop_spinner)
		;
	return NULL;
}

static void clocks(void)
{
	double p0 = now_on(CLOCK_PROCESS_CPUTIME_ID);
	double t0 = now_on(CLOCK_THREAD_CPUTIME_ID);
	spin_on(CLOCK_THREAD_CPUTIME_ID, 0.1, NULL);
	printf("process clock advanced with the thread's: %s\n",
	       yesno(now_on(CLOCK_PROCESS_CPUTIME_ID) - p0 >= 0.09 &&
		  now_on(CLOCK_THREAD_CPUTIME_ID) - t0 >= 0.1));
	struct timespec res;
	printf("clock_getres(CLOCK_PROCESS_CPUTIME_ID): %d %s\n",
	       clock_getres(CLOCK_PROCESS_CPUTIME_ID, &res),
	       yesno(res.tv_sec == 0 && res.tv_nsec > 0));

	clockid_t self;
	int r = clock_getcpuclockid(0, &self);
	printf("clock_getcpuclockid(0): %d, reads as the process clock: %s\n", r,
	       yesno(now_on(self) >= p0 + 0.09));
	r = clock_getcpuclockid(getpid(), &self);
	printf("clock_getcpuclockid(getpid()): %d %s\n", r, yesno(now_on(self) > 0));
	clockid_t none;
	printf("clock_getcpuclockid(no such pid): %s\n",
	       errname(clock_getcpuclockid(999999, &none)));

	int pipefd[2];
	if (pipe(pipefd) != 0)
		exit(2);
	pid_t child = xfork();
	if (child == 0) {
		char c;
		spin_on(CLOCK_PROCESS_CPUTIME_ID, 0.05, NULL);
		if (read(pipefd[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	clockid_t cc;
	r = clock_getcpuclockid(child, &cc);
	double ours = now_on(CLOCK_PROCESS_CPUTIME_ID);
	int advanced = wait_for_clock(cc, now_on(cc), 0.02);
	printf("clock_getcpuclockid(child): %d, child's clock advances: %s, "
	       "not ours: %s\n",
	       r, yesno(advanced), yesno(now_on(CLOCK_PROCESS_CPUTIME_ID) - ours < 0.02));
	if (write(pipefd[1], "x", 1) != 1)
		exit(2);
	child_status(child);
	struct timespec t;
	report("a reaped child's clock", clock_gettime(cc, &t));
	close(pipefd[0]);
	close(pipefd[1]);

	pthread_t th;
	stop_spinner = 0;
	pthread_create(&th, NULL, spinner, NULL);
	clockid_t tc;
	r = pthread_getcpuclockid(th, &tc);
	double m0 = now_on(CLOCK_THREAD_CPUTIME_ID);
	advanced = wait_for_clock(tc, now_on(tc), 0.05);
	double m1 = now_on(CLOCK_THREAD_CPUTIME_ID);
	printf("pthread_getcpuclockid: %d, spinning thread's clock advances: %s, "
	       "sleeping thread's does not: %s\n",
	       r, yesno(advanced), yesno(m1 - m0 < 0.05));
	stop_spinner = 1;
	pthread_join(th, NULL);

	report("thread CPU clock with CPUCLOCK_WHICH 3",
	       clock_gettime((clockid_t)((~0u << 3) | 4 | 3), &t));
	report("clock fd 0 (CLOCKFD)", clock_gettime((clockid_t)((~0u << 3) | 3), &t));
	report("thread clock of no thread of ours",
	       clock_gettime((clockid_t)((~999999u << 3) | 4 | 2), &t));
}

/* ---- interval timers ---- */

static void itimers(void)
{
	handle(SIGVTALRM);
	set_itimer(ITIMER_VIRTUAL, 50000, 0);
	int arrived = spin_on(CLOCK_PROCESS_CPUTIME_ID, 3, &got);
	printf("SIGVTALRM arrived while spinning: %s, si_code SI_KERNEL: %s\n",
	       yesno(arrived), yesno(code == SI_KERNEL));
	struct itimerval it;
	getitimer(ITIMER_VIRTUAL, &it);
	printf("a fired one-shot ITIMER_VIRTUAL reads as disarmed: %s\n",
	       yesno(tv(it.it_value) == 0 && tv(it.it_interval) == 0));

	handle(SIGPROF);
	set_itimer(ITIMER_PROF, 1000000, 20000);
	getitimer(ITIMER_PROF, &it);
	printf("getitimer(ITIMER_PROF): interval %ld.%06ld, value within (0.9, "
	       "1.1]: %s\n",
	       (long)it.it_interval.tv_sec, (long)it.it_interval.tv_usec,
	       yesno(tv(it.it_value) > 0.9 && tv(it.it_value) <= 1.1));
	set_itimer(ITIMER_PROF, 10000, 10000);
	spin_on(CLOCK_PROCESS_CPUTIME_ID, 0.4, NULL);
	set_itimer(ITIMER_PROF, 0, 0);
	int n = count;
	printf("SIGPROF every 10 ms over 400 ms of CPU: between 5 and 60: %s, "
	       "si_code SI_KERNEL: %s\n",
	       yesno(n >= 5 && n <= 60), yesno(code == SI_KERNEL));

	struct itimerval five = {{0, 0}, {5, 0}}, zero = {{0, 0}, {0, 0}}, old;
	setitimer(ITIMER_VIRTUAL, &five, NULL);
	setitimer(ITIMER_VIRTUAL, &zero, &old);
	getitimer(ITIMER_VIRTUAL, &it);
	printf("setitimer returns the old value: %s, now disarmed: %s\n",
	       yesno(tv(old.it_value) > 4.5 && tv(old.it_value) <= 5.1),
	       yesno(tv(it.it_value) == 0));

	handle(SIGVTALRM);
	set_itimer(ITIMER_VIRTUAL, 20000, 0);
	sleep_ms(200);
	printf("ITIMER_VIRTUAL quiet while the process sleeps: %s\n", yesno(!got));
	set_itimer(ITIMER_VIRTUAL, 0, 0);

	set_itimer(ITIMER_PROF, 5000000, 0);
	pid_t child = xfork();
	if (child == 0) {
		getitimer(ITIMER_PROF, &it);
		_exit(tv(it.it_value) == 0 ? 0 : 1);
	}
	printf("a forked child has no ITIMER_PROF: %s\n", yesno(child_status(child) == 0));
	set_itimer(ITIMER_PROF, 0, 0);

	CHECK_ERR("setitimer(5)", setitimer(5, &five, NULL), EINVAL);
	struct itimerval bad = {{0, 0}, {0, 1000000}};
	CHECK_ERR("setitimer usec 1000000", setitimer(ITIMER_PROF, &bad, NULL), EINVAL);
	CHECK_ERR("getitimer(5)", getitimer(5, &it), EINVAL);
}

/* ---- POSIX timers on CPU clocks ---- */

static timer_t make_timer(clockid_t clock, int notify, int sig, int val, pid_t tid)
{
	struct sigevent ev = {0};
	ev.sigev_notify = notify;
	ev.sigev_signo = sig;
	ev.sigev_value.sival_int = val;
	ev._sigev_un._tid = tid;
	timer_t t = 0;
	if (timer_create(clock, &ev, &t) != 0)
		printf("timer_create: %s\n", errname(errno));
	return t;
}

static void arm(timer_t t, int flags, double value, double interval)
{
	struct itimerspec its = {{(time_t)interval, (long)((interval - (time_t)interval) * 1e9)},
				 {(time_t)value, (long)((value - (time_t)value) * 1e9)}};
	timer_settime(t, flags, &its, NULL);
}

static volatile sig_atomic_t thread_ok;

static void *thread_timer(void *arg)
{
	(void)arg;
	pid_t me = syscall(SYS_gettid);
	timer_t t = make_timer(CLOCK_THREAD_CPUTIME_ID, SIGEV_THREAD_ID, SIGRTMIN + 1, 7, me);
	arm(t, 0, 0.03, 0);
	int arrived = spin_on(CLOCK_THREAD_CPUTIME_ID, 3, &got);
	thread_ok = arrived && in_tid == me && code == SI_TIMER && value == 7;
	timer_delete(t);
	return NULL;
}

static void posix_timers(void)
{
	handle(SIGRTMIN);
	timer_t t = make_timer(CLOCK_PROCESS_CPUTIME_ID, SIGEV_SIGNAL, SIGRTMIN, 42, 0);
	arm(t, 0, 0.03, 0);
	int arrived = spin_on(CLOCK_PROCESS_CPUTIME_ID, 3, &got);
	printf("process CPU timer fired: %s, SI_TIMER: %s, value 42: %s\n", yesno(arrived),
	       yesno(code == SI_TIMER), yesno(value == 42));

	arm(t, 0, 10, 0.25);
	struct itimerspec cur;
	timer_gettime(t, &cur);
	printf("timer_gettime: interval %ld.%09ld, value within (9.5, 10]: %s\n",
	       (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec,
	       yesno(ts(cur.it_value) > 9.5 && ts(cur.it_value) <= 10));

	/* Overruns: expirations while the signal is blocked. */
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &block, NULL);
	handle(SIGRTMIN);
	arm(t, 0, 0.005, 0.005);
	spin_on(CLOCK_PROCESS_CPUTIME_ID, 0.2, NULL);
	siginfo_t si;
	int taken = sigwaitinfo(&block, &si);
	int later = timer_getoverrun(t);
	arm(t, 0, 0, 0);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	printf("expirations while blocked: one signal: %s, overrun at least 5: %s, "
	       "timer_getoverrun agrees: %s\n",
	       yesno(taken == SIGRTMIN), yesno(si.si_overrun >= 5), yesno(later == si.si_overrun));

	handle(SIGRTMIN);
	arm(t, TIMER_ABSTIME, 1e-9, 0);
	arrived = spin_on(CLOCK_PROCESS_CPUTIME_ID, 3, &got);
	printf("an absolute expiry already passed fires: %s\n", yesno(arrived));
	timer_delete(t);

	handle(SIGRTMIN + 1);
	pthread_t th;
	pthread_create(&th, NULL, thread_timer, NULL);
	pthread_join(th, NULL);
	printf("thread CPU timer signals its thread: %s\n", yesno(thread_ok));

	/* The main thread's clock stands still while another thread spins. */
	handle(SIGRTMIN);
	t = make_timer(CLOCK_THREAD_CPUTIME_ID, SIGEV_SIGNAL, SIGRTMIN, 1, 0);
	arm(t, 0, 0.02, 0);
	stop_spinner = 0;
	pthread_create(&th, NULL, spinner, NULL);
	sleep_ms(200);
	stop_spinner = 1;
	pthread_join(th, NULL);
	printf("sleeping thread's CPU timer quiet while another spins: %s\n", yesno(!got));
	timer_delete(t);

	/* A timer on another thread's clock. */
	stop_spinner = 0;
	pthread_create(&th, NULL, spinner, NULL);
	clockid_t tc;
	pthread_getcpuclockid(th, &tc);
	t = make_timer(tc, SIGEV_SIGNAL, SIGRTMIN, 3, 0);
	arm(t, 0, 0.03, 0);
	for (int i = 0; i < 2000 && !got; i++)
		sleep_ms(10);
	stop_spinner = 1;
	pthread_join(th, NULL);
	printf("timer on a spinning thread's clock fired: %s\n", yesno(got && value == 3));
	timer_delete(t);

	struct sigevent ev = {0};
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN;
	timer_t bad;
	report("timer_create on a thread clock with CPUCLOCK_WHICH 3",
	       timer_create((clockid_t)((~0u << 3) | 4 | 3), &ev, &bad));
	report("timer_create on clock fd 0", timer_create((clockid_t)((~0u << 3) | 3), &ev, &bad));
}

/* ---- clock_nanosleep on CPU clocks ---- */

static void on_alarm(int sig) { (void)sig; }

static void cpu_sleep(void)
{
	pthread_t th;
	stop_spinner = 0;
	pthread_create(&th, NULL, spinner, NULL);
	double p0 = now_on(CLOCK_PROCESS_CPUTIME_ID);
	struct timespec req = {0, 100000000};
	int r = clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &req, NULL);
	double used = now_on(CLOCK_PROCESS_CPUTIME_ID) - p0;
	stop_spinner = 1;
	pthread_join(th, NULL);
	printf("clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 100 ms): %d, after 100 ms "
	       "of the process's CPU: %s\n",
	       r, yesno(used >= 0.1));

	struct timespec past = {0, 1};
	printf("absolute CPU time already passed: %d\n",
	       clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &past, NULL));
	printf("CLOCK_THREAD_CPUTIME_ID through glibc: %s\n",
	       errname(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL)));
	errno = 0;
	long raw = syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL);
	printf("CLOCK_THREAD_CPUTIME_ID raw: %ld %s\n", raw, errname(errno));
	clockid_t mine;
	pthread_getcpuclockid(pthread_self(), &mine);
	printf("own thread's clock id: %s\n",
	       errname(clock_nanosleep(mine, 0, &req, NULL)));
	errno = 0;
	raw = syscall(SYS_clock_nanosleep, (clockid_t)((~0u << 3) | 3), 0, &req, NULL);
	printf("clock fd 0: %ld %s\n", raw, errname(errno));

	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	set_itimer(ITIMER_REAL, 50000, 0);
	struct timespec ten = {10, 0}, rem = {0, 0};
	r = clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &ten, &rem);
	printf("interrupted by a handler: %s, remaining within (9, 10]: %s\n", errname(r),
	       yesno(ts(rem) > 9 && ts(rem) <= 10));
}

/* ---- RLIMIT_CPU ---- */

static int xcpu_pipe;

static void on_xcpu(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	struct rlimit rl;
	getrlimit(RLIMIT_CPU, &rl);
	char msg[2] = {si->si_code == SI_KERNEL ? 'k' : '?', (char)('0' + rl.rlim_cur)};
	if (write(xcpu_pipe, msg, 2) != 2)
		_exit(3);
}

static void rlimit_cpu(void)
{
	int p[2];
	if (pipe(p) != 0)
		exit(2);
	pid_t child = xfork();
	if (child == 0) {
		close(p[0]);
		xcpu_pipe = p[1];
		struct sigaction sa = {0};
		sa.sa_sigaction = on_xcpu;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGXCPU, &sa, NULL);
		struct rlimit rl = {1, 2};
		setrlimit(RLIMIT_CPU, &rl);
		for (;;)
			;
	}
	close(p[1]);
	int status = child_status(child);
	char buf[16] = {0};
	ssize_t n = read(p[0], buf, sizeof buf - 1);
	close(p[0]);
	printf("RLIMIT_CPU {1, 2}: SIGXCPU reports (si_code, new soft limit): %.*s, "
	       "then killed by SIGKILL: %s\n",
	       (int)(n > 0 ? n : 0), buf, yesno(status == 128 + SIGKILL));
}

/* ---- names and /proc/<tid> ---- */

static char *slurp(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return strcpy(buf, errname(errno));
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static void show(const char *label, const char *s)
{
	printf("%s: \"", label);
	for (; *s; s++)
		if (*s == '\n')
			printf("\\n");
		else
			putchar(*s);
	printf("\"\n");
}

static pthread_barrier_t named, renamed, done;
static pid_t worker_tid;
static char worker_inherited[16], worker_after[16];

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = syscall(SYS_gettid);
	prctl(PR_GET_NAME, worker_inherited);
	pthread_setname_np(pthread_self(), "worker");
	pthread_barrier_wait(&named);
	pthread_barrier_wait(&renamed);
	prctl(PR_GET_NAME, worker_after);
	char path[64], link[64] = {0};
	if (readlink("/proc/thread-self", link, sizeof link - 1) < 0)
		strcpy(link, errname(errno));
	snprintf(path, sizeof path, "%d/task/%d", getpid(), worker_tid);
	printf("/proc/thread-self in the worker is <pid>/task/<tid>: %s\n",
	       yesno(strcmp(link, path) == 0));
	pthread_barrier_wait(&done);
	return NULL;
}

static int has_line(const char *text, const char *line)
{
	const char *p = strstr(text, line);
	return p && (p == text || p[-1] == '\n');
}

static void names(const char *self)
{
	prctl(PR_SET_NAME, "abcdefghijklmnopqrstuvwxyz");
	char got_name[32] = {0};
	prctl(PR_GET_NAME, got_name);
	printf("PR_SET_NAME of 26 letters keeps: %s\n", got_name);

	prctl(PR_SET_NAME, "main-name");
	pthread_barrier_init(&named, NULL, 2);
	pthread_barrier_init(&renamed, NULL, 2);
	pthread_barrier_init(&done, NULL, 2);
	pthread_t th;
	pthread_create(&th, NULL, worker, NULL);
	pthread_barrier_wait(&named);
	printf("a new thread inherits its creator's name: %s\n", worker_inherited);
	prctl(PR_GET_NAME, got_name);
	printf("the main thread's name after the worker renamed itself: %s\n", got_name);
	show("/proc/self/comm", slurp("/proc/self/comm"));
	char path[96];
	snprintf(path, sizeof path, "/proc/self/task/%d/comm", worker_tid);
	show("/proc/self/task/<worker>/comm", slurp(path));
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", worker_tid);
	printf("the worker's stat names it: %s\n", yesno(strstr(slurp(path), "(worker)") != NULL));
	printf("/proc/self/status Name is the main thread's: %s\n",
	       yesno(has_line(slurp("/proc/self/status"), "Name:\tmain-name\n")));

	char pidline[64];
	snprintf(path, sizeof path, "/proc/%d", worker_tid);
	struct stat st;
	printf("/proc/<worker tid> resolves to a directory: %s\n",
	       yesno(stat(path, &st) == 0 && S_ISDIR(st.st_mode)));
	snprintf(path, sizeof path, "/proc/%d/status", worker_tid);
	char *status = slurp(path);
	snprintf(pidline, sizeof pidline, "Pid:\t%d\n", worker_tid);
	int pid_ok = has_line(status, pidline);
	snprintf(pidline, sizeof pidline, "Tgid:\t%d\n", getpid());
	printf("/proc/<worker tid>/status: the worker's Pid, the process's Tgid, its "
	       "Name: %s %s %s\n",
	       yesno(pid_ok), yesno(has_line(status, pidline)), yesno(has_line(status, "Name:\tworker\n")));
	snprintf(path, sizeof path, "/proc/%d/comm", worker_tid);
	show("/proc/<worker tid>/comm", slurp(path));
	snprintf(path, sizeof path, "/proc/%d/task", worker_tid);
	printf("/proc/<worker tid>/task exists: %s\n", yesno(stat(path, &st) == 0));
	int listed = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (atoi(e->d_name) == worker_tid)
			listed = 1;
	if (d)
		closedir(d);
	printf("/proc lists the worker's tid: %s\n", yesno(listed));

	printf("pthread_setname_np of the worker from main: %d\n",
	       pthread_setname_np(th, "renamed"));
	char other[16] = {0};
	pthread_getname_np(th, other, sizeof other);
	printf("pthread_getname_np of the worker: %s\n", other);
	pthread_barrier_wait(&renamed);
	pthread_barrier_wait(&done);
	pthread_join(th, NULL);
	printf("the worker's own PR_GET_NAME: %s\n", worker_after);

	int fd = open("/proc/self/comm", O_WRONLY);
	ssize_t w = fd < 0 ? -1 : write(fd, "written\n", 8);
	if (fd >= 0)
		close(fd);
	printf("write to /proc/self/comm: %zd\n", w);
	show("/proc/self/comm after the write", slurp("/proc/self/comm"));
	fd = open("/proc/self/comm", O_WRONLY);
	w = fd < 0 ? -1 : write(fd, "0123456789abcdefghij", 20);
	if (fd >= 0)
		close(fd);
	printf("write of 20 bytes: %zd\n", w);
	show("/proc/self/comm after it", slurp("/proc/self/comm"));

	int p[2];
	if (pipe(p) != 0)
		exit(2);
	pid_t child = xfork();
	if (child == 0) {
		char c;
		close(p[1]);
		if (read(p[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	snprintf(path, sizeof path, "/proc/%d/comm", child);
	fd = open(path, O_WRONLY);
	errno = 0;
	w = fd < 0 ? -1 : write(fd, "x", 1);
	printf("write to another process's comm: %zd %s\n", w, errname(errno));
	if (fd >= 0)
		close(fd);
	close(p[1]);
	child_status(child);

	/* exec names the process after the file, whatever it was called. */
	fflush(stdout);
	int out[2];
	if (pipe(out) != 0)
		exit(2);
	child = xfork();
	if (child == 0) {
		dup2(out[1], 1);
		prctl(PR_SET_NAME, "before-exec");
		execl(self, "some-argv0", "--print-comm", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	char comm[64] = {0};
	ssize_t n = read(out[0], comm, sizeof comm - 1);
	close(out[0]);
	child_status(child);
	const char *base = strrchr(self, '/') ? strrchr(self, '/') + 1 : self;
	char expect[32];
	snprintf(expect, sizeof expect, "%.15s\n", base);
	printf("exec names the process after the file: %s\n",
	       yesno(n > 0 && strcmp(comm, expect) == 0));
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--print-comm") == 0) {
		fputs(slurp("/proc/self/comm"), stdout);
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	clocks();
	itimers();
	posix_timers();
	cpu_sleep();
	rlimit_cpu();
	names(argv[0]);
	return summary();
}

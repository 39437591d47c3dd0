/*
 * misc_sys: self-checking guest for process-information, time, resource,
 * poll/select and signal-state system calls.
 *
 * Prints only values that a native run and a sentry run share (uname sysname
 * and machine, the ids) and `NAME: ok` facts for the rest.  No signal is ever
 * delivered: handlers and masks are installed and read back only.  Exit
 * status 0 only if every check passed.
 */
#define _GNU_SOURCE
#include "check.h"
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int64_t ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void handler(int sig)
{
	(void)sig;
}

static void test_ids(void)
{
	struct utsname u;
	CHECK("uname", uname(&u) == 0);
	printf("uname: %s %s\n", u.sysname, u.machine);
	CHECK("getpid_positive", getpid() > 0);
	CHECK("gettid_is_getpid", syscall(SYS_gettid) == getpid());
	CHECK("getppid_not_self", getppid() != getpid());
	printf("ids: uid %d euid %d gid %d egid %d\n", (int)getuid(), (int)geteuid(),
	       (int)getgid(), (int)getegid());
	uid_t r, e, s;
	CHECK("getresuid", getresuid(&r, &e, &s) == 0 && r == getuid() && e == geteuid());
	/* 0 when the group or session leader is outside our pid namespace. */
	CHECK("getpgid_getsid", getpgid(0) >= 0 && getsid(0) >= 0 &&
	      getpgid(0) == getpgrp() && getsid(0) == getsid(getpid()));
	int n = getgroups(0, NULL);
	CHECK("getgroups", n >= 0);
}

static void test_rlimits(void)
{
	struct rlimit old, cur;
	CHECK("getrlimit_nofile", getrlimit(RLIMIT_NOFILE, &old) == 0 &&
	      old.rlim_cur <= old.rlim_max && old.rlim_cur >= 3);
	struct rlimit want = { old.rlim_cur > 64 ? 64 : old.rlim_cur, old.rlim_max };
	CHECK("setrlimit_nofile", setrlimit(RLIMIT_NOFILE, &want) == 0);
	CHECK("getrlimit_nofile_roundtrip", getrlimit(RLIMIT_NOFILE, &cur) == 0 &&
	      cur.rlim_cur == want.rlim_cur && cur.rlim_max == want.rlim_max);
	errno = 0;
	CHECK("nofile_limit_enforced", want.rlim_cur != 64 ||
	      (fcntl(0, F_DUPFD, 64) == -1 && errno == EINVAL));
	struct rlimit too_high = { want.rlim_max, want.rlim_max };
	if (too_high.rlim_max != RLIM_INFINITY)
		too_high.rlim_cur = too_high.rlim_max + 1;
	errno = 0;
	CHECK("setrlimit_soft_above_hard", too_high.rlim_max == RLIM_INFINITY ||
	      (setrlimit(RLIMIT_NOFILE, &too_high) == -1 && errno == EINVAL));
	CHECK("setrlimit_restore", setrlimit(RLIMIT_NOFILE, &old) == 0);

	struct rlimit stk, stk_new = { 0, 0 }, got;
	CHECK("prlimit64_get_stack", prlimit(0, RLIMIT_STACK, NULL, &stk) == 0 &&
	      stk.rlim_cur > 0);
	stk_new.rlim_max = stk.rlim_max;
	stk_new.rlim_cur = stk.rlim_cur == RLIM_INFINITY || stk.rlim_cur > (4 << 20) ?
			   (4 << 20) : stk.rlim_cur;
	CHECK("prlimit64_set_stack", prlimit(0, RLIMIT_STACK, &stk_new, &got) == 0 &&
	      got.rlim_cur == stk.rlim_cur && got.rlim_max == stk.rlim_max);
	CHECK("prlimit64_roundtrip", prlimit(0, RLIMIT_STACK, NULL, &got) == 0 &&
	      got.rlim_cur == stk_new.rlim_cur && got.rlim_max == stk_new.rlim_max);
	CHECK("prlimit64_restore", prlimit(0, RLIMIT_STACK, &stk, NULL) == 0);
	errno = 0;
	CHECK("getrlimit_bad_resource", getrlimit(999, &got) == -1 && errno == EINVAL);
}

static void test_time(void)
{
	struct sysinfo si;
	CHECK("sysinfo", sysinfo(&si) == 0 && si.mem_unit > 0 && si.totalram > 0 &&
	      si.uptime >= 0);
	struct tms t;
	CHECK("times", times(&t) != (clock_t)-1);
	struct rusage ru;
	CHECK("getrusage_self", getrusage(RUSAGE_SELF, &ru) == 0);
	CHECK("getrusage_children", getrusage(RUSAGE_CHILDREN, &ru) == 0);

	struct timespec a, b, c, res;
	CHECK("clock_gettime_monotonic", clock_gettime(CLOCK_MONOTONIC, &a) == 0 &&
	      clock_gettime(CLOCK_MONOTONIC, &b) == 0 && ns(b) >= ns(a));
	CHECK("clock_gettime_syscall", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &c) == 0 &&
	      ns(c) >= ns(b));
	CHECK("clock_gettime_realtime", clock_gettime(CLOCK_REALTIME, &a) == 0 &&
	      a.tv_sec > 1600000000);
	CHECK("clock_getres", clock_getres(CLOCK_MONOTONIC, &res) == 0 &&
	      res.tv_sec == 0 && res.tv_nsec > 0);
	CHECK("clock_process_cputime", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a) == 0);
	errno = 0;
	CHECK("clock_gettime_bad_clock", syscall(SYS_clock_gettime, 12345, &a) == -1 &&
	      errno == EINVAL);

	struct timespec ten_ms = { 0, 10 * 1000 * 1000 };
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK("nanosleep", nanosleep(&ten_ms, NULL) == 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK("nanosleep_slept_10ms", ns(b) - ns(a) >= 10 * 1000 * 1000);
	CHECK("clock_nanosleep", clock_nanosleep(CLOCK_MONOTONIC, 0, &ten_ms, NULL) == 0);
	struct timespec bad = { 0, 1000000000 };
	CHECK("nanosleep_bad_nsec", nanosleep(&bad, NULL) == -1 && errno == EINVAL);
}

static void test_misc(const char *self)
{
	unsigned char rnd[64] = { 0 };
	int nonzero = 0;
	CHECK("getrandom", getrandom(rnd, sizeof(rnd), 0) == 64);
	for (size_t i = 0; i < sizeof(rnd); i++)
		nonzero |= rnd[i];
	CHECK("getrandom_not_zero", nonzero);

	cpu_set_t set;
	CHECK("sched_getaffinity", sched_getaffinity(0, sizeof(set), &set) == 0 &&
	      CPU_COUNT(&set) >= 1);
	CHECK("sched_yield", sched_yield() == 0);

	struct statfs sf;
	CHECK("statfs_root", statfs("/", &sf) == 0 && sf.f_bsize > 0);
	errno = 0;
	CHECK("statfs_missing", statfs("/nonexistent-dir/x", &sf) == -1 && errno == ENOENT);

	int fd = open(self, O_RDONLY);
	struct pollfd p = { fd, POLLIN | POLLOUT, 0 };
	CHECK("poll_regular_file", poll(&p, 1, 0) == 1 && p.revents == (POLLIN | POLLOUT));
	struct pollfd bad = { 999, POLLIN, 0 };
	CHECK("poll_bad_fd_pollnval", poll(&bad, 1, 0) == 1 && bad.revents == POLLNVAL);
	CHECK("poll_timeout_nothing", poll(NULL, 0, 1) == 0);
	close(fd);

	fd_set w;
	FD_ZERO(&w);
	FD_SET(1, &w);
	struct timeval tv = { 0, 0 };
	CHECK("select_stdout_writable", select(2, NULL, &w, NULL, &tv) == 1 && FD_ISSET(1, &w));
	tv.tv_usec = 1000;
	CHECK("select_timeout", select(0, NULL, NULL, NULL, &tv) == 0);

	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	CHECK("rt_sigaction_install", sigaction(SIGUSR1, &sa, &old) == 0 &&
	      old.sa_handler == SIG_DFL);
	CHECK("rt_sigaction_read_back", sigaction(SIGUSR1, NULL, &old) == 0 &&
	      old.sa_handler == handler && (old.sa_flags & SA_RESTART) &&
	      sigismember(&old.sa_mask, SIGUSR2) && !sigismember(&old.sa_mask, SIGINT));
	errno = 0;
	CHECK("rt_sigaction_sigkill", sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL);
	sa.sa_handler = SIG_IGN;
	CHECK("rt_sigaction_ignore", sigaction(SIGUSR1, &sa, &old) == 0 &&
	      old.sa_handler == handler);

	sigset_t block, cur;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGKILL);
	CHECK("rt_sigprocmask_block", sigprocmask(SIG_BLOCK, &block, NULL) == 0);
	CHECK("rt_sigprocmask_read_back", sigprocmask(SIG_BLOCK, NULL, &cur) == 0 &&
	      sigismember(&cur, SIGUSR2) && !sigismember(&cur, SIGKILL) &&
	      !sigismember(&cur, SIGUSR1));
	CHECK("rt_sigprocmask_unblock", sigprocmask(SIG_UNBLOCK, &block, NULL) == 0 &&
	      sigprocmask(SIG_BLOCK, NULL, &cur) == 0 && !sigismember(&cur, SIGUSR2));
	sigset_t pending;
	CHECK("sigpending_empty", sigpending(&pending) == 0 && !sigismember(&pending, SIGUSR2));

	unsigned long fs = 0, self_ptr;
	CHECK("arch_prctl_get_fs", syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) == 0 && fs != 0);
	__asm__("mov %%fs:0, %0" : "=r"(self_ptr));
	CHECK("arch_prctl_fs_is_tcb", fs == self_ptr);
	CHECK("sysconf_pagesize", sysconf(_SC_PAGESIZE) == 4096);
}

/* Protection keys: pkey -1 means plain mprotect; a key never allocated is
 * EINVAL whether or not the CPU has protection keys. */
static void test_pkeys(void)
{
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("pkey_mprotect_default_key", syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, -1) == 0);
	CHECK("pkey_mprotect_unallocated_key",
	      syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, 15) == -1 && errno == EINVAL);
	CHECK("pkey_free_unallocated_key", syscall(SYS_pkey_free, 15) == -1 && errno == EINVAL);
	CHECK("pkey_alloc_bad_flags", syscall(SYS_pkey_alloc, 1, 0) == -1 && errno == EINVAL);
	munmap(p, 4096);
}

int main(int argc, char **argv)
{
	test_ids();
	test_rlimits();
	test_time();
	test_misc(argv[0]);
	test_pkeys();
	return summary_of("misc_sys");
}

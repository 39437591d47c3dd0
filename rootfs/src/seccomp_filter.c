/*
 * seccomp for guests: strict mode, classic BPF filters installed with
 * seccomp(2) and prctl(PR_SET_SECCOMP), raw BPF (no libseccomp).
 *
 * Every scenario runs in a child of its own (the parent stays unfiltered) and
 * prints deterministic lines; the parent prints how the child ended. Covered:
 * ERRNO (data 0, capping at 4095, argument and instruction-pointer checks),
 * TRAP with the SIGSYS siginfo and ucontext a handler sees (also blocked and
 * without a handler), KILL_PROCESS and KILL_THREAD wait statuses, TRACE and
 * USER_NOTIF without a tracer or listener, LOG, the precedence of stacked
 * filters, strict mode, inheritance across fork and execve (the program
 * re-executes itself with "report"), no_new_privs and the capability check,
 * TSYNC, invalid programs and arguments, GET_ACTION_AVAIL, and calls into the
 * legacy vsyscall page.
 *
 * "notif" prints what differs on purpose from a kernel with user notification
 * (the sentry answers as Linux before 5.0); "strace" makes two filtered calls
 * for the --strace test. Neither is compared with a native run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#define VSYSCALL 0xffffffffff600000UL
#define LEN(a) ((unsigned short)(sizeof(a) / sizeof((a)[0])))
#define NR_OFF offsetof(struct seccomp_data, nr)
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_HI(i) (ARG_LO(i) + 4)
#define IP_LO offsetof(struct seccomp_data, instruction_pointer)
#define IP_HI (IP_LO + 4)

static long install(struct sock_filter *f, unsigned short len, unsigned flags)
{
	struct sock_fprog prog = {len, f};
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* A filter: `ret` for syscall `nr`, ALLOW for the rest. */
static long on_nr(int nr, unsigned ret, unsigned flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, ret),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	return install(f, LEN(f), flags);
}

static void nnp(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		printf("PR_SET_NO_NEW_PRIVS failed: %s\n", strerror(errno));
}

static void show(const char *what, long r)
{
	if (r == -1)
		printf("%s: -1 errno %d\n", what, errno);
	else
		printf("%s: %ld\n", what, r);
}

/* A syscall made at one known place (never inlined): `after` is the address
 * after the syscall instruction. */
__attribute__((noinline)) static long labelled_syscall(long nr, long arg, uintptr_t *after)
{
	long ret;
	uintptr_t at;
	__asm__ volatile("lea 1f(%%rip), %1\n\tsyscall\n1:"
			 : "=a"(ret), "=&r"(at)
			 : "0"(nr), "D"(arg)
			 : "rcx", "r11", "memory");
	if (after)
		*after = at;
	return ret;
}

static void report(const char *name, int status)
{
	if (WIFEXITED(status))
		printf("%s: exited %d\n", name, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("%s: killed by signal %d%s\n", name, WTERMSIG(status),
		       WCOREDUMP(status) ? " (core)" : "");
	else
		printf("%s: status %#x\n", name, status);
}

static void scenario(const char *name, void (*fn)(void))
{
	printf("-- %s\n", name);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		fflush(stdout);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	report(name, status);
}

static void errno_action(void)
{
	nnp();
	show("install", on_nr(SYS_getpid, SECCOMP_RET_ERRNO | 77, 0));
	show("getpid", syscall(SYS_getpid));
	show("install data 0", on_nr(SYS_getppid, SECCOMP_RET_ERRNO | 0, 0));
	show("getppid", syscall(SYS_getppid));
	show("install data 5000", on_nr(SYS_getuid, SECCOMP_RET_ERRNO | 5000, 0));
	show("getuid (capped)", syscall(SYS_getuid));
	show("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));

	/* dup(fd) with fd == 0x7_000003e8 (high and low words): ERRNO 33. */
	struct sock_filter args[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_dup, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1000, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_HI(0)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 7, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 33),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	show("install args", install(args, LEN(args), 0));
	show("dup(0x7000003e8)", syscall(SYS_dup, 0x7000003e8L));
	show("dup(1000)", syscall(SYS_dup, 1000L));

	/* getegid from one call site only: the instruction pointer is the address
	 * after the syscall instruction. */
	uintptr_t site;
	labelled_syscall(SYS_getegid, 0, &site);
	struct sock_filter ip[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, IP_LO),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)site, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, IP_HI),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(site >> 32), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 11),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	show("install ip", install(ip, LEN(ip), 0));
	printf("getegid at the site: %ld\n", labelled_syscall(SYS_getegid, 0, NULL));
	printf("getegid elsewhere >= 0: %d\n", syscall(SYS_getegid) >= 0);

	/* Arithmetic and scratch memory: ERRNO(nr * 2 + 1) for getgid. */
	struct sock_filter calc[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getgid, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_ST, 3),
		BPF_STMT(BPF_LDX | BPF_MEM, 3),
		BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
		BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 1),
		BPF_STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	show("install calc", install(calc, LEN(calc), 0));
	show("getgid", syscall(SYS_getgid));
}

static volatile sig_atomic_t trap_seen;
static siginfo_t trap_info;
static long trap_rax;

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	trap_seen = sig;
	trap_info = *si;
	trap_rax = uc->uc_mcontext.gregs[REG_RAX];
	uc->uc_mcontext.gregs[REG_RAX] = 4242;
}

static void catch_sigsys(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
}

static void trap_action(void)
{
	nnp();
	catch_sigsys();
	show("install", on_nr(SYS_getpid, SECCOMP_RET_TRAP | 0x1234, 0));
	uintptr_t site;
	long r = labelled_syscall(SYS_getpid, 0x55, &site);
	printf("getpid returned %ld, handler ran for signal %d\n", r, trap_seen);
	printf("si_signo %d si_code %d si_errno %#x\n", trap_info.si_signo,
	       trap_info.si_code, trap_info.si_errno);
	printf("si_syscall %d si_arch %#x (x86_64: %d)\n", trap_info.si_syscall,
	       trap_info.si_arch, trap_info.si_arch == AUDIT_ARCH_X86_64);
	printf("si_call_addr after the syscall insn: %d\n",
	       (uintptr_t)trap_info.si_call_addr == site);
	printf("rax in the handler is the syscall number: %d\n", trap_rax == SYS_getpid);
}

static void trap_blocked(void)
{
	nnp();
	catch_sigsys();
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	sigprocmask(SIG_BLOCK, &set, NULL);
	on_nr(SYS_getpid, SECCOMP_RET_TRAP, 0);
	syscall(SYS_getpid);
	printf("survived a blocked SIGSYS\n");
}

static void trap_default(void)
{
	nnp();
	on_nr(SYS_getpid, SECCOMP_RET_TRAP, 0);
	syscall(SYS_getpid);
	printf("survived SIGSYS without a handler\n");
}

static void trap_ignored(void)
{
	nnp();
	signal(SIGSYS, SIG_IGN);
	on_nr(SYS_getpid, SECCOMP_RET_TRAP, 0);
	syscall(SYS_getpid);
	printf("survived an ignored SIGSYS\n");
}

static void kill_process(void)
{
	nnp();
	on_nr(SYS_getpid, SECCOMP_RET_KILL_PROCESS, 0);
	syscall(SYS_getpid);
	printf("survived KILL_PROCESS\n");
}

static int started[2];

static void *sleeper(void *arg)
{
	(void)arg;
	write(started[1], "", 1);
	for (;;)
		pause();
	return NULL;
}

static void kill_process_threads(void)
{
	nnp();
	pthread_t t;
	char c;
	pipe(started);
	pthread_create(&t, NULL, sleeper, NULL);
	read(started[0], &c, 1);
	on_nr(SYS_getpid, SECCOMP_RET_KILL_PROCESS, 0);
	syscall(SYS_getpid);
	printf("survived KILL_PROCESS\n");
}

static void kill_thread_alone(void)
{
	nnp();
	on_nr(SYS_getpid, SECCOMP_RET_KILL_THREAD, 0);
	syscall(SYS_getpid);
	printf("survived KILL_THREAD\n");
}

static void *getpid_thread(void *arg)
{
	(void)arg;
	syscall(SYS_getpid);
	printf("the thread survived KILL_THREAD\n");
	return NULL;
}

static void kill_thread(void)
{
	nnp();
	on_nr(SYS_getpid, SECCOMP_RET_KILL_THREAD, 0);
	pthread_t t;
	pthread_create(&t, NULL, getpid_thread, NULL);
	pthread_join(t, NULL);
	printf("joined the killed thread\n");
	_exit(5);
}

static void kill_thread_precedence(void)
{
	/* KILL_PROCESS beats KILL_THREAD: a thread's call takes the process. */
	nnp();
	on_nr(SYS_getpid, SECCOMP_RET_KILL_PROCESS, 0);
	on_nr(SYS_getpid, SECCOMP_RET_KILL_THREAD, 0);
	pthread_t t;
	pthread_create(&t, NULL, getpid_thread, NULL);
	pthread_join(t, NULL);
	printf("joined\n");
}

static void other_actions(void)
{
	nnp();
	show("install TRACE", on_nr(SYS_getpid, SECCOMP_RET_TRACE | 3, 0));
	show("getpid (no tracer)", syscall(SYS_getpid));
	show("install USER_NOTIF", on_nr(SYS_getppid, SECCOMP_RET_USER_NOTIF, 0));
	show("getppid (no listener)", syscall(SYS_getppid));
	show("install LOG", on_nr(SYS_getuid, SECCOMP_RET_LOG, 0));
	printf("getuid runs: %d\n", syscall(SYS_getuid) == getuid());
	show("install ALLOW", on_nr(SYS_getgid, SECCOMP_RET_ALLOW | 99, 0));
	printf("getgid runs: %d\n", syscall(SYS_getgid) == getgid());
	show("install unknown action", on_nr(SYS_geteuid, 0x7ffe0000, 0));
	syscall(SYS_geteuid);
	printf("survived an unknown action\n");
}

static void stacking(void)
{
	nnp();
	catch_sigsys();
	on_nr(SYS_getpid, SECCOMP_RET_LOG, 0);
	on_nr(SYS_getpid, SECCOMP_RET_ERRNO | 1, 0);
	on_nr(SYS_getpid, SECCOMP_RET_TRACE, 0);
	on_nr(SYS_getpid, SECCOMP_RET_ERRNO | 2, 0);
	on_nr(SYS_getpid, SECCOMP_RET_ALLOW, 0);
	show("ERRNO beats TRACE and LOG, newest ERRNO wins", syscall(SYS_getpid));
	on_nr(SYS_getpid, SECCOMP_RET_TRAP | 9, 0);
	long r = syscall(SYS_getpid);
	printf("TRAP beats ERRNO: returned %ld, si_errno %d\n", r, trap_info.si_errno);
	on_nr(SYS_getppid, SECCOMP_RET_ERRNO | 3, 0);
	show("each filter sees every call: getppid", syscall(SYS_getppid));
	show("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
	show("strict over filters", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL));
}

static void strict_write_exit(void)
{
	fflush(stdout);
	long r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0);
	char line[] = "strict: prctl returned 0, write works\n";
	if (r == 0)
		write(1, line, sizeof line - 1);
	syscall(SYS_exit, 3);
}

static void strict_getpid(void)
{
	fflush(stdout);
	syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
	syscall(SYS_getpid);
	syscall(SYS_exit, 0);
}

static void strict_seccomp(void)
{
	fflush(stdout);
	syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
	syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
}

static void strict_rdtsc(void)
{
	fflush(stdout);
	syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
	unsigned lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	syscall(SYS_exit, 0);
}

static void strict_vsyscall(void)
{
	fflush(stdout);
	syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
	((long (*)(long *))(VSYSCALL + 0x400))(NULL);
	syscall(SYS_exit, 0);
}

static const char *self_exe;

static void fork_and_exec(void)
{
	nnp();
	on_nr(SYS_getppid, SECCOMP_RET_ERRNO | 55, 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		show("forked child: getppid", syscall(SYS_getppid));
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	pid = vfork();
	if (pid == 0) {
		execl(self_exe, self_exe, "report", (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	report("exec'd child", status);
	execl(self_exe, self_exe, "report", (char *)NULL);
	printf("exec failed: %s\n", strerror(errno));
}

/* What an exec'd image inherited. */
static int report_self(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	show("after exec: getppid", syscall(SYS_getppid));
	show("after exec: PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
	show("after exec: PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "NoNewPrivs:", 11) || !strncmp(line, "Seccomp", 7))
			printf("after exec: %s", line);
	if (f)
		fclose(f);
	return 0;
}

static void privileges(void)
{
	show("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	show("PR_SET_NO_NEW_PRIVS 2", prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0));
	show("PR_SET_NO_NEW_PRIVS 1 with arg3", prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0));
	show("PR_GET_NO_NEW_PRIVS with arg2", prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
	if (geteuid() == 0) {
		/* Root has CAP_SYS_ADMIN: no need for no_new_privs. */
		show("root, no NNP: install", on_nr(SYS_getpid, SECCOMP_RET_ALLOW, 0));
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			printf("cannot drop root: %s\n", strerror(errno));
	}
	show("unprivileged, no NNP: install", on_nr(SYS_getpid, SECCOMP_RET_ALLOW, 0));
	show("unprivileged, no NNP: strict with args", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, (void *)1));
	show("PR_SET_NO_NEW_PRIVS", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	show("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	show("unprivileged, NNP: install", on_nr(SYS_getpid, SECCOMP_RET_ERRNO | 8, 0));
	show("getpid", syscall(SYS_getpid));
}

static void invalid(void)
{
	nnp();
	struct sock_filter ok[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_filter bad[][3] = {
		/* byte load */
		{BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), BPF_STMT(BPF_RET | BPF_A, 0)},
		/* unaligned */
		{BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), BPF_STMT(BPF_RET | BPF_A, 0)},
		/* past seccomp_data */
		{BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), BPF_STMT(BPF_RET | BPF_A, 0)},
		/* indirect load */
		{BPF_STMT(BPF_LD | BPF_W | BPF_IND, 0), BPF_STMT(BPF_RET | BPF_A, 0)},
		/* jump past the end */
		{BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0), BPF_STMT(BPF_RET | BPF_A, 0)},
		{BPF_STMT(BPF_JMP | BPF_JA, 1), BPF_STMT(BPF_RET | BPF_A, 0)},
		/* no return at the end */
		{BPF_STMT(BPF_RET | BPF_A, 0), BPF_STMT(BPF_LD | BPF_IMM, 0)},
		/* BPF_MOD */
		{BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 3), BPF_STMT(BPF_RET | BPF_A, 0)},
		/* division by zero */
		{BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), BPF_STMT(BPF_RET | BPF_A, 0)},
		/* shift by 32 */
		{BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 32), BPF_STMT(BPF_RET | BPF_A, 0)},
		/* scratch memory read before written, index out of range */
		{BPF_STMT(BPF_LD | BPF_MEM, 1), BPF_STMT(BPF_RET | BPF_A, 0)},
		{BPF_STMT(BPF_ST, 16), BPF_STMT(BPF_RET | BPF_A, 0)},
		/* unknown opcode */
		{BPF_STMT(0xff, 0), BPF_STMT(BPF_RET | BPF_A, 0)},
	};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char what[32];
		snprintf(what, sizeof what, "bad program %u", i);
		show(what, install(bad[i], 2, 0));
	}
	show("length 0", install(ok, 0, 0));
	static struct sock_filter huge[BPF_MAXINSNS + 1];
	for (unsigned i = 0; i <= BPF_MAXINSNS; i++)
		huge[i] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	show("length 4097", install(huge, BPF_MAXINSNS + 1, 0));
	show("unknown flag", install(ok, 1, 1U << 10));
	show("bad sock_fprog", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (void *)8));
	struct sock_fprog dangling = {1, (struct sock_filter *)8};
	show("bad filter pointer", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &dangling));
	show("unknown operation", syscall(SYS_seccomp, 99, 0, NULL));
	show("strict with flags", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 1, NULL));
	show("PR_SET_SECCOMP mode 3", prctl(PR_SET_SECCOMP, 3, 0, 0, 0));
	show("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
	show("still no mode: strict with args", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, ok));
	/* MAX_INSNS_PER_PATH counts converted instructions: 3 programs of 4096
	 * returns fit, not 4. */
	for (int i = 1; i <= 8; i++) {
		long r = install(huge, BPF_MAXINSNS, 0);
		if (r) {
			printf("program %d of 4096: -1 errno %d\n", i, errno);
			break;
		}
	}
	show("prctl filter", prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &(struct sock_fprog){1, ok}, 0, 0));
	show("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
}

static void action_avail(void)
{
	static const struct {
		const char *name;
		unsigned action;
	} actions[] = {
		{"KILL_PROCESS", SECCOMP_RET_KILL_PROCESS}, {"KILL_THREAD", SECCOMP_RET_KILL_THREAD},
		{"TRAP", SECCOMP_RET_TRAP},		    {"ERRNO", SECCOMP_RET_ERRNO},
		{"TRACE", SECCOMP_RET_TRACE},		    {"LOG", SECCOMP_RET_LOG},
		{"ALLOW", SECCOMP_RET_ALLOW},		    {"ERRNO|1", SECCOMP_RET_ERRNO | 1},
		{"0x12340000", 0x12340000},
	};
	for (unsigned i = 0; i < sizeof actions / sizeof actions[0]; i++) {
		char what[64];
		snprintf(what, sizeof what, "GET_ACTION_AVAIL %s", actions[i].name);
		show(what, syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &actions[i].action));
	}
	show("GET_ACTION_AVAIL with flags", syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 1, &actions[0].action));
	show("GET_ACTION_AVAIL bad pointer", syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, (void *)8));
}

/* TSYNC: a second thread waits for commands on a pipe. */
static int to_thread[2], from_thread[2];
static pid_t thread_tid;

static void *tsync_thread(void *arg)
{
	(void)arg;
	thread_tid = syscall(SYS_gettid);
	char cmd;
	while (read(to_thread[0], &cmd, 1) == 1) {
		long r = 0;
		switch (cmd) {
		case 'g':
			r = syscall(SYS_getpid) == -1 ? errno : 0;
			break;
		case 'n':
			r = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
			break;
		case 's':
			r = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
			break;
		case 'f':
			r = on_nr(SYS_getuid, SECCOMP_RET_ERRNO | 1, 0);
			break;
		}
		write(from_thread[1], &r, sizeof r);
	}
	return NULL;
}

static long ask(char cmd)
{
	long r;
	write(to_thread[1], &cmd, 1);
	read(from_thread[0], &r, sizeof r);
	return r;
}

static void tsync(void)
{
	pipe(to_thread);
	pipe(from_thread);
	pthread_t t;
	pthread_create(&t, NULL, tsync_thread, NULL);
	printf("thread: mode %ld, NNP %ld\n", ask('s'), ask('n'));
	nnp();
	show("TSYNC install", on_nr(SYS_getpid, SECCOMP_RET_ERRNO | 21, SECCOMP_FILTER_FLAG_TSYNC));
	printf("thread: mode %ld, NNP %ld, getpid errno %ld\n", ask('s'), ask('n'), ask('g'));
	show("TSYNC again", on_nr(SYS_getppid, SECCOMP_RET_ERRNO | 22, SECCOMP_FILTER_FLAG_TSYNC));
	printf("thread installs its own: %ld\n", ask('f'));
	long r = on_nr(SYS_getpid, SECCOMP_RET_ERRNO | 23, SECCOMP_FILTER_FLAG_TSYNC);
	printf("TSYNC with a diverged thread returns its tid: %d\n", r == thread_tid);
	show("TSYNC|TSYNC_ESRCH", on_nr(SYS_getpid, SECCOMP_RET_ERRNO | 23,
					 SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH));
	show("nothing changed: getpid", syscall(SYS_getpid));
	show("LOG|SPEC_ALLOW", on_nr(SYS_getpid, SECCOMP_RET_ERRNO | 24,
				    SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW));
	show("getpid", syscall(SYS_getpid));
	_exit(0);
}

static long time_errno;

static void vsyscall_calls(void)
{
	nnp();
	catch_sigsys();
	show("install", on_nr(SYS_time, SECCOMP_RET_ERRNO | 77, 0));
	time_errno = ((long (*)(long *))(VSYSCALL + 0x400))(NULL);
	printf("vsyscall time: %ld\n", time_errno);
	show("install", on_nr(SYS_gettimeofday, SECCOMP_RET_TRAP | 7, 0));
	long r = ((long (*)(void *, void *))VSYSCALL)(NULL, NULL);
	printf("vsyscall gettimeofday: %ld, signal %d, si_errno %d, si_syscall %d\n", r,
	       trap_seen, trap_info.si_errno, trap_info.si_syscall);
	printf("si_call_addr is the entry: %d, rax was the number: %d\n",
	       (unsigned long)trap_info.si_call_addr == VSYSCALL, trap_rax == SYS_gettimeofday);
	show("install", on_nr(SYS_getcpu, SECCOMP_RET_KILL_PROCESS, 0));
	((long (*)(void *, void *, void *))(VSYSCALL + 0x800))(NULL, NULL, NULL);
	printf("survived KILL_PROCESS\n");
}

/* The differences from a kernel with user notification, sentry only. */
static int notif(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	nnp();
	unsigned action = SECCOMP_RET_USER_NOTIF;
	show("GET_ACTION_AVAIL USER_NOTIF", syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action));
	struct seccomp_notif_sizes sizes;
	show("GET_NOTIF_SIZES", syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes));
	show("NEW_LISTENER", on_nr(SYS_getpid, SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER));
	show("WAIT_KILLABLE_RECV", on_nr(SYS_getpid, SECCOMP_RET_USER_NOTIF,
					 SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV));
	return 0;
}

/* Two filtered calls for the --strace test. */
static int strace_calls(void)
{
	nnp();
	on_nr(SYS_getpid, SECCOMP_RET_ERRNO | EPERM, 0);
	on_nr(SYS_getppid, SECCOMP_RET_KILL_PROCESS, 0);
	syscall(SYS_getpid);
	syscall(SYS_getppid);
	return 0;
}

int main(int argc, char **argv)
{
	self_exe = argv[0];
	if (argc > 1 && !strcmp(argv[1], "report"))
		return report_self();
	if (argc > 1 && !strcmp(argv[1], "notif"))
		return notif();
	if (argc > 1 && !strcmp(argv[1], "strace"))
		return strace_calls();
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core);

	scenario("errno", errno_action);
	scenario("trap", trap_action);
	scenario("trap blocked", trap_blocked);
	scenario("trap without handler", trap_default);
	scenario("trap ignored", trap_ignored);
	scenario("kill process", kill_process);
	scenario("kill process with threads", kill_process_threads);
	scenario("kill thread, last thread", kill_thread_alone);
	scenario("kill thread", kill_thread);
	scenario("kill process beats kill thread", kill_thread_precedence);
	scenario("trace, user notif, log, allow, unknown", other_actions);
	scenario("stacking", stacking);
	scenario("strict: write and exit", strict_write_exit);
	scenario("strict: getpid", strict_getpid);
	scenario("strict: seccomp", strict_seccomp);
	scenario("strict: rdtsc", strict_rdtsc);
	scenario("strict: vsyscall", strict_vsyscall);
	scenario("fork and exec", fork_and_exec);
	scenario("privileges", privileges);
	scenario("invalid", invalid);
	scenario("action avail", action_avail);
	scenario("tsync", tsync);
	scenario("vsyscall", vsyscall_calls);
	return 0;
}

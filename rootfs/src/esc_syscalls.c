/*
 * esc_syscalls: a guest that tries to make host syscalls behind the
 * sentry's back, and to reach or replace the stub's code page.
 *
 *   esc_syscalls native MARKER_DIR   only the probes whose outcome is defined
 *                                    the same way natively (safe to run on the
 *                                    host: nothing privileged is attempted)
 *   esc_syscalls all MARKER_DIR      every probe; for runs under the sentry
 *   esc_syscalls segv                dereference NULL (the sandbox's 139)
 *
 * Every probe that could have a host effect asks for one that the test can
 * see: mkdir("MARKER_DIR/<probe>"). If any of those directories exists on the
 * host after a sentry run, a guest instruction reached the host kernel.
 *
 * Probes (one line each, `name: result`):
 *   int80_getpid   `int $0x80` with eax=20: the raw return value (-38 = -ENOSYS
 *                  under the sentry, which has no 32-bit syscall ABI)
 *   int80_mkdir    i386 mkdir through `int $0x80` on a path below 4 GiB
 *   sysenter       `sysenter` (eax = i386 mkdir) in a child: how the child ended
 *   gadget_jmp     `jmp` to the stub's syscall gadget (0x7ffaf00000b1) with
 *                  rax = mkdir, in a child: how the child ended
 *   gadget_call    the same through `call`
 *   stub_write     a store to the gadget's address, in a child
 *   stub_scan      (all) if the stub page is readable (no PKU), every
 *                  `syscall`, `sysenter` and `int $0x80` opcode found in it is
 *                  jumped to from its own child with rax = mkdir: the set of
 *                  ways those children ended
 *   vsyscall       (all) a call into the legacy vsyscall page (time()), which
 *                  the host kernel emulates as a syscall, in a child
 *   mmap_fixed ... (all) MAP_FIXED, MAP_FIXED_NOREPLACE, a hint, mprotect,
 *                  madvise, mremap, munmap and shmat aimed at the stub page:
 *                  the errno
 *   priv_*         (all) privileged calls: the errno
 * Then (all) the guest prints `ready`, waits for a line on stdin (the test
 * inspects the stub meanwhile), repeats gadget_jmp and stub_write to show the
 * stub page survived the attempts, and prints `done`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define STUB_PAGE 0x7ffaf0000000UL
#define GADGET 0x7ffaf00000b1UL
#define VSYSCALL_TIME 0xffffffffff600400UL

static const char *marker_dir;
/* Path buffers below 4 GiB, so 32-bit entry points can name them. */
static char *low;

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";
	return n ? n : "?";
}

/* MARKER_DIR/name in a fresh slot of the low buffer. */
static char *marker(const char *name)
{
	static size_t used;
	char *p = low + used;
	int n = snprintf(p, 4096 - used, "%s/%s", marker_dir, name);
	used += (size_t)n + 1;
	return p;
}

/* Runs fn in a child; describes how the child ended. */
static const char *in_child(void (*fn)(void *), void *arg)
{
	static char buf[64];
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(buf, sizeof buf, "fork failed: %s", errname(errno));
		return buf;
	}
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		snprintf(buf, sizeof buf, "waitpid failed: %s", errname(errno));
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof buf, "signal %s", sigabbrev_np(WTERMSIG(status)));
	else
		snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(status));
	return buf;
}

static long int80(long nr, long a, long b)
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b)
			 : "memory");
	return ret;
}

static void do_sysenter(void *path)
{
	/* i386 mkdir(path, 0755); whatever sysenter does, it never returns here
	 * normally in 64-bit mode. */
	__asm__ volatile("mov %%rsp, %%rbp\n\tsysenter"
			 :
			 : "a"(39L), "b"(path), "c"(0755L)
			 : "memory", "rbp");
	_exit(3);
}

static void do_gadget_jmp(void *path)
{
	register long rdi __asm__("rdi") = (long)path;
	register long rsi __asm__("rsi") = 0755;
	__asm__ volatile("jmp *%[g]"
			 :
			 : [g] "r"(GADGET), "a"((long)SYS_mkdir), "r"(rdi), "r"(rsi)
			 : "memory");
	_exit(3);
}

static void do_gadget_call(void *path)
{
	register long rdi __asm__("rdi") = (long)path;
	register long rsi __asm__("rsi") = 0755;
	__asm__ volatile("call *%[g]"
			 :
			 : [g] "r"(GADGET), "a"((long)SYS_mkdir), "r"(rdi), "r"(rsi)
			 : "memory", "rcx", "r11");
	_exit(3);
}

static void do_jump_to(uintptr_t target, const char *path)
{
	register long rdi __asm__("rdi") = (long)path;
	register long rsi __asm__("rsi") = 0755;
	register long rbx __asm__("rbx") = (long)path;
	register long rcx __asm__("rcx") = 0755;
	/* rax = SYS_mkdir (83) for `syscall`. The 32-bit entries see eax=83 too,
	 * i386 symlink(path, (char *)0755): it would fail with EFAULT on the
	 * host, yet still be a host syscall. */
	__asm__ volatile("jmp *%[t]"
			 :
			 : [t] "r"(target), "a"((long)SYS_mkdir), "r"(rdi), "r"(rsi),
			   "r"(rbx), "r"(rcx)
			 : "memory");
	_exit(3);
}

static void do_stub_write(void *unused)
{
	*(volatile unsigned char *)GADGET = 0xcc;
	_exit(4);
}

static void do_vsyscall(void *unused)
{
	long (*vtime)(long *) = (long (*)(long *))VSYSCALL_TIME;
	long t = vtime(NULL);
	_exit(t > 1000000000L ? 0 : 5);
}

/* Copies the stub page into page: a child reads it with plain loads (if
 * the page is unreadable, only the child dies) and sends it through a pipe;
 * write() from the page itself would go through the sentry's copy-in, which
 * rightly refuses a non-guest address. Returns 1 if the page was readable. */
static int read_stub_page(unsigned char *page)
{
	int p[2];
	if (pipe(p) != 0)
		return 0;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		unsigned char copy[4096];
		for (int i = 0; i < 4096; i++)
			copy[i] = ((volatile unsigned char *)STUB_PAGE)[i];
		_exit(write(p[1], copy, sizeof copy) == sizeof copy ? 0 : 1);
	}
	close(p[1]);
	size_t got = 0;
	ssize_t n;
	while (got < 4096 && (n = read(p[0], page + got, 4096 - got)) > 0)
		got += (size_t)n;
	int status;
	waitpid(pid, &status, 0);
	close(p[0]);
	return got == 4096 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

struct jump {
	uintptr_t target;
	const char *path;
};

static void do_jump(void *arg)
{
	struct jump *j = arg;
	do_jump_to(j->target, j->path);
}

static void stub_scan(void)
{
	static unsigned char page[4096];
	if (!read_stub_page(page)) {
		printf("stub_scan: unreadable\n");
		return;
	}
	/* The outcomes, deduplicated, in order of first appearance. */
	char outcomes[256] = "";
	int sites = 0;
	for (int i = 0; i + 1 < 4096; i++) {
		int is_entry = (page[i] == 0x0f && (page[i + 1] == 0x05 || page[i + 1] == 0x34)) ||
			       (page[i] == 0xcd && page[i + 1] == 0x80);
		if (!is_entry)
			continue;
		sites++;
		char name[32];
		snprintf(name, sizeof name, "scan-%03x", i);
		struct jump j = {STUB_PAGE + (uintptr_t)i, marker(name)};
		const char *how = in_child(do_jump, &j);
		if (!strstr(outcomes, how) && strlen(outcomes) + strlen(how) + 3 < sizeof outcomes) {
			if (outcomes[0])
				strcat(outcomes, ", ");
			strcat(outcomes, how);
		}
	}
	printf("stub_scan: %d sites: %s\n", sites, sites ? outcomes : "none");
}

static void report(const char *name, long rc)
{
	if (rc == -1)
		printf("%s: %s\n", name, errname(errno));
	else
		printf("%s: ok\n", name);
}

static void mapping_probes(void)
{
	void *want = (void *)STUB_PAGE;
	void *p = mmap(want, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	report("mmap_fixed", p == MAP_FAILED ? -1 : 0);
	p = mmap(want, 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	report("mmap_fixed_noreplace", p == MAP_FAILED ? -1 : 0);
	/* Starting in guest space and running into the stub page. */
	p = mmap((void *)(STUB_PAGE - 4096), 8192, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	report("mmap_fixed_straddle", p == MAP_FAILED ? -1 : 0);
	/* A hint is only a hint: the answer must be somewhere else. */
	p = mmap(want, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap_hint: %s\n", p == MAP_FAILED ? errname(errno)
				  : (uintptr_t)p + 4096 <= STUB_PAGE ? "below the stub" : "AT OR ABOVE THE STUB");
	report("mprotect_stub", mprotect(want, 4096, PROT_READ | PROT_WRITE | PROT_EXEC));
	report("madvise_stub", madvise(want, 4096, MADV_DONTNEED));
	void *q = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *r = mremap(q, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, want);
	report("mremap_onto_stub", r == MAP_FAILED ? -1 : 0);
	report("munmap_stub", munmap(want, 4096));
	/* shmat at the stub's address. */
	long id = syscall(SYS_shmget, 0 /* IPC_PRIVATE */, 4096, 01600);
	if (id >= 0) {
		void *s = (void *)syscall(SYS_shmat, id, want, 0);
		report("shmat_stub", s == (void *)-1 ? -1 : 0);
	} else {
		printf("shmat_stub: shmget %s\n", errname(errno));
	}
}

static void privileged_probes(void)
{
	/* Scratch space above the marker paths (which use the first 4 KiB). */
	char *scratch = low + 4096;
	struct iovec local = {scratch, 16}, remote = {scratch + 64, 16};
	report("priv_ptrace_traceme", ptrace(PTRACE_TRACEME, 0, 0, 0));
	report("priv_ptrace_attach", ptrace(PTRACE_ATTACH, getppid(), 0, 0));
	report("priv_process_vm_readv",
	       syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0));
	report("priv_process_vm_writev",
	       syscall(SYS_process_vm_writev, getpid(), &local, 1, &remote, 1, 0));
	report("priv_kexec_load", syscall(SYS_kexec_load, 0, 0, 0, 0));
	report("priv_bpf", syscall(SYS_bpf, 5 /* BPF_PROG_LOAD */, scratch, 64));
	report("priv_mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0));
	report("priv_umount2", syscall(SYS_umount2, "/proc", 0));
	report("priv_unshare", syscall(SYS_unshare, 0x10000000 /* CLONE_NEWUSER */));
	report("priv_setns", syscall(SYS_setns, 0, 0));
	report("priv_init_module", syscall(SYS_init_module, scratch, 16, ""));
	report("priv_perf_event_open", syscall(SYS_perf_event_open, scratch, 0, -1, -1, 0));
	report("priv_io_uring_setup", syscall(SYS_io_uring_setup, 4, scratch + 1024));
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "segv") == 0) {
		printf("about to fault\n");
		fflush(stdout);
		*(volatile int *)0 = 1;
		return 1;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: esc_syscalls native|all MARKER_DIR | segv\n");
		return 2;
	}
	int all = strcmp(argv[1], "all") == 0;
	marker_dir = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	low = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (low == MAP_FAILED) {
		perror("mmap MAP_32BIT");
		return 2;
	}

	printf("int80_getpid: %ld\n", int80(20, 0, 0));
	if (all)
		printf("int80_mkdir: %ld\n", int80(39, (long)marker("int80"), 0755));
	printf("sysenter: %s\n", in_child(do_sysenter, marker("sysenter")));
	printf("gadget_jmp: %s\n", in_child(do_gadget_jmp, marker("gadget-jmp")));
	printf("gadget_call: %s\n", in_child(do_gadget_call, marker("gadget-call")));
	printf("stub_write: %s\n", in_child(do_stub_write, NULL));
	if (!all)
		return 0;

	stub_scan();
	printf("vsyscall: %s\n", in_child(do_vsyscall, NULL));
	mapping_probes();
	privileged_probes();

	printf("ready\n");
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		printf("stdin: EOF\n");
	printf("gadget_jmp_after: %s\n", in_child(do_gadget_jmp, marker("gadget-jmp-after")));
	printf("stub_write_after: %s\n", in_child(do_stub_write, NULL));
	printf("done\n");
	return 0;
}

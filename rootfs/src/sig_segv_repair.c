/*
 * sig_segv_repair: SIGSEGV handlers that repair or escape a fault.
 *
 * 1. A store to a PROT_READ page: the SA_SIGINFO handler checks si_signo,
 *    si_code (SEGV_ACCERR) and si_addr (the exact byte stored to), that
 *    SIGSEGV is blocked while it runs, and the trap number and write bit of
 *    the page-fault error code in the ucontext; it mprotects the page
 *    writable and returns, the store is restarted and succeeds.
 * 2. The same for a load from a PROT_NONE page (error code: read).
 * 3. A store to an unmapped address: SEGV_MAPERR with that address; the
 *    handler escapes with siglongjmp, which restores the signal mask, so
 *    the next fault is handled again (done three times).
 * 4. A handler that returns without repairing on its first call: the
 *    store is retried, faults again, and is repaired on the second call.
 * 5. A load from address 0x10 (SEGV_MAPERR far from any mapping).
 *
 * The fault-handling state is volatile: the compiler must not move the
 * stores that the handler reads across the faulting access.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

static char *page;
static volatile char *volatile expect_addr;
static volatile int faults;
static volatile int repair_on;	/* repair the page on this fault number */
static volatile int repair_prot;
static sigjmp_buf escape;

struct record {
	int signo, code, addr_ok, blocked, trapno, write_bit;
};
static struct record last;

static void record(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	last.signo = si->si_signo;
	last.code = si->si_code;
	last.addr_ok = si->si_addr == (void *)expect_addr;
	last.blocked = sigismember(&now, SIGSEGV);
	last.trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	last.write_bit = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
	faults++;
}

static void repair(int sig, siginfo_t *si, void *ctx)
{
	record(sig, si, ctx);
	if (faults == repair_on)
		mprotect(page, 4096, repair_prot);
}

static void jump_out(int sig, siginfo_t *si, void *ctx)
{
	record(sig, si, ctx);
	siglongjmp(escape, 1);
}

static const char *code_name(int code)
{
	switch (code) {
	case SEGV_MAPERR:
		return "SEGV_MAPERR";
	case SEGV_ACCERR:
		return "SEGV_ACCERR";
	default:
		return "other";
	}
}

static void print_record(const char *what)
{
	printf("%s: signo %s, si_code %s, si_addr %s, SIGSEGV blocked in handler %s\n", what,
	       last.signo == SIGSEGV ? "SIGSEGV" : "other", code_name(last.code),
	       last.addr_ok ? "exact" : "wrong", last.blocked ? "yes" : "no");
	printf("  ucontext: trapno %d, error code write bit %d\n", last.trapno, last.write_bit);
}

static void handle(void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	page = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		printf("mmap failed\n");
		return 1;
	}
	/* The page after ours is unmapped: faults there are SEGV_MAPERR. */
	char *hole = page + 4096;
	munmap(hole, 4096);
	page[100] = 'r';

	/* 1. Store to a read-only page, repaired by the handler. */
	handle(repair);
	mprotect(page, 4096, PROT_READ);
	faults = 0;
	repair_on = 1;
	repair_prot = PROT_READ | PROT_WRITE;
	expect_addr = page + 123;
	*expect_addr = 'x';
	print_record("store to PROT_READ");
	printf("  faults %d, stored value '%c', old data '%c'\n", faults, page[123], page[100]);

	/* 2. Load from a PROT_NONE page, repaired to PROT_READ. */
	mprotect(page, 4096, PROT_NONE);
	faults = 0;
	repair_on = 1;
	repair_prot = PROT_READ;
	expect_addr = page + 100;
	char loaded = *expect_addr;
	print_record("load from PROT_NONE");
	printf("  faults %d, loaded value '%c'\n", faults, loaded);

	/* The same store faulting twice: the handler repairs only on the
	 * second call, so returning the first time must retry the store. */
	faults = 0;
	repair_on = 2;
	repair_prot = PROT_READ | PROT_WRITE;
	expect_addr = page + 200;
	*expect_addr = 'y';
	print_record("store retried until repaired");
	printf("  faults %d, stored value '%c'\n", faults, page[200]);

	/* 3. Store to an unmapped address, escaped with siglongjmp. */
	handle(jump_out);
	int escaped = 0;
	for (int i = 0; i < 3; i++) {
		faults = 0;
		expect_addr = hole + 8 * i;
		if (sigsetjmp(escape, 1) == 0) {
			*expect_addr = 'z';
			printf("  store to the hole did not fault\n");
		} else {
			escaped++;
		}
		print_record("store to unmapped page");
		sigset_t now;
		sigprocmask(SIG_BLOCK, NULL, &now);
		printf("  escaped %d, SIGSEGV blocked after siglongjmp: %s\n", escaped,
		       sigismember(&now, SIGSEGV) ? "yes" : "no");
	}

	/* A fault far from any mapping. */
	faults = 0;
	expect_addr = (volatile char *)(uintptr_t)0x10;
	if (sigsetjmp(escape, 1) == 0)
		(void)*expect_addr;
	print_record("load from address 0x10");
	printf("  faults %d\n", faults);
	return 0;
}

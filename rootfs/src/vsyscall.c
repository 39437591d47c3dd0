/*
 * The legacy vsyscall page: old static binaries call gettimeofday, time and
 * getcpu at fixed addresses in 0xffffffffff600000. Linux emulates these calls;
 * under the sentry they must be answered by the sentry (the stub's seccomp
 * filter traces them), give the same results, and a call to any other offset
 * in the page is a SIGSEGV.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

typedef long (*gtod_fn)(struct timeval *, struct timezone *);
typedef long (*time_fn)(long *);
typedef long (*getcpu_fn)(unsigned *, unsigned *, void *);

#define VSYSCALL 0xffffffffff600000UL

static sigjmp_buf escape;
static volatile int seen_signo, seen_code;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	seen_signo = sig;
	seen_code = si->si_code;
	siglongjmp(escape, 1);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	time_t before = time(NULL);

	struct timeval tv = {0, -1};
	long r = ((gtod_fn)VSYSCALL)(&tv, NULL);
	printf("gettimeofday: %ld, seconds plausible %d, usec in range %d\n", r,
	       tv.tv_sec >= before && tv.tv_sec - before < 5,
	       tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	r = ((gtod_fn)VSYSCALL)(NULL, NULL);
	printf("gettimeofday(NULL, NULL): %ld\n", r);

	long stored = 0;
	long t = ((time_fn)(VSYSCALL + 0x400))(&stored);
	printf("time: plausible %d, stored the same %d\n", t >= before && t - before < 5,
	       t == stored);
	t = ((time_fn)(VSYSCALL + 0x400))(NULL);
	printf("time(NULL): plausible %d\n", t >= before && t - before < 5);

	unsigned cpu = 12345, node = 12345;
	r = ((getcpu_fn)(VSYSCALL + 0x800))(&cpu, &node, NULL);
	printf("getcpu: %ld, cpu plausible %d, node %u\n", r, cpu < 4096, node);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	if (sigsetjmp(escape, 1) == 0) {
		((time_fn)(VSYSCALL + 0x100))(NULL);
		printf("call to offset 0x100: returned\n");
	} else {
		printf("call to offset 0x100: signal %d, si_code %#x\n", seen_signo, seen_code);
	}
	return 0;
}

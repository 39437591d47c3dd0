/*
 * sig_avx: signal handlers that use AVX must not disturb the YMM registers
 * of the code they interrupt; the rt_sigframe carries the full XSAVE state.
 *
 * 1. Synchronous: 2,000 times, inline asm loads distinct patterns into
 *    ymm0-ymm15, makes the kill(getpid(), SIGUSR1) syscall itself (the
 *    signal is delivered on its return, with every YMM register live) and
 *    stores ymm0-ymm15 back; all 512 bytes must be unchanged. The handler
 *    computes with _mm256_* intrinsics and overwrites all sixteen YMM
 *    registers. It also checks that the frame's saved state (uc_mcontext
 *    fpregs: the XMM part, and the YMM upper halves in the XSAVE area)
 *    holds the interrupted values, and that it starts with the default
 *    MXCSR while the interrupted code runs with round-toward-zero.
 * 2. Frame edits: the handler rewrites ymm15 in the saved XSAVE state;
 *    rt_sigreturn must load it, so the interrupted code sees the new value.
 * 3. Asynchronous: another thread sends 200 SIGUSR1s with tgkill while the
 *    main thread spins in asm (no syscalls) holding ymm0-ymm15; the values
 *    must survive every interruption.
 * 4. The same the other way round: the main thread signals a spinning
 *    non-main thread. The main thread gives each signal 5 s to be handled
 *    and otherwise reports the stall and exits, so a signal that never
 *    reaches a thread running guest code fails fast instead of hanging.
 *
 * Without AVX (same CPU natively and under sentry), it prints that it
 * skipped and exits 0.
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define SYNC_ROUNDS 2000
#define ASYNC_SIGNALS 200
#define FP_XSTATE_MAGIC1 0x46505853U
#define XFEATURE_YMM 4
/* Offsets in the standard (non-compacted) XSAVE layout. */
#define XSAVE_SW_BYTES 464
#define XSAVE_HEADER 512
#define XSAVE_YMM_HI 576

static uint8_t before[16][32] __attribute__((aligned(32)));
static uint8_t after[16][32] __attribute__((aligned(32)));
static volatile int handled;
static volatile int edit_frame;
static int frame_xmm_ok, frame_ymmh_ok, frame_has_ymm, handler_mxcsr_default, handler_math_ok;
static int checking_frame;
static const uint8_t edited[32] = "edited-by-handler-in-the-frame!";

static void fill(int round)
{
	for (int r = 0; r < 16; r++)
		for (int b = 0; b < 32; b++)
			before[r][b] = (uint8_t)(round * 7 + r * 32 + b + 1);
}

/* kill(pid, sig) as a raw syscall with ymm0-15 loaded from `before` and
 * stored to `after` around it. */
__attribute__((target("avx"))) static long kill_with_live_ymm(pid_t pid, int sig)
{
	long ret;
	__asm__ volatile(
		"vmovdqa 0(%[in]), %%ymm0\n\t"
		"vmovdqa 32(%[in]), %%ymm1\n\t"
		"vmovdqa 64(%[in]), %%ymm2\n\t"
		"vmovdqa 96(%[in]), %%ymm3\n\t"
		"vmovdqa 128(%[in]), %%ymm4\n\t"
		"vmovdqa 160(%[in]), %%ymm5\n\t"
		"vmovdqa 192(%[in]), %%ymm6\n\t"
		"vmovdqa 224(%[in]), %%ymm7\n\t"
		"vmovdqa 256(%[in]), %%ymm8\n\t"
		"vmovdqa 288(%[in]), %%ymm9\n\t"
		"vmovdqa 320(%[in]), %%ymm10\n\t"
		"vmovdqa 352(%[in]), %%ymm11\n\t"
		"vmovdqa 384(%[in]), %%ymm12\n\t"
		"vmovdqa 416(%[in]), %%ymm13\n\t"
		"vmovdqa 448(%[in]), %%ymm14\n\t"
		"vmovdqa 480(%[in]), %%ymm15\n\t"
		"syscall\n\t"
		"vmovdqa %%ymm0, 0(%[out])\n\t"
		"vmovdqa %%ymm1, 32(%[out])\n\t"
		"vmovdqa %%ymm2, 64(%[out])\n\t"
		"vmovdqa %%ymm3, 96(%[out])\n\t"
		"vmovdqa %%ymm4, 128(%[out])\n\t"
		"vmovdqa %%ymm5, 160(%[out])\n\t"
		"vmovdqa %%ymm6, 192(%[out])\n\t"
		"vmovdqa %%ymm7, 224(%[out])\n\t"
		"vmovdqa %%ymm8, 256(%[out])\n\t"
		"vmovdqa %%ymm9, 288(%[out])\n\t"
		"vmovdqa %%ymm10, 320(%[out])\n\t"
		"vmovdqa %%ymm11, 352(%[out])\n\t"
		"vmovdqa %%ymm12, 384(%[out])\n\t"
		"vmovdqa %%ymm13, 416(%[out])\n\t"
		"vmovdqa %%ymm14, 448(%[out])\n\t"
		"vmovdqa %%ymm15, 480(%[out])\n\t"
		: "=a"(ret)
		: "a"((long)SYS_kill), "D"((long)pid), "S"((long)sig), [in] "r"(before),
		  [out] "r"(after)
		: "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
		  "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	return ret;
}

/* Spins (no syscalls) with ymm0-15 loaded from `before` until `handled`
 * reaches `target`, then stores them to `after`. */
__attribute__((target("avx"))) static void spin_with_live_ymm(int target)
{
	__asm__ volatile(
		"vmovdqa 0(%[in]), %%ymm0\n\t"
		"vmovdqa 32(%[in]), %%ymm1\n\t"
		"vmovdqa 64(%[in]), %%ymm2\n\t"
		"vmovdqa 96(%[in]), %%ymm3\n\t"
		"vmovdqa 128(%[in]), %%ymm4\n\t"
		"vmovdqa 160(%[in]), %%ymm5\n\t"
		"vmovdqa 192(%[in]), %%ymm6\n\t"
		"vmovdqa 224(%[in]), %%ymm7\n\t"
		"vmovdqa 256(%[in]), %%ymm8\n\t"
		"vmovdqa 288(%[in]), %%ymm9\n\t"
		"vmovdqa 320(%[in]), %%ymm10\n\t"
		"vmovdqa 352(%[in]), %%ymm11\n\t"
		"vmovdqa 384(%[in]), %%ymm12\n\t"
		"vmovdqa 416(%[in]), %%ymm13\n\t"
		"vmovdqa 448(%[in]), %%ymm14\n\t"
		"vmovdqa 480(%[in]), %%ymm15\n\t"
		"1:\n\t"
		"pause\n\t"
		"cmpl %[target], (%[count])\n\t"
		"jl 1b\n\t"
		"vmovdqa %%ymm0, 0(%[out])\n\t"
		"vmovdqa %%ymm1, 32(%[out])\n\t"
		"vmovdqa %%ymm2, 64(%[out])\n\t"
		"vmovdqa %%ymm3, 96(%[out])\n\t"
		"vmovdqa %%ymm4, 128(%[out])\n\t"
		"vmovdqa %%ymm5, 160(%[out])\n\t"
		"vmovdqa %%ymm6, 192(%[out])\n\t"
		"vmovdqa %%ymm7, 224(%[out])\n\t"
		"vmovdqa %%ymm8, 256(%[out])\n\t"
		"vmovdqa %%ymm9, 288(%[out])\n\t"
		"vmovdqa %%ymm10, 320(%[out])\n\t"
		"vmovdqa %%ymm11, 352(%[out])\n\t"
		"vmovdqa %%ymm12, 384(%[out])\n\t"
		"vmovdqa %%ymm13, 416(%[out])\n\t"
		"vmovdqa %%ymm14, 448(%[out])\n\t"
		"vmovdqa %%ymm15, 480(%[out])\n\t"
		:
		: [in] "r"(before), [out] "r"(after), [count] "r"(&handled), [target] "r"(target)
		: "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
		  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/* Overwrites every YMM register, as heavily vectorised code would. */
__attribute__((target("avx"))) static void clobber_all_ymm(void)
{
	__asm__ volatile("vpcmpeqd %%xmm0, %%xmm0, %%xmm0\n\t"
			 "vinsertf128 $1, %%xmm0, %%ymm0, %%ymm0\n\t"
			 "vmovaps %%ymm0, %%ymm1\n\t"
			 "vmovaps %%ymm0, %%ymm2\n\t"
			 "vmovaps %%ymm0, %%ymm3\n\t"
			 "vmovaps %%ymm0, %%ymm4\n\t"
			 "vmovaps %%ymm0, %%ymm5\n\t"
			 "vmovaps %%ymm0, %%ymm6\n\t"
			 "vmovaps %%ymm0, %%ymm7\n\t"
			 "vmovaps %%ymm0, %%ymm8\n\t"
			 "vmovaps %%ymm0, %%ymm9\n\t"
			 "vmovaps %%ymm0, %%ymm10\n\t"
			 "vmovaps %%ymm0, %%ymm11\n\t"
			 "vmovaps %%ymm0, %%ymm12\n\t"
			 "vmovaps %%ymm0, %%ymm13\n\t"
			 "vmovaps %%ymm0, %%ymm14\n\t"
			 "vmovaps %%ymm0, %%ymm15\n\t"
			 :
			 :
			 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
			   "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

static volatile float handler_in[8] = {1, 2, 3, 4, 5, 6, 7, 8};

__attribute__((target("avx"))) static void handler(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	if (_mm_getcsr() == 0x1f80)
		handler_mxcsr_default++;

	/* Real AVX work: (a * 2 + a) summed must be 3 * 36. */
	float in[8], out[8];
	for (int i = 0; i < 8; i++)
		in[i] = handler_in[i];
	__m256 a = _mm256_loadu_ps(in);
	__m256 b = _mm256_add_ps(_mm256_mul_ps(a, _mm256_set1_ps(2.0f)), a);
	_mm256_storeu_ps(out, b);
	float sum = 0;
	for (int i = 0; i < 8; i++)
		sum += out[i];
	if (sum == 108.0f)
		handler_math_ok++;

	if (checking_frame) {
		uint8_t *fp = (uint8_t *)uc->uc_mcontext.fpregs;
		/* fxsave layout: xmm0 at byte 160. */
		if (memcmp(fp + 160, before[0], 16) == 0 && memcmp(fp + 160 + 15 * 16, before[15], 16) == 0)
			frame_xmm_ok++;
		uint32_t magic;
		uint64_t xfeatures, xstate_bv;
		memcpy(&magic, fp + XSAVE_SW_BYTES, 4);
		memcpy(&xfeatures, fp + XSAVE_SW_BYTES + 8, 8);
		memcpy(&xstate_bv, fp + XSAVE_HEADER, 8);
		if (magic == FP_XSTATE_MAGIC1 && (xfeatures & XFEATURE_YMM) &&
		    (xstate_bv & XFEATURE_YMM)) {
			frame_has_ymm++;
			if (memcmp(fp + XSAVE_YMM_HI, before[0] + 16, 16) == 0 &&
			    memcmp(fp + XSAVE_YMM_HI + 15 * 16, before[15] + 16, 16) == 0)
				frame_ymmh_ok++;
			if (edit_frame) {
				memcpy(fp + 160 + 15 * 16, edited, 16);
				memcpy(fp + XSAVE_YMM_HI + 15 * 16, edited + 16, 16);
			}
		}
	}
	clobber_all_ymm();
	handled = handled + 1;
}

static int differing_registers(void)
{
	int bad = 0;
	for (int r = 0; r < 16; r++)
		if (memcmp(before[r], after[r], 32) != 0)
			bad++;
	return bad;
}

static volatile pid_t worker_tid;

static void *spinning_target(void *arg)
{
	worker_tid = (pid_t)syscall(SYS_gettid);
	spin_with_live_ymm(ASYNC_SIGNALS);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *sender(void *arg)
{
	pid_t target = (pid_t)(long)arg;
	for (int k = 0; k < ASYNC_SIGNALS; k++) {
		while (handled < k)
			sched_yield();
		syscall(SYS_tgkill, getpid(), target, SIGUSR1);
		while (handled == k)
			sched_yield();
	}
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx")) {
		printf("AVX not supported by this CPU: skipped\n");
		return 0;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	/* Round toward zero in the interrupted code. */
	unsigned int mxcsr = (_mm_getcsr() & ~0x6000U) | 0x6000U;
	_mm_setcsr(mxcsr);

	/* 1. Synchronous. */
	int bad_rounds = 0, bad_regs = 0, bad_mxcsr = 0;
	checking_frame = 1;
	for (int round = 0; round < SYNC_ROUNDS; round++) {
		fill(round);
		memset(after, 0, sizeof(after));
		int expected = handled + 1;
		long r = kill_with_live_ymm(getpid(), SIGUSR1);
		if (r != 0 || handled != expected) {
			printf("round %d: kill returned %ld, handled %d (expected %d)\n", round, r,
			       handled, expected);
			return 1;
		}
		int bad = differing_registers();
		if (bad) {
			bad_rounds++;
			bad_regs += bad;
		}
		if (_mm_getcsr() != mxcsr)
			bad_mxcsr++;
	}
	printf("synchronous: %d signals, rounds with changed YMM registers %d (%d registers)\n",
	       SYNC_ROUNDS, bad_rounds, bad_regs);
	printf("  interrupted MXCSR changed in %d rounds\n", bad_mxcsr);
	printf("  handler saw default MXCSR %d times, AVX math right %d times\n",
	       handler_mxcsr_default, handler_math_ok);
	printf("  frame: XMM saved right %d times, XSAVE with YMM %d times, YMM upper halves "
	       "right %d times\n",
	       frame_xmm_ok, frame_has_ymm, frame_ymmh_ok);

	/* 2. The handler edits the saved ymm15. */
	fill(12345);
	edit_frame = 1;
	kill_with_live_ymm(getpid(), SIGUSR1);
	edit_frame = 0;
	printf("frame edit: ymm15 after sigreturn is the handler's: %s; ymm0-14 unchanged: %s\n",
	       memcmp(after[15], edited, 32) == 0 ? "yes" : "no",
	       memcmp(after, before, 15 * 32) == 0 ? "yes" : "no");
	checking_frame = 0;

	/* 3. Asynchronous, from another thread. */
	fill(777);
	memset(after, 0, sizeof(after));
	handled = 0;
	pthread_t thread;
	if (pthread_create(&thread, NULL, sender, (void *)(long)syscall(SYS_gettid)) != 0) {
		printf("pthread_create failed\n");
		return 1;
	}
	spin_with_live_ymm(ASYNC_SIGNALS);
	pthread_join(thread, NULL);
	int bad = differing_registers();
	printf("asynchronous: %d signals handled, changed YMM registers %d, MXCSR %s\n", handled,
	       bad, _mm_getcsr() == mxcsr ? "kept" : "changed");

	/* 4. Asynchronous, to a spinning non-main thread. */
	fill(4242);
	memset(after, 0, sizeof(after));
	handled = 0;
	worker_tid = 0;
	if (pthread_create(&thread, NULL, spinning_target, NULL) != 0) {
		printf("pthread_create failed\n");
		return 1;
	}
	while (!worker_tid)
		sched_yield();
	for (int k = 0; k < ASYNC_SIGNALS; k++) {
		syscall(SYS_tgkill, getpid(), worker_tid, SIGUSR1);
		double deadline = now_s() + 5;
		while (handled == k) {
			if (now_s() > deadline) {
				printf("to a spinning thread: signal %d not handled within 5 s\n", k + 1);
				fflush(stdout);
				_exit(1);
			}
			sched_yield();
		}
	}
	pthread_join(thread, NULL);
	int bad_worker = differing_registers();
	printf("asynchronous, to a spinning non-main thread: %d signals handled, changed YMM "
	       "registers %d\n",
	       handled, bad_worker);
	return bad_rounds || bad || bad_mxcsr || bad_worker ? 1 : 0;
}

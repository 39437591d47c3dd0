/*
 * thr_exec: execve from a thread that is not the main thread.
 *
 * Usage: thr_exec TARGET   (TARGET: the path of thr_exec_target)
 *
 * The main thread starts three threads (one spinning, one sleeping in
 * nanosleep, one blocked in pthread_cond_wait) and a fourth that execs
 * TARGET while the others run; the main thread waits in pthread_join.
 * Linux kills the other threads and the exec'ing thread takes over the
 * process's pid. Before the exec, the exec'ing thread blocks SIGUSR2 (its
 * mask survives exec), SIGUSR1 is ignored (stays ignored) and SIGTERM has a
 * handler (reset to SIG_DFL). TARGET gets the pid from before the exec as
 * argv[1] and the parent's pid as argv[2] and prints only comparisons.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *target;
static volatile int spinning;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static volatile int started;

static void on_term(int sig)
{
}

static void *spinner(void *arg)
{
	__sync_fetch_and_add(&started, 1);
	for (;;)
		spinning++;
	return NULL;
}

static void *sleeper(void *arg)
{
	__sync_fetch_and_add(&started, 1);
	struct timespec d = {100, 0};
	for (;;)
		nanosleep(&d, NULL);
	return NULL;
}

static void *waiter(void *arg)
{
	pthread_mutex_lock(&lock);
	__sync_fetch_and_add(&started, 1);
	for (;;)
		pthread_cond_wait(&never, &lock);
	return NULL;
}

static void *execer(void *arg)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	printf("exec'ing thread is not the main thread: %s\n", tid != getpid() ? "yes" : "no");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	char pid[32], ppid[32];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(ppid, sizeof(ppid), "%d", (int)getppid());
	char *argv[] = {(char *)target, pid, ppid, NULL};
	char *envp[] = {"THR_EXEC=from-a-thread", NULL};
	fflush(stdout);
	execve(target, argv, envp);
	printf("execve failed: %s\n", strerror(errno));
	fflush(stdout);
	_exit(1);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: thr_exec TARGET\n");
		return 2;
	}
	target = argv[1];
	signal(SIGUSR1, SIG_IGN);
	signal(SIGTERM, on_term);

	pthread_t threads[4];
	pthread_create(&threads[0], NULL, spinner, NULL);
	pthread_create(&threads[1], NULL, sleeper, NULL);
	pthread_create(&threads[2], NULL, waiter, NULL);
	while (started < 3) {
		struct timespec d = {0, 1000000};
		nanosleep(&d, NULL);
	}
	printf("three threads running; exec from a fourth\n");
	pthread_create(&threads[3], NULL, execer, NULL);
	pthread_join(threads[3], NULL);
	printf("pthread_join returned: exec did not replace the process\n");
	return 1;
}

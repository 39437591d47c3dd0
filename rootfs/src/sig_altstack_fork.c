/*
 * The alternate signal stack across fork, vfork-like clone and threads: a
 * forked child keeps its parent's sigaltstack (and a handler in the child runs
 * on it), a new thread starts without one.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char altstack[1 << 16];
static volatile int on_alt;

static void handler(int sig)
{
	(void)sig;
	char here;
	on_alt = (uintptr_t)&here >= (uintptr_t)altstack &&
		 (uintptr_t)&here < (uintptr_t)altstack + sizeof altstack;
}

static void report(const char *who)
{
	stack_t cur;
	sigaltstack(NULL, &cur);
	printf("%s: altstack %s, same stack as set %d, size %zu\n", who,
	       (cur.ss_flags & SS_DISABLE) ? "disabled" : "enabled",
	       cur.ss_sp == altstack, (cur.ss_flags & SS_DISABLE) ? 0 : cur.ss_size);
}

static void *thread_main(void *arg)
{
	(void)arg;
	report("thread");
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
	if (sigaltstack(&ss, NULL) != 0) {
		perror("sigaltstack");
		return 1;
	}
	struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_ONSTACK};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	report("parent");

	pid_t pid = fork();
	if (pid == 0) {
		report("forked child");
		raise(SIGUSR1);
		printf("forked child: handler ran on the alternate stack %d\n", on_alt);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);

	pthread_t t;
	pthread_create(&t, NULL, thread_main, NULL);
	pthread_join(t, NULL);
	return 0;
}

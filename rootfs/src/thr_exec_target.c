/*
 * thr_exec_target: the program thr_exec runs by execve from a non-main
 * thread.
 *
 * Usage: thr_exec_target PID PPID   (the pid and parent pid before exec)
 *
 * Prints only comparisons: the pid is the one from before the exec, the
 * single thread's tid equals it, the parent is unchanged, only one thread is
 * left (/proc/self/status and /proc/self/task), the exec'ing thread's
 * blocked SIGUSR2 is still blocked, the ignored SIGUSR1 is still ignored,
 * the handled SIGTERM is back to SIG_DFL, and the new environment arrived.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *yes(int b)
{
	return b ? "yes" : "no";
}

static int status_threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	int n = -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Threads:", 8) == 0)
			n = atoi(line + 8);
	fclose(f);
	return n;
}

static int task_entries(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		printf("thr_exec_target: expected PID and PPID\n");
		return 2;
	}
	pid_t before = (pid_t)atoi(argv[1]);
	pid_t parent = (pid_t)atoi(argv[2]);
	printf("after exec: pid same as before: %s\n", yes(getpid() == before));
	printf("after exec: tid == pid: %s\n", yes(syscall(SYS_gettid) == getpid()));
	printf("after exec: parent unchanged: %s\n", yes(getppid() == parent));
	printf("after exec: threads in /proc/self/status: %d, in /proc/self/task: %d\n",
	       status_threads(), task_entries());
	sigset_t mask;
	sigprocmask(SIG_BLOCK, NULL, &mask);
	struct sigaction usr1, term;
	sigaction(SIGUSR1, NULL, &usr1);
	sigaction(SIGTERM, NULL, &term);
	printf("after exec: SIGUSR2 still blocked: %s, SIGUSR1 still ignored: %s, SIGTERM handler "
	       "reset: %s\n",
	       yes(sigismember(&mask, SIGUSR2)), yes(usr1.sa_handler == SIG_IGN),
	       yes(term.sa_handler == SIG_DFL));
	const char *env = getenv("THR_EXEC");
	printf("after exec: environment: %s\n", env ? env : "(none)");
	return 0;
}

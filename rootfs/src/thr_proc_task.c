/*
 * thr_proc_task: /proc/[pid]/task and /proc/thread-self with four threads.
 *
 * - /proc/self/task lists one directory per thread, in ascending tid order,
 *   the leader's included; after the threads are joined only the leader is
 *   left.
 * - Each thread's /proc/thread-self links to "PID/task/TID"; its
 *   task/TID/stat starts with its tid; its status says Pid: TID, Tgid: PID,
 *   the thread count, and its own blocked set (SigBlk).
 * - task/TID holds stat, status, comm, cmdline, maps, exe, cwd, root and fd;
 *   /proc/self/status counts the threads and reports SIGTERM (only) in
 *   SigIgn; /proc lists the process once.
 *
 * Output: deterministic lines (no pids or tids).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define THREADS 3

static pthread_barrier_t barrier;
static sem_t printed;

static const char *yes(int b)
{
	return b ? "yes" : "no";
}

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* The value after `key` in a status file, or -1. */
static long status_field(const char *path, const char *key, char *line_out, size_t n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[256];
	long v = -1;
	size_t k = strlen(key);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, k) == 0) {
			v = strtol(line + k, NULL, 10);
			if (line_out)
				snprintf(line_out, n, "%s", line);
		}
	fclose(f);
	return v;
}

static void *thread(void *arg)
{
	pid_t tid = gettid_();
	char buf[256], want[128], path[128];
	ssize_t n = readlink("/proc/thread-self", buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want), "%d/task/%d", getpid(), tid);
	int link_ok = strcmp(buf, want) == 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	FILE *f = fopen(path, "r");
	int first = 0;
	if (f) {
		if (fscanf(f, "%d", &first) != 1)
			first = 0;
		fclose(f);
	}
	long pid = status_field("/proc/thread-self/status", "Pid:", NULL, 0);
	long tgid = status_field("/proc/thread-self/status", "Tgid:", NULL, 0);
	char blk[256] = "";
	status_field("/proc/thread-self/status", "SigBlk:", blk, sizeof(blk));

	printf("thread %ld: thread-self link: %s, stat starts with tid: %s, status Pid is tid: %s, "
	       "Tgid is pid: %s, %s",
	       (long)arg, yes(link_ok), yes(first == tid), yes(pid == tid),
	       yes(tgid == getpid()), blk);
	sem_post(&printed);
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
	return NULL;
}

static int task_entries(int *sorted, int *leader, int *dirs)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	int n = 0, last = 0;
	*sorted = *dirs = 1;
	*leader = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int tid = atoi(e->d_name);
		n++;
		*sorted &= tid > last;
		*leader |= tid == getpid();
		*dirs &= e->d_type == DT_DIR;
		last = tid;
	}
	closedir(d);
	return n;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, SIG_IGN);
	pthread_barrier_init(&barrier, NULL, THREADS + 1);
	sem_init(&printed, 0, 0);
	pthread_t th[THREADS];
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	/* Threads inherit SIGUSR1 blocked; the main thread then unblocks it. */
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	for (long i = 0; i < THREADS; i++) {
		pthread_create(&th[i], NULL, thread, (void *)i);
		/* One at a time, so that the output order is fixed. */
		while (sem_wait(&printed) != 0)
			;
	}
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	pthread_barrier_wait(&barrier);

	int sorted, leader, dirs;
	int n = task_entries(&sorted, &leader, &dirs);
	printf("task entries: %d, ascending: %s, leader listed: %s, all directories: %s\n", n,
	       yes(sorted), yes(leader), yes(dirs));
	char dir[128], path[256];
	snprintf(dir, sizeof(dir), "/proc/%d/task/%d", getpid(), getpid());
	const char *names[] = {"stat", "status", "comm", "cmdline", "maps",
			       "exe",  "cwd",    "root", "fd"};
	printf("leader's task directory has:");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		printf(" %s %s", names[i], yes(access(path, F_OK) == 0));
	}
	printf("\n");
	char ign[256] = "", blk[256] = "";
	long threads = status_field("/proc/self/status", "Threads:", NULL, 0);
	status_field("/proc/self/status", "SigIgn:", ign, sizeof(ign));
	status_field("/proc/self/status", "SigBlk:", blk, sizeof(blk));
	unsigned long long ignored = strtoull(strchr(ign, ':') ? strchr(ign, ':') + 1 : "0", NULL, 16);
	printf("/proc/self/status: Threads %ld, SigIgn has SIGTERM: %s, SIGUSR1: %s\n", threads,
	       yes(ignored >> (SIGTERM - 1) & 1), yes(ignored >> (SIGUSR1 - 1) & 1));
	printf("main %s", blk);
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);

	n = task_entries(&sorted, &leader, &dirs);
	printf("after join: task entries %d, leader listed: %s, Threads %ld\n", n, yes(leader),
	       status_field("/proc/self/status", "Threads:", NULL, 0));
	DIR *d = opendir("/proc");
	int self = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		self += atoi(e->d_name) == getpid();
	if (d)
		closedir(d);
	printf("/proc lists the process once: %s\n", yes(self == 1));
	return 0;
}

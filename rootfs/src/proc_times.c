/*
 * Process times in /proc agree with each other and with the clock, as ps and
 * top read them: btime (/proc/stat) + starttime (/proc/self/stat) is when the
 * process started; a child forked later starts later by about the delay;
 * /proc/uptime covers every start time; CPU time spent spinning shows up in
 * utime; a stopped child shows state T.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Field `n` (1-based, as in proc(5)) of /proc/PID/stat. */
static long long stat_field(pid_t pid, int n)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof buf, f)) {
		printf("cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	char *p = strrchr(buf, ')');
	/* Field 3 (state) follows ") ". */
	int field = 3;
	for (p += 2; field < n; p++)
		if (*p == ' ')
			field++;
	return n == 3 ? *p : atoll(p);
}

static long long btime(void)
{
	char line[256];
	long long b = -1;
	FILE *f = fopen("/proc/stat", "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "btime %lld", &b) == 1)
			break;
	if (f)
		fclose(f);
	return b;
}

static double uptime(void)
{
	double up = -1;
	FILE *f = fopen("/proc/uptime", "r");
	if (f && fscanf(f, "%lf", &up) != 1)
		up = -1;
	if (f)
		fclose(f);
	return up;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	long hz = sysconf(_SC_CLK_TCK);
	long long start = stat_field(getpid(), 22);
	double started_at = btime() + (double)start / hz;
	printf("btime + starttime is about now: %d\n", started_at <= now() + 1.5 && started_at > now() - 10);
	printf("uptime covers the start time: %d\n", uptime() + 0.05 >= (double)start / hz);

	struct timespec delay = {0, 400 * 1000 * 1000};
	nanosleep(&delay, NULL);
	pid_t child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	long long child_start = stat_field(child, 22);
	double later = (double)(child_start - start) / hz;
	printf("child forked 0.4 s later starts 0.3-5 s later: %d\n", later >= 0.3 && later < 5);
	kill(child, SIGSTOP);
	waitpid(child, NULL, WUNTRACED);
	printf("stopped child state: %c\n", (char)stat_field(child, 3));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	/* Spin for 0.5 s of this process's own CPU time, however busy the machine. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	volatile unsigned long x = 0;
	do {
		for (int i = 0; i < 1000000; i++)
			x += i;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	} while (t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9 < 0.5);
	long long cpu = stat_field(getpid(), 14) + stat_field(getpid(), 15);
	printf("0.5 s of CPU shows as at least 0.3 s in utime + stime: %d\n", cpu >= hz * 3 / 10);
	return 0;
}

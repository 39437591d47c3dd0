/*
 * proc_pids: prints the pid numbers a guest sees, for a test that checks
 * them against the sentry's spec (the first guest process is pid 1 with
 * parent 0, its children are 2, 3, ...), and checks the relations that
 * hold everywhere (natively too): fork returns the child's getpid(), the
 * child's getppid() is the parent, wait returns the same pid, and getpgid/
 * getsid of the child agree with the parent's before any change.
 *
 * Output: `NAME=VALUE` lines, then `relations: ok` or `relations: FAIL ...`.
 * Exit status 0 only if the relations hold.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

struct seen {
	pid_t pid, ppid, pgid, sid;
};

/* Forks a child that reports what it sees through a pipe, then exits. */
static pid_t child(struct seen *out)
{
	int p[2];
	if (pipe(p) != 0) {
		perror("pipe");
		exit(2);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		struct seen s = {getpid(), getppid(), getpgid(0), getsid(0)};
		ssize_t n = write(p[1], &s, sizeof s);
		_exit(n == sizeof s ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], out, sizeof *out) != sizeof *out) {
		fprintf(stderr, "short read from child\n");
		exit(2);
	}
	close(p[0]);
	int status;
	pid_t waited = waitpid(pid, &status, 0);
	if (waited != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "wait for child failed\n");
		exit(2);
	}
	return pid;
}

int main(void)
{
	pid_t self = getpid(), parent = getppid();
	struct seen first, second;
	pid_t first_pid = child(&first);
	pid_t second_pid = child(&second);

	printf("getpid=%d\n", self);
	printf("getppid=%d\n", parent);
	printf("first_child=%d\n", first_pid);
	printf("first_child_getpid=%d\n", first.pid);
	printf("first_child_getppid=%d\n", first.ppid);
	printf("second_child=%d\n", second_pid);
	printf("second_child_getppid=%d\n", second.ppid);

	const char *bad = NULL;
	if (first.pid != first_pid || second.pid != second_pid)
		bad = "fork's return differs from the child's getpid()";
	else if (first.ppid != self || second.ppid != self)
		bad = "the child's getppid() is not the parent";
	else if (first_pid == second_pid || first_pid == self)
		bad = "pids are not distinct";
	else if (first.pgid != getpgid(0) || first.sid != getsid(0))
		bad = "the child is not in the parent's group and session";
	printf("relations: %s%s\n", bad ? "FAIL " : "ok", bad ? bad : "");
	return bad != NULL;
}

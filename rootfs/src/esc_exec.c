/*
 * esc_exec: a guest that execve()s hostile files and reports what Linux
 * (or the sentry) answered, so a native run and a sentry run compare line
 * by line.
 *
 *   esc_exec ARG...
 *
 * Each ARG is a path, optionally prefixed by how to call it:
 *   PATH              execve(PATH, {PATH}, environ)
 *   @args=N:PATH      argv = {PATH} plus N bytes of 1 KiB arguments
 *   @arg=N:PATH       argv = {PATH, one argument of N bytes}
 *   @env=N:PATH       argv = {PATH}, envp = {one N-byte "E=..." string}
 *
 * Each exec happens in a fork child. The child reports a failed execve's
 * errno through a close-on-exec pipe; if the exec succeeded the pipe closes
 * empty and the parent reports how the new program ended. One line per ARG:
 *   `NAME: ERRNO`, `NAME: ran, exit N` or `NAME: ran, signal SIG`
 * where NAME is the path's last component (with the prefix, if any), so
 * native and guest runs of the same files in different directories agree.
 * The parent itself must survive every case: it ends with `survived N`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";
	return n ? n : "?";
}

/* A string of len bytes of 'a' (plus NUL), prefixed by prefix. */
static char *filler(const char *prefix, size_t len)
{
	char *s = malloc(len + 1);
	if (!s) {
		perror("malloc");
		exit(2);
	}
	memset(s, 'a', len);
	memcpy(s, prefix, strlen(prefix) < len ? strlen(prefix) : len);
	s[len] = 0;
	return s;
}

static void run(const char *arg)
{
	const char *path = arg;
	char **argv, **envp = environ;
	size_t n = 0;
	char kind = 0;

	if (arg[0] == '@') {
		const char *colon = strchr(arg, ':');
		if (!colon) {
			printf("%s: bad argument\n", arg);
			return;
		}
		path = colon + 1;
		n = strtoul(strchr(arg, '=') + 1, NULL, 10);
		kind = arg[1];
	}
	if (kind == 'a' && strncmp(arg, "@args=", 6) == 0) {
		size_t count = n / 1024 + 1;
		argv = calloc(count + 2, sizeof *argv);
		argv[0] = (char *)path;
		for (size_t i = 0; i < count; i++)
			argv[i + 1] = filler("", 1023);
	} else if (kind == 'a') {
		argv = calloc(3, sizeof *argv);
		argv[0] = (char *)path;
		argv[1] = filler("", n);
	} else {
		argv = calloc(2, sizeof *argv);
		argv[0] = (char *)path;
		if (kind == 'e') {
			envp = calloc(2, sizeof *envp);
			envp[0] = filler("E=", n);
		}
	}

	char name[96];
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (kind)
		snprintf(name, sizeof name, "%.*s%s", (int)(path - arg), arg, base);
	else
		snprintf(name, sizeof name, "%s", base);

	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		perror("pipe2");
		exit(2);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		printf("%s: fork %s\n", name, errname(errno));
		return;
	}
	if (pid == 0) {
		close(p[0]);
		/* The new program's output would only confuse the comparison. */
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execve(path, argv, envp);
		int e = errno;
		if (write(p[1], &e, sizeof e) != sizeof e)
			_exit(126);
		_exit(127);
	}
	close(p[1]);
	int e = 0;
	ssize_t got = read(p[0], &e, sizeof e);
	close(p[0]);
	int status;
	waitpid(pid, &status, 0);
	if (got == sizeof e)
		printf("%s: %s\n", name, errname(e));
	else if (WIFSIGNALED(status))
		printf("%s: ran, signal %s\n", name, sigabbrev_np(WTERMSIG(status)));
	else
		printf("%s: ran, exit %d\n", name, WEXITSTATUS(status));
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++)
		run(argv[i]);
	printf("survived %d\n", argc - 1);
	return 0;
}

/*
 * esc_paths: a guest that tries to open files outside its root.
 *
 *   esc_paths open PATH...    open each PATH read-only; prints
 *                             `PATH: ERRNO` or `PATH: OPENED <first line>`
 *   esc_paths magic           the tricks that need the guest's own state:
 *                             /proc/self/cwd/.. after chdir("/"),
 *                             /proc/self/fd/N/.. for a directory fd of "/"
 *                             (O_RDONLY and O_PATH), openat(fd of "/", "../..")
 *                             and fchdir+chdir("..") chains, a symlink the
 *                             guest makes itself, and the classic chroot
 *                             breakout (chroot into a subdirectory while the
 *                             cwd stays outside it, then climb); each line
 *                             `NAME: ERRNO` or `NAME: OPENED <first line>`,
 *                             or for the cwd checks `NAME: cwd=<getcwd>`
 *   esc_paths race BASE N     one child renames BASE/a/b to BASE/b and back
 *                             (N renames in all), moving the directory the
 *                             other children walk out of between depths,
 *                             while those children open
 *                             BASE/a/b/c/d/../../../../../../secret and, with
 *                             their cwd inside BASE/a/b/c/d, ../secret,
 *                             ../../secret, ... (1 to 8 levels). No such
 *                             file exists inside the root, so every open
 *                             must fail; prints
 *                             `race: renames=R opens=O opened=K errors=E1:n,E2:n`
 *                             and one `race OPENED <path>: <first line>`
 *                             line per open that succeeded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";
	return n ? n : "?";
}

/* Reads the first line of fd (closing it) into line. */
static void first_line(int fd, char *line, size_t size)
{
	ssize_t n = read(fd, line, size - 1);
	close(fd);
	if (n < 0) {
		snprintf(line, size, "(read: %s)", errname(errno));
		return;
	}
	line[n] = 0;
	line[strcspn(line, "\n")] = 0;
}

/* Prints `name: ERRNO` or `name: OPENED <first line>` for an open result. */
static void show_open(const char *name, int fd)
{
	if (fd < 0) {
		printf("%s: %s\n", name, errname(errno));
		return;
	}
	char line[128];
	first_line(fd, line, sizeof line);
	printf("%s: OPENED %s\n", name, line);
}

static void show_cwd(const char *name)
{
	char buf[PATH_MAX];
	if (getcwd(buf, sizeof buf))
		printf("%s: cwd=%s\n", name, buf);
	else
		printf("%s: getcwd %s\n", name, errname(errno));
}

static int magic(void)
{
	char path[256];

	if (chdir("/") != 0) {
		perror("chdir /");
		return 2;
	}
	show_open("proc_self_cwd_up", open("/proc/self/cwd/../secret", O_RDONLY));
	show_open("proc_self_cwd_up3", open("/proc/self/cwd/../../../secret", O_RDONLY));
	show_open("proc_self_root_up", open("/proc/self/root/../secret", O_RDONLY));
	show_open("proc_1_root_up", open("/proc/1/root/../../secret", O_RDONLY));
	show_open("proc_self_cwd_etc", open("/proc/self/cwd/../../../../etc/passwd", O_RDONLY));

	int rootfd = open("/", O_RDONLY | O_DIRECTORY);
	int pathfd = open("/", O_PATH | O_DIRECTORY);
	if (rootfd < 0 || pathfd < 0) {
		perror("open /");
		return 2;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d/../secret", rootfd);
	show_open("proc_fd_up", open(path, O_RDONLY));
	snprintf(path, sizeof path, "/proc/self/fd/%d/../../../secret", pathfd);
	show_open("proc_opath_fd_up", open(path, O_RDONLY));
	snprintf(path, sizeof path, "/dev/fd/%d/../secret", rootfd);
	show_open("dev_fd_up", open(path, O_RDONLY));
	show_open("openat_up", openat(rootfd, "../secret", O_RDONLY));
	show_open("openat_up2", openat(rootfd, "../../secret", O_RDONLY));
	show_open("openat_passwd", openat(rootfd, "../../etc/passwd", O_RDONLY));
	show_open("openat_opath_up", openat(pathfd, "../../../../secret", O_RDONLY));

	if (fchdir(rootfd) != 0 || chdir("..") != 0 || chdir("../..") != 0)
		printf("fchdir_up: chdir %s\n", errname(errno));
	show_cwd("fchdir_up");
	show_open("fchdir_up_open", open("secret", O_RDONLY));

	/* A symlink made by the guest itself. */
	if (symlink("/proc/self/root/../../secret", "/guest-link") != 0)
		printf("guest_symlink: symlink %s\n", errname(errno));
	show_open("guest_symlink", open("/guest-link", O_RDONLY));
	if (symlink("../../../../../../", "/guest-up") != 0)
		printf("guest_symlink_up: symlink %s\n", errname(errno));
	show_open("guest_symlink_up", open("/guest-up/secret", O_RDONLY));

	/* chroot breakout: chroot into a subdirectory, keep the cwd outside it,
	 * climb with "..", chroot("."). Unprivileged Linux refuses chroot. */
	mkdir("/jail", 0755);
	if (chdir("/") != 0)
		return 2;
	if (chroot("/jail") == 0) {
		printf("chroot: ok\n");
		for (int i = 0; i < 8; i++)
			if (chdir("..") != 0)
				break;
		if (chroot(".") != 0)
			printf("chroot_again: %s\n", errname(errno));
		show_cwd("chroot_breakout");
		show_open("chroot_breakout_open", open("secret", O_RDONLY));
	} else {
		printf("chroot: %s\n", errname(errno));
	}
	return 0;
}

struct tally {
	long opens, opened;
	long err[256];
};

static void record(struct tally *t, const char *path, int fd)
{
	t->opens++;
	if (fd >= 0) {
		char line[128];
		first_line(fd, line, sizeof line);
		t->opened++;
		printf("race OPENED %s: %s\n", path, line);
		fflush(stdout);
	} else {
		t->err[errno & 255]++;
	}
}

static int race(const char *base, long renames)
{
	char deep[PATH_MAX / 2], a_b[PATH_MAX], b[PATH_MAX], abs_path[PATH_MAX];
	snprintf(deep, sizeof deep, "%s/a/b/c/d", base);
	snprintf(a_b, sizeof a_b, "%s/a/b", base);
	snprintf(b, sizeof b, "%s/b", base);
	snprintf(abs_path, sizeof abs_path, "%s/../../../../../../secret", deep);

	/* Shared between the processes: the renamer's count, a stop flag and
	 * the openers' ready flags. */
	volatile long *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct tally *tallies = mmap(NULL, 2 * sizeof(struct tally), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED || tallies == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	fflush(stdout);

	pid_t openers[2];
	for (int k = 0; k < 2; k++) {
		openers[k] = fork();
		if (openers[k] == 0) {
			struct tally *t = &tallies[k];
			if (k == 1 && chdir(deep) != 0) {
				printf("race: chdir %s: %s\n", deep, errname(errno));
				_exit(2);
			}
			char rel[64];
			int level = 0;
			shared[2 + k] = 1;
			while (!shared[1]) {
				if (k == 0) {
					record(t, abs_path, open(abs_path, O_RDONLY));
				} else {
					level = level % 8 + 1;
					rel[0] = 0;
					for (int i = 0; i < level; i++)
						strcat(rel, "../");
					strcat(rel, "secret");
					record(t, rel, open(rel, O_RDONLY));
				}
			}
			_exit(0);
		}
	}

	/* The renames start once the second opener stands inside BASE/a/b/c/d. */
	while (!shared[2] || !shared[3])
		usleep(1000);
	pid_t renamer = fork();
	if (renamer == 0) {
		long done = 0;
		for (long i = 0; i < renames; i++) {
			const char *from = i % 2 ? b : a_b, *to = i % 2 ? a_b : b;
			if (rename(from, to) != 0) {
				printf("race: rename %s %s: %s\n", from, to, errname(errno));
				break;
			}
			done++;
		}
		shared[0] = done;
		_exit(0);
	}
	int status;
	waitpid(renamer, &status, 0);
	shared[1] = 1;
	for (int k = 0; k < 2; k++)
		waitpid(openers[k], &status, 0);

	long opens = tallies[0].opens + tallies[1].opens;
	long opened = tallies[0].opened + tallies[1].opened;
	printf("race: renames=%ld opens=%ld opened=%ld errors=", shared[0], opens, opened);
	const char *sep = "";
	for (int e = 0; e < 256; e++) {
		long n = tallies[0].err[e] + tallies[1].err[e];
		if (n) {
			printf("%s%s:%ld", sep, errname(e), n);
			sep = ",";
		}
	}
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "open") == 0) {
		for (int i = 2; i < argc; i++)
			show_open(argv[i], open(argv[i], O_RDONLY));
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "magic") == 0)
		return magic();
	if (argc == 4 && strcmp(argv[1], "race") == 0)
		return race(argv[2], atol(argv[3]));
	fprintf(stderr, "usage: esc_paths open PATH... | magic | race BASE N\n");
	return 2;
}

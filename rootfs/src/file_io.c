/*
 * file_io: self-checking guest for the file system calls, run in an empty
 * scratch directory given as argv[1].
 *
 * Covers open/read/write/pread/pwrite/lseek (incl. SEEK_DATA/SEEK_HOLE),
 * readv/writev, dup/dup2/dup3, fcntl, ftruncate/truncate, fstat/newfstatat/
 * statx, getdents64, rename/renameat2, link/symlink/readlink, unlink/rmdir/
 * mkdir, access/faccessat, chmod, umask, utimensat, getcwd/chdir/fchdir and
 * sendfile, with the errno of every error case.  Prints one line per check
 * (`NAME: ok` or `NAME: <errno name>`) and a summary; output holds no inode
 * numbers, times of day or addresses.  Exit status 0 only if all passed.
 */
#define _GNU_SOURCE
#include "check.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static off_t size_of(const char *path)
{
	struct stat st;
	return stat(path, &st) ? -1 : st.st_size;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) ? (mode_t)-1 : st.st_mode & 07777;
}

static int file_is(const char *path, const char *want)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

static int make_file(const char *path, const char *content)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0666);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, content, strlen(content));
	close(fd);
	return n == (ssize_t)strlen(content) ? 0 : -1;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void test_basic_io(void)
{
	char buf[64] = { 0 };
	int fd = open("f", O_CREAT | O_EXCL | O_RDWR, 0666);
	CHECK("open_create", fd >= 0);
	check_err("open_excl_exists", open("f", O_CREAT | O_EXCL | O_RDWR, 0666), EEXIST);
	check_err("open_missing", open("missing", O_RDONLY), ENOENT);
	CHECK("write", write(fd, "hello world\n", 12) == 12);
	CHECK("lseek_cur", lseek(fd, 0, SEEK_CUR) == 12);
	CHECK("lseek_set", lseek(fd, 0, SEEK_SET) == 0);
	CHECK("read", read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0);
	CHECK("pread", pread(fd, buf, 5, 6) == 5 && memcmp(buf, "world", 5) == 0);
	CHECK("pread_keeps_offset", lseek(fd, 0, SEEK_CUR) == 5);
	CHECK("pwrite_past_end", pwrite(fd, "tail", 4, 100) == 4);
	CHECK("pwrite_keeps_offset", lseek(fd, 0, SEEK_CUR) == 5);
	CHECK("lseek_end", lseek(fd, 0, SEEK_END) == 104);
	CHECK("read_at_eof", read(fd, buf, sizeof(buf)) == 0);
	CHECK("sparse_gap_zero", pread(fd, buf, 8, 50) == 8 &&
	      memcmp(buf, "\0\0\0\0\0\0\0\0", 8) == 0);
	CHECK("lseek_data_start", lseek(fd, 0, SEEK_DATA) == 0);
	off_t hole = lseek(fd, 0, SEEK_HOLE);
	CHECK("lseek_hole_within_size", hole > 0 && hole <= 104);
	check_err("lseek_data_past_end", lseek(fd, 200, SEEK_DATA), ENXIO);
	check_err("lseek_negative", lseek(fd, -1, SEEK_SET), EINVAL);
	check_err("lseek_bad_whence", lseek(fd, 0, 42), EINVAL);
	CHECK("fsync", fsync(fd) == 0 && fdatasync(fd) == 0);

	char a[3], b[4], c[5];
	struct iovec rv[3] = { { a, 3 }, { b, 4 }, { c, 5 } };
	lseek(fd, 0, SEEK_SET);
	CHECK("readv", readv(fd, rv, 3) == 12 && memcmp(a, "hel", 3) == 0 &&
	      memcmp(b, "lo w", 4) == 0 && memcmp(c, "orld\n", 5) == 0);
	struct iovec wv[3] = { { "ab", 2 }, { "", 0 }, { "cde", 3 } };
	CHECK("writev", lseek(fd, 0, SEEK_END) == 104 && writev(fd, wv, 3) == 5);
	CHECK("writev_content", pread(fd, buf, 5, 104) == 5 && memcmp(buf, "abcde", 5) == 0);

	struct stat st;
	CHECK("fstat", fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	      (st.st_mode & 0777) == 0644 && st.st_size == 109 && st.st_nlink == 1);
	CHECK("ftruncate_shrink", ftruncate(fd, 5) == 0 && fstat(fd, &st) == 0 &&
	      st.st_size == 5);
	CHECK("ftruncate_grow", ftruncate(fd, 8192) == 0 && size_of("f") == 8192 &&
	      pread(fd, buf, 4, 8000) == 4 && memcmp(buf, "\0\0\0\0", 4) == 0);
	check_err("ftruncate_negative", ftruncate(fd, -1), EINVAL);
	CHECK("truncate_path", truncate("f", 3) == 0 && size_of("f") == 3);
	check_err("truncate_missing", truncate("missing", 0), ENOENT);
	CHECK("close", close(fd) == 0);
	check_err("close_twice", close(fd), EBADF);
	check_err("read_closed", read(fd, buf, 1), EBADF);

	fd = open("f", O_RDONLY);
	check_err("write_rdonly", write(fd, "x", 1), EBADF);
	check_err("ftruncate_rdonly", ftruncate(fd, 0), EINVAL);
	close(fd);
	fd = open("f", O_WRONLY);
	check_err("read_wronly", read(fd, buf, 1), EBADF);
	close(fd);
	fd = open("f", O_WRONLY | O_TRUNC);
	CHECK("open_trunc", fd >= 0 && size_of("f") == 0);
	close(fd);
	check_err("open_directory_on_file", open("f", O_RDONLY | O_DIRECTORY), ENOTDIR);
	check_err("open_file_as_dir_component", open("f/x", O_RDONLY), ENOTDIR);
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	check_err("open_name_too_long", open(longname, O_RDONLY), ENAMETOOLONG);
}

static void test_fds(void)
{
	int fd = open("f", O_RDWR | O_TRUNC);
	write(fd, "0123456789", 10);
	lseek(fd, 2, SEEK_SET);
	int d = dup(fd);
	CHECK("dup", d > fd);
	CHECK("dup_shares_offset", lseek(d, 0, SEEK_CUR) == 2 &&
	      lseek(d, 7, SEEK_SET) == 7 && lseek(fd, 0, SEEK_CUR) == 7);
	CHECK("dup2", dup2(fd, 100) == 100 && lseek(100, 0, SEEK_CUR) == 7);
	CHECK("dup2_same_fd", dup2(fd, fd) == fd);
	CHECK("dup2_no_cloexec", fcntl(100, F_GETFD) == 0);
	CHECK("dup3_cloexec", dup3(fd, 101, O_CLOEXEC) == 101 &&
	      fcntl(101, F_GETFD) == FD_CLOEXEC);
	check_err("dup3_same_fd", dup3(fd, fd, 0), EINVAL);
	check_err("dup_bad_fd", dup(999), EBADF);
	CHECK("close_dups", close(100) == 0 && close(101) == 0 && close(d) == 0);
	check_err("fcntl_closed", fcntl(100, F_GETFD), EBADF);

	CHECK("fcntl_getfl_rdwr", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
	CHECK("fcntl_setfl_append", fcntl(fd, F_SETFL, O_APPEND) == 0 &&
	      (fcntl(fd, F_GETFL) & O_APPEND));
	lseek(fd, 0, SEEK_SET);
	CHECK("append_writes_at_end", write(fd, "ab", 2) == 2 && size_of("f") == 12 &&
	      lseek(fd, 0, SEEK_CUR) == 12);
	int c = fcntl(fd, F_DUPFD_CLOEXEC, 50);
	CHECK("fcntl_dupfd_cloexec", c >= 50 && fcntl(c, F_GETFD) == FD_CLOEXEC);
	int e = fcntl(fd, F_DUPFD, 60);
	CHECK("fcntl_dupfd", e >= 60 && fcntl(e, F_GETFD) == 0);
	CHECK("fcntl_dupfd_shares_flags", (fcntl(e, F_GETFL) & O_APPEND) != 0);
	CHECK("fcntl_setfd", fcntl(e, F_SETFD, FD_CLOEXEC) == 0 &&
	      fcntl(e, F_GETFD) == FD_CLOEXEC && fcntl(fd, F_GETFD) == 0);
	close(c);
	close(e);
	close(fd);
	fd = open("f", O_RDONLY | O_CLOEXEC);
	CHECK("open_cloexec", fcntl(fd, F_GETFD) == FD_CLOEXEC);
	close(fd);
}

static void test_stat(void)
{
	struct stat st;
	struct statx sx;
	CHECK("newfstatat", fstatat(AT_FDCWD, "f", &st, 0) == 0 && S_ISREG(st.st_mode) &&
	      st.st_size == 12);
	CHECK("newfstatat_dir", fstatat(AT_FDCWD, ".", &st, 0) == 0 && S_ISDIR(st.st_mode));
	check_err("newfstatat_missing", fstatat(AT_FDCWD, "missing", &st, 0), ENOENT);
	CHECK("statx", statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS, &sx) == 0 &&
	      (sx.stx_mask & STATX_SIZE) && sx.stx_size == 12 &&
	      S_ISREG(sx.stx_mode) && (sx.stx_mode & 0777) == 0644 && sx.stx_nlink == 1);
	CHECK("statx_matches_stat", stat("f", &st) == 0 && sx.stx_ino == st.st_ino &&
	      sx.stx_mtime.tv_sec == st.st_mtim.tv_sec);
	int fd = open("f", O_RDONLY);
	CHECK("statx_empty_path", statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &sx) == 0 &&
	      sx.stx_size == 12);
	close(fd);
	check_err("statx_missing", statx(AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &sx), ENOENT);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_getdents(void)
{
	CHECK("mkdir", mkdir("d", 0755) == 0);
	check_err("mkdir_exists", mkdir("d", 0755), EEXIST);
	check_err("mkdir_missing_parent", mkdir("nope/d", 0755), ENOENT);
	CHECK("populate", make_file("d/c", "c") == 0 && make_file("d/a", "a") == 0 &&
	      make_file("d/b", "b") == 0 && mkdir("d/z", 0700) == 0 &&
	      symlink("a", "d/s") == 0);

	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	char buf[1024], *names[32], line[512] = "";
	int count = 0;
	long n;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n && count < 32;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);
			char *entry = malloc(300);
			snprintf(entry, 300, "%s(%c)", de->d_name,
				 de->d_type == DT_DIR ? 'd' : de->d_type == DT_REG ? 'f' :
				 de->d_type == DT_LNK ? 'l' : '?');
			names[count++] = entry;
			off += de->d_reclen;
		}
	}
	CHECK("getdents64_end", n == 0);
	qsort(names, (size_t)count, sizeof(char *), cmp_str);
	for (int i = 0; i < count; i++) {
		strcat(line, " ");
		strcat(line, names[i]);
		free(names[i]);
	}
	printf("getdents64:%s\n", line);
	CHECK("getdents64_again_at_end", syscall(SYS_getdents64, dfd, buf, sizeof(buf)) == 0);
	CHECK("getdents64_rewind", lseek(dfd, 0, SEEK_SET) == 0 &&
	      syscall(SYS_getdents64, dfd, buf, sizeof(buf)) > 0);
	lseek(dfd, 0, SEEK_SET);
	check_err("getdents64_small_buf", syscall(SYS_getdents64, dfd, buf, 8), EINVAL);
	close(dfd);
	int fd = open("f", O_RDONLY);
	check_err("getdents64_on_file", syscall(SYS_getdents64, fd, buf, sizeof(buf)), ENOTDIR);
	close(fd);

	/* opendir/readdir through libc must see the same entries. */
	DIR *dir = opendir("d");
	int seen = 0;
	struct dirent *de;
	while (dir && (de = readdir(dir)))
		seen++;
	CHECK("readdir_count", dir && seen == count);
	if (dir)
		closedir(dir);
}

static void test_names(void)
{
	CHECK("rename", rename("d/a", "d/a2") == 0 && file_is("d/a2", "a") &&
	      access("d/a", F_OK) == -1);
	CHECK("rename_replaces", rename("d/a2", "d/b") == 0 && file_is("d/b", "a"));
	check_err("rename_missing", rename("d/a2", "d/x"), ENOENT);
	check_err("renameat2_noreplace", renameat2(AT_FDCWD, "d/b", AT_FDCWD, "d/c",
						   RENAME_NOREPLACE), EEXIST);
	CHECK("renameat2_noreplace_free", renameat2(AT_FDCWD, "d/b", AT_FDCWD, "d/b2",
						    RENAME_NOREPLACE) == 0 && file_is("d/b2", "a"));
	check_err("rename_dir_into_itself", rename("d", "d/z/d"), EINVAL);
	CHECK("mkdir_nonempty_target", mkdir("e", 0755) == 0 && make_file("e/x", "x") == 0);
	check_err("rename_dir_over_nonempty", rename("d/z", "e"), ENOTEMPTY);
	check_err("rename_dir_over_file", rename("d/z", "d/c"), ENOTDIR);

	CHECK("link", link("d/c", "d/c.link") == 0);
	struct stat st;
	CHECK("link_nlink", stat("d/c", &st) == 0 && st.st_nlink == 2);
	check_err("link_exists", link("d/c", "d/b2"), EEXIST);
	check_err("link_dir", link("d", "d2"), EPERM);
	CHECK("symlink", symlink("c", "d/c.sym") == 0);
	check_err("symlink_exists", symlink("c", "d/c.sym"), EEXIST);
	char buf[64] = { 0 };
	CHECK("readlink", readlink("d/c.sym", buf, sizeof(buf)) == 1 && buf[0] == 'c');
	check_err("readlink_zero_buf", readlink("d/s", buf, 0), EINVAL);
	CHECK("readlinkat", readlinkat(AT_FDCWD, "d/c.sym", buf, 1) == 1);
	check_err("readlink_not_link", readlink("d/c", buf, sizeof(buf)), EINVAL);
	CHECK("lstat_symlink", lstat("d/c.sym", &st) == 0 && S_ISLNK(st.st_mode) &&
	      st.st_size == 1);
	CHECK("stat_follows", stat("d/c.sym", &st) == 0 && S_ISREG(st.st_mode) &&
	      st.st_nlink == 2);
	CHECK("open_via_symlink", file_is("d/c.sym", "c"));
	check_err("open_nofollow", open("d/c.sym", O_RDONLY | O_NOFOLLOW), ELOOP);
	CHECK("symlink_loop", symlink("loop2", "loop1") == 0 && symlink("loop1", "loop2") == 0);
	check_err("open_symlink_loop", open("loop1", O_RDONLY), ELOOP);
	CHECK("dangling_symlink", symlink("nowhere", "dangle") == 0);
	check_err("open_dangling", open("dangle", O_RDONLY), ENOENT);

	CHECK("unlink", unlink("d/c.link") == 0 && stat("d/c", &st) == 0 && st.st_nlink == 1);
	check_err("unlink_missing", unlink("d/c.link"), ENOENT);
	check_err("unlink_dir", unlink("d/z"), EISDIR);
	check_err("rmdir_nonempty", rmdir("d"), ENOTEMPTY);
	check_err("rmdir_file", rmdir("d/c"), ENOTDIR);
	check_err("rmdir_dot", rmdir("d/z/."), EINVAL);
	CHECK("rmdir", rmdir("d/z") == 0 && access("d/z", F_OK) == -1);
	CHECK("unlinkat_removedir", mkdir("d/y", 0755) == 0 &&
	      unlinkat(AT_FDCWD, "d/y", AT_REMOVEDIR) == 0);
	check_err("unlinkat_removedir_file", unlinkat(AT_FDCWD, "d/c", AT_REMOVEDIR), ENOTDIR);
	int fd = open("d/c", O_RDONLY);
	CHECK("unlink_while_open", unlink("d/c") == 0 && read(fd, buf, 4) == 1 && buf[0] == 'c');
	close(fd);
}

static void test_perms(void)
{
	CHECK("access_rw", access("f", R_OK | W_OK) == 0);
	check_err("access_missing", access("missing", F_OK), ENOENT);
	check_err("faccessat_x_on_0644", faccessat(AT_FDCWD, "f", X_OK, 0), EACCES);
	CHECK("faccessat_eaccess", faccessat(AT_FDCWD, "f", R_OK, AT_EACCESS) == 0);
	CHECK("chmod", chmod("f", 0751) == 0 && mode_of("f") == 0751);
	CHECK("access_x_after_chmod", access("f", X_OK) == 0);
	int fd = open("f", O_RDONLY);
	CHECK("fchmod", fchmod(fd, 0640) == 0 && mode_of("f") == 0640);
	close(fd);
	CHECK("fchmodat", fchmodat(AT_FDCWD, "f", 04755, 0) == 0 && mode_of("f") == 04755);
	check_err("chmod_missing", chmod("missing", 0644), ENOENT);
	CHECK("umask_previous", umask(077) == 022);
	fd = open("g", O_CREAT | O_WRONLY, 0666);
	CHECK("umask_applies_file", fd >= 0 && mode_of("g") == 0600);
	CHECK("umask_applies_dir", mkdir("gd", 0777) == 0 && mode_of("gd") == 0700);
	CHECK("umask_restore", umask(022) == 077);
	close(fd);

	struct timespec ts[2] = { { 1000000000, 123456789 }, { 1500000000, 5 } };
	struct stat st;
	CHECK("utimensat", utimensat(AT_FDCWD, "f", ts, 0) == 0 && stat("f", &st) == 0 &&
	      st.st_atim.tv_sec == 1000000000 && st.st_atim.tv_nsec == 123456789 &&
	      st.st_mtim.tv_sec == 1500000000 && st.st_mtim.tv_nsec == 5);
	struct timespec omit[2] = { { 0, UTIME_OMIT }, { 1600000000, 0 } };
	CHECK("utimensat_omit", utimensat(AT_FDCWD, "f", omit, 0) == 0 && stat("f", &st) == 0 &&
	      st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec == 1600000000);
	time_t before = time(NULL);
	CHECK("utimensat_now", utimensat(AT_FDCWD, "f", NULL, 0) == 0 && stat("f", &st) == 0 &&
	      st.st_mtim.tv_sec >= before - 1 && st.st_mtim.tv_sec <= before + 5);
	check_err("utimensat_missing", utimensat(AT_FDCWD, "missing", ts, 0), ENOENT);
	CHECK("utimensat_nofollow", utimensat(AT_FDCWD, "dangle", ts, AT_SYMLINK_NOFOLLOW) == 0 &&
	      lstat("dangle", &st) == 0 && st.st_mtim.tv_sec == 1500000000);
}

static void test_cwd(const char *dir)
{
	char cwd[PATH_MAX], real[PATH_MAX];
	CHECK("getcwd", getcwd(cwd, sizeof(cwd)) != NULL && realpath(dir, real) != NULL &&
	      strcmp(cwd, real) == 0);
	check_err("getcwd_small", getcwd(cwd, 2) ? 0 : -1, ERANGE);
	int top = open(".", O_RDONLY | O_DIRECTORY);
	CHECK("chdir", chdir("gd") == 0 && getcwd(cwd, sizeof(cwd)) && ends_with(cwd, "/gd"));
	CHECK("chdir_dotdot", chdir("..") == 0 && getcwd(cwd, sizeof(cwd)) &&
	      strcmp(cwd, real) == 0);
	check_err("chdir_file", chdir("f"), ENOTDIR);
	check_err("chdir_missing", chdir("missing"), ENOENT);
	int gd = open("gd", O_RDONLY | O_DIRECTORY);
	CHECK("fchdir", fchdir(gd) == 0 && getcwd(cwd, sizeof(cwd)) && ends_with(cwd, "/gd"));
	CHECK("relative_after_fchdir", make_file("inner", "i") == 0 && file_is("../gd/inner", "i"));
	CHECK("fchdir_back", fchdir(top) == 0 && file_is("gd/inner", "i"));
	int f = open("f", O_RDONLY);
	check_err("fchdir_file", fchdir(f), ENOTDIR);
	CHECK("openat_dirfd", close(f) == 0 && (f = openat(gd, "inner", O_RDONLY)) >= 0);
	close(f);
	close(gd);
	close(top);
}

static void test_sendfile(void)
{
	char data[10000], back[10000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 31 + 7);
	int in = open("src", O_CREAT | O_RDWR | O_TRUNC, 0644);
	write(in, data, sizeof(data));
	int out = open("dst", O_CREAT | O_RDWR | O_TRUNC, 0644);
	off_t off = 100;
	CHECK("sendfile_offset", sendfile(out, in, &off, 9000) == 9000 && off == 9100);
	CHECK("sendfile_in_offset_kept", lseek(in, 0, SEEK_CUR) == 10000);
	CHECK("sendfile_content", pread(out, back, 9000, 0) == 9000 &&
	      memcmp(back, data + 100, 9000) == 0);
	lseek(in, 9990, SEEK_SET);
	CHECK("sendfile_file_offset", sendfile(out, in, NULL, 100) == 10 &&
	      lseek(in, 0, SEEK_CUR) == 10000 && size_of("dst") == 9010);
	CHECK("sendfile_at_eof", sendfile(out, in, NULL, 100) == 0);
	check_err("sendfile_bad_fd", sendfile(out, 999, NULL, 1), EBADF);
	close(in);
	close(out);
}

int main(int argc, char **argv)
{
	if (argc < 2 || chdir(argv[1])) {
		printf("usage: file_io EMPTY-SCRATCH-DIR\n");
		return 2;
	}
	umask(022);
	test_basic_io();
	test_fds();
	test_stat();
	test_getdents();
	test_names();
	test_perms();
	test_cwd(argv[1]);
	test_sendfile();
	return summary_of("file_io");
}

/*
 * sock_unix: self-checking guest for AF_UNIX sockets, run with an empty
 * scratch directory as argv[1] (for filesystem socket names).
 *
 * - socketpair: stream (byte stream, EOF, EPIPE with SIGPIPE or
 *   MSG_NOSIGNAL), datagram (boundaries, truncation, MSG_TRUNC, FIONREAD,
 *   ECONNREFUSED then ENOTCONN after the peer closes), seqpacket (boundaries,
 *   EOF).
 * - shutdown, MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT, SOCK_NONBLOCK, poll
 *   readiness of pairs, listeners and unconnected sockets.
 * - A server on a path in the scratch directory with a forked client:
 *   bind/listen/connect/accept4(SOCK_CLOEXEC), getsockname/getpeername,
 *   SO_PEERCRED (only whether pid and uid are the expected ones), EADDRINUSE,
 *   ENOENT, ECONNREFUSED (stale socket file, regular file), EISCONN.
 * - Abstract names (unique per run, never printed) and autobind; datagram
 *   sendto/recvfrom with and without a sender name.
 * - SCM_RIGHTS across processes: a pipe and a file fd in one message
 *   (MSG_CMSG_CLOEXEC, shared file offset), MSG_CTRUNC when the control
 *   buffer is short; SCM_CREDENTIALS with SO_PASSCRED.
 * - getsockopt/setsockopt: SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN,
 *   SO_ERROR, SO_SNDBUF, SO_RCVBUF, SO_PASSCRED, SO_REUSEADDR, SO_KEEPALIVE,
 *   SO_LINGER, SO_RCVTIMEO; ENOPROTOOPT and EOPNOTSUPP.
 * - Errors: ENOTSOCK, EAFNOSUPPORT, ESOCKTNOSUPPORT, EPROTONOSUPPORT,
 *   EINVAL, ENOTCONN, EOPNOTSUPP, EPROTOTYPE.
 *
 * Prints one line per check (`NAME: ok` or `NAME: FAIL (...)`) and a
 * summary; output holds no pids, inode numbers or names that differ between
 * runs. Children report through their exit status. Exit status 0 only if
 * all passed.
 */
#define _GNU_SOURCE
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/* Waits for child pid; true if it exited with status 0. */
static int child_ok(pid_t pid)
{
	return child_status(pid) == 0;
}

static socklen_t path_addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", dir, name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1;
}

/* An abstract name unique to this run (so native runs do not collide). */
static socklen_t abstract_addr(struct sockaddr_un *a, const char *tag)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "sentry-test-%d-%s",
			 (int)getpid(), tag);
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static int xsocket(int type)
{
	int fd = socket(AF_UNIX, type, 0);
	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	return fd;
}

static short revents(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

static void test_stream_pair(void)
{
	int sv[2];
	char buf[64];
	CHECK("stream_pair_create", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK("stream_write", write(sv[0], "hello ", 6) == 6 && send(sv[0], "world", 5, 0) == 5);
	CHECK("stream_fionread", ({ int n = -1; ioctl(sv[1], FIONREAD, &n) == 0 && n == 11; }));
	CHECK("stream_read_glues_writes", read(sv[1], buf, sizeof buf) == 11 && memcmp(buf, "hello world", 11) == 0);
	CHECK("stream_partial_read", write(sv[1], "abcdef", 6) == 6 && read(sv[0], buf, 4) == 4 &&
	      read(sv[0], buf + 4, 10) == 2 && memcmp(buf, "abcdef", 6) == 0);
	struct stat st;
	CHECK("stream_fstat_is_socket", fstat(sv[0], &st) == 0 && S_ISSOCK(st.st_mode));
	char link[64], proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", sv[0]);
	ssize_t n = readlink(proc, link, sizeof link - 1);
	CHECK("stream_proc_fd_name", n > 8 && strncmp(link, "socket:[", 8) == 0);
	CHECK("stream_getfl_rdwr", (fcntl(sv[0], F_GETFL) & O_ACCMODE) == O_RDWR);

	CHECK("stream_write_then_close", write(sv[0], "bye", 3) == 3 && close(sv[0]) == 0);
	CHECK("stream_data_before_eof", read(sv[1], buf, sizeof buf) == 3);
	CHECK("stream_eof", read(sv[1], buf, sizeof buf) == 0);
	CHECK("stream_hup_after_close",
	      (revents(sv[1], POLLIN | POLLRDHUP) & (POLLIN | POLLHUP | POLLRDHUP)) == (POLLIN | POLLHUP | POLLRDHUP));
	CHECK_ERR("stream_send_nosignal_epipe", send(sv[1], "x", 1, MSG_NOSIGNAL), EPIPE);
	CHECK("stream_no_sigpipe_with_nosignal", sigpipes == 0);
	CHECK_ERR("stream_write_epipe", write(sv[1], "x", 1), EPIPE);
	CHECK("stream_sigpipe_raised", sigpipes == 1);
	close(sv[1]);
}

static void test_dgram_pair(void)
{
	int sv[2];
	char buf[64];
	CHECK("dgram_pair_create", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	CHECK("dgram_send_three", send(sv[0], "first message", 13, 0) == 13 &&
	      send(sv[0], "", 0, 0) == 0 && send(sv[0], "third", 5, 0) == 5);
	CHECK("dgram_fionread_next", ({ int n = -1; ioctl(sv[1], FIONREAD, &n) == 0 && n == 13; }));
	struct iovec iov = {.iov_base = buf, .iov_len = 5};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	CHECK("dgram_truncates", recvmsg(sv[1], &m, 0) == 5 && (m.msg_flags & MSG_TRUNC) &&
	      memcmp(buf, "first", 5) == 0);
	CHECK("dgram_empty_message", recv(sv[1], buf, sizeof buf, 0) == 0);
	CHECK("dgram_msg_trunc_real_length", recv(sv[1], buf, 2, MSG_TRUNC) == 5);
	CHECK_ERR("dgram_dontwait_empty", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	CHECK("dgram_write_read", write(sv[1], "back", 4) == 4 && read(sv[0], buf, sizeof buf) == 4);
	close(sv[0]);
	CHECK_ERR("dgram_peer_gone_refused", send(sv[1], "x", 1, 0), ECONNREFUSED);
	CHECK_ERR("dgram_then_not_connected", send(sv[1], "x", 1, 0), ENOTCONN);
	CHECK("dgram_no_sigpipe", sigpipes == 1);
	close(sv[1]);
}

static void test_seqpacket_pair(void)
{
	int sv[2];
	char buf[64];
	CHECK("seqpacket_pair_create", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	CHECK("seqpacket_send", send(sv[0], "one", 3, 0) == 3 && send(sv[0], "two!", 4, 0) == 4);
	CHECK("seqpacket_boundaries", recv(sv[1], buf, sizeof buf, 0) == 3 && recv(sv[1], buf, sizeof buf, 0) == 4);
	close(sv[0]);
	CHECK("seqpacket_eof", recv(sv[1], buf, sizeof buf, 0) == 0);
	close(sv[1]);
}

static void test_shutdown_peek_waitall(void)
{
	int sv[2];
	char buf[64];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	CHECK("shutdown_wr", shutdown(sv[0], SHUT_WR) == 0);
	CHECK("shutdown_peer_reads_eof", read(sv[1], buf, sizeof buf) == 0);
	CHECK_ERR("shutdown_own_send_epipe", send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
	CHECK("shutdown_other_way_open", write(sv[1], "still", 5) == 5 && read(sv[0], buf, sizeof buf) == 5);
	CHECK("shutdown_rd", shutdown(sv[0], SHUT_RD) == 0);
	CHECK_ERR("shutdown_rd_peer_epipe", send(sv[1], "x", 1, MSG_NOSIGNAL), EPIPE);
	CHECK("shutdown_both_hup", (revents(sv[0], POLLIN) & POLLHUP) == POLLHUP);
	CHECK_ERR("shutdown_bad_how", shutdown(sv[0], 7), EINVAL);
	close(sv[0]);
	close(sv[1]);

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	send(sv[0], "peekaboo", 8, 0);
	CHECK("peek_stream", recv(sv[1], buf, 4, MSG_PEEK) == 4 && memcmp(buf, "peek", 4) == 0);
	CHECK("peek_then_read_all", recv(sv[1], buf, sizeof buf, 0) == 8 && memcmp(buf, "peekaboo", 8) == 0);

	pid_t pid = xfork();
	if (pid == 0) {
		write(sv[0], "part one ", 9);
		usleep(50000);
		write(sv[0], "part two", 8);
		_exit(0);
	}
	CHECK("waitall_gets_everything", recv(sv[1], buf, 17, MSG_WAITALL) == 17 &&
	      memcmp(buf, "part one part two", 17) == 0);
	CHECK("waitall_writer_ok", child_ok(pid));
	close(sv[0]);
	close(sv[1]);

	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	send(sv[0], "dgram", 5, 0);
	CHECK("peek_dgram", recv(sv[1], buf, sizeof buf, MSG_PEEK) == 5 && recv(sv[1], buf, sizeof buf, 0) == 5);
	close(sv[0]);
	close(sv[1]);
}

static void test_poll_and_nonblock(void)
{
	int sv[2];
	char buf[4096];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
	CHECK("poll_pair_writable", revents(sv[0], POLLIN | POLLOUT) == POLLOUT);
	CHECK_ERR("nonblock_read_eagain", read(sv[0], buf, sizeof buf), EAGAIN);
	write(sv[1], "x", 1);
	CHECK("poll_pair_readable", revents(sv[0], POLLIN | POLLOUT) == (POLLIN | POLLOUT));
	read(sv[0], buf, 1);
	/* Fill the peer's buffer: writes stop with EAGAIN and POLLOUT goes away. */
	memset(buf, 'z', sizeof buf);
	long total = 0;
	ssize_t n;
	while ((n = write(sv[0], buf, sizeof buf)) > 0)
		total += n;
	CHECK("nonblock_fill_eagain", n == -1 && errno == EAGAIN && total > 0);
	CHECK("poll_full_not_writable", (revents(sv[0], POLLOUT) & POLLOUT) == 0);
	long drained = 0;
	while ((n = read(sv[1], buf, sizeof buf)) > 0)
		drained += n;
	CHECK("nonblock_drain_all", drained == total);
	CHECK("poll_writable_again", revents(sv[0], POLLOUT) == POLLOUT);
	close(sv[0]);
	close(sv[1]);

	int s = xsocket(SOCK_STREAM);
	CHECK("poll_unconnected_stream", revents(s, POLLIN | POLLOUT) == (POLLOUT | POLLHUP));
	close(s);

	/* A blocked poll wakes when the peer writes. */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid_t pid = xfork();
	if (pid == 0) {
		usleep(30000);
		write(sv[1], "w", 1);
		_exit(0);
	}
	struct pollfd p = {.fd = sv[0], .events = POLLIN};
	CHECK("poll_blocks_until_data", poll(&p, 1, 5000) == 1 && p.revents == POLLIN);
	CHECK("poll_writer_ok", child_ok(pid));
	close(sv[0]);
	close(sv[1]);
}

static void test_path_server(void)
{
	struct sockaddr_un addr, got;
	socklen_t len = path_addr(&addr, "srv.sock"), glen;
	int l = xsocket(SOCK_STREAM);
	CHECK("path_bind", bind(l, (struct sockaddr *)&addr, len) == 0);
	struct stat st;
	CHECK("path_node_is_socket", stat(addr.sun_path, &st) == 0 && S_ISSOCK(st.st_mode));
	glen = sizeof got;
	CHECK("path_getsockname", getsockname(l, (struct sockaddr *)&got, &glen) == 0 && glen == len &&
	      strcmp(got.sun_path, addr.sun_path) == 0);
	CHECK_ERR("path_bind_twice_einval", bind(l, (struct sockaddr *)&addr, len), EADDRINUSE);
	int other = xsocket(SOCK_STREAM);
	CHECK_ERR("path_addrinuse", bind(other, (struct sockaddr *)&addr, len), EADDRINUSE);
	struct sockaddr_un a2;
	socklen_t len2 = path_addr(&a2, "second.sock");
	CHECK_ERR("path_rebind_einval", bind(l, (struct sockaddr *)&a2, len2), EINVAL);
	CHECK_ERR("path_connect_not_listening", connect(other, (struct sockaddr *)&addr, len), ECONNREFUSED);
	CHECK("path_listen", listen(l, 8) == 0);
	CHECK("path_acceptconn", ({ int v = 0; socklen_t vl = sizeof v;
	      getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) == 0 && v == 1; }));
	CHECK("poll_listener_idle", revents(l, POLLIN | POLLOUT) == 0);

	pid_t parent = getpid();
	pid_t pid = xfork();
	if (pid == 0) {
		int c = xsocket(SOCK_STREAM);
		char buf[16];
		struct sockaddr_un peer;
		socklen_t plen = sizeof peer;
		struct ucred cred;
		socklen_t clen = sizeof cred;
		if (connect(c, (struct sockaddr *)&addr, len) != 0)
			_exit(1);
		if (getpeername(c, (struct sockaddr *)&peer, &plen) != 0 || plen != len ||
		    strcmp(peer.sun_path, addr.sun_path) != 0)
			_exit(2);
		if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
		    clen != sizeof cred || cred.pid != parent || cred.uid != geteuid())
			_exit(3);
		errno = 0;
		if (connect(c, (struct sockaddr *)&addr, len) != -1 || errno != EISCONN)
			_exit(4);
		if (send(c, "ping", 4, 0) != 4 || recv(c, buf, sizeof buf, 0) != 4 ||
		    memcmp(buf, "pong", 4) != 0)
			_exit(5);
		_exit(0);
	}
	struct pollfd p = {.fd = l, .events = POLLIN};
	CHECK("poll_listener_pending", poll(&p, 1, 5000) == 1 && p.revents == POLLIN);
	struct sockaddr_un peer;
	socklen_t plen = sizeof peer;
	int s = accept4(l, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
	CHECK("path_accept4", s >= 0);
	CHECK("path_accept4_cloexec", fcntl(s, F_GETFD) == FD_CLOEXEC);
	CHECK("path_accept_peer_unnamed", plen == offsetof(struct sockaddr_un, sun_path));
	glen = sizeof got;
	CHECK("path_accepted_name_is_listener",
	      getsockname(s, (struct sockaddr *)&got, &glen) == 0 && glen == len &&
	      strcmp(got.sun_path, addr.sun_path) == 0);
	struct ucred cred;
	socklen_t clen = sizeof cred;
	CHECK("path_peercred_sane", getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 &&
	      clen == sizeof cred && cred.pid == pid && cred.uid == geteuid() && cred.gid == getegid());
	char buf[16];
	CHECK("path_exchange", recv(s, buf, sizeof buf, 0) == 4 && memcmp(buf, "ping", 4) == 0 &&
	      send(s, "pong", 4, 0) == 4);
	CHECK("path_client_ok", child_ok(pid));
	CHECK("path_eof_after_client_exit", recv(s, buf, sizeof buf, 0) == 0);
	close(s);

	int nb = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	fcntl(l, F_SETFL, O_NONBLOCK);
	CHECK_ERR("path_accept_nonblock_eagain", accept(l, NULL, NULL), EAGAIN);
	close(l);
	/* The socket file stays, but nobody listens on it any more. */
	CHECK_ERR("path_stale_refused", connect(nb, (struct sockaddr *)&addr, len), ECONNREFUSED);
	struct sockaddr_un missing;
	socklen_t mlen = path_addr(&missing, "missing.sock");
	CHECK_ERR("path_missing_enoent", connect(nb, (struct sockaddr *)&missing, mlen), ENOENT);
	struct sockaddr_un plain;
	socklen_t flen = path_addr(&plain, "plain-file");
	close(open(plain.sun_path, O_CREAT | O_WRONLY, 0644));
	CHECK_ERR("path_regular_file_refused", connect(nb, (struct sockaddr *)&plain, flen), ECONNREFUSED);
	CHECK_ERR("path_bind_over_file", bind(nb, (struct sockaddr *)&plain, flen), EADDRINUSE);
	CHECK("path_unlink_and_rebind", unlink(addr.sun_path) == 0 &&
	      bind(nb, (struct sockaddr *)&addr, len) == 0);
	close(nb);
	close(other);
}

static void test_abstract(void)
{
	struct sockaddr_un addr, got;
	socklen_t len = abstract_addr(&addr, "stream"), glen = sizeof got;
	int l = xsocket(SOCK_STREAM);
	CHECK("abstract_bind", bind(l, (struct sockaddr *)&addr, len) == 0);
	CHECK("abstract_getsockname", getsockname(l, (struct sockaddr *)&got, &glen) == 0 &&
	      glen == len && memcmp(&got, &addr, len) == 0);
	int dup = xsocket(SOCK_STREAM);
	CHECK_ERR("abstract_addrinuse", bind(dup, (struct sockaddr *)&addr, len), EADDRINUSE);
	CHECK("abstract_listen", listen(l, 4) == 0);
	pid_t pid = xfork();
	if (pid == 0) {
		int c = xsocket(SOCK_STREAM);
		char buf[8];
		if (connect(c, (struct sockaddr *)&addr, len) != 0)
			_exit(1);
		if (write(c, "abs", 3) != 3 || read(c, buf, sizeof buf) != 2)
			_exit(2);
		_exit(0);
	}
	int s = accept(l, NULL, NULL);
	char buf[8];
	CHECK("abstract_exchange", s >= 0 && read(s, buf, sizeof buf) == 3 && write(s, "ok", 2) == 2);
	CHECK("abstract_client_ok", child_ok(pid));
	close(s);
	close(l);
	struct sockaddr_un none;
	socklen_t nlen = abstract_addr(&none, "nobody");
	CHECK_ERR("abstract_refused", connect(dup, (struct sockaddr *)&none, nlen), ECONNREFUSED);
	CHECK("abstract_name_free_after_close", bind(dup, (struct sockaddr *)&addr, len) == 0);
	close(dup);

	int a = xsocket(SOCK_DGRAM);
	struct sockaddr_un fam = {.sun_family = AF_UNIX};
	glen = sizeof got;
	CHECK("autobind", bind(a, (struct sockaddr *)&fam, offsetof(struct sockaddr_un, sun_path)) == 0 &&
	      getsockname(a, (struct sockaddr *)&got, &glen) == 0 && glen == 8 && got.sun_path[0] == 0);
	close(a);
}

static void test_dgram_names(void)
{
	struct sockaddr_un srv, from;
	socklen_t slen = path_addr(&srv, "dgram.sock"), flen;
	int s = xsocket(SOCK_DGRAM);
	CHECK("dgram_bind_path", bind(s, (struct sockaddr *)&srv, slen) == 0);
	int c = xsocket(SOCK_DGRAM);
	char buf[32];
	CHECK("dgram_sendto_path", sendto(c, "anon", 4, 0, (struct sockaddr *)&srv, slen) == 4);
	flen = sizeof from;
	CHECK("dgram_recvfrom_unnamed", recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen) == 4 &&
	      flen == 0);
	struct sockaddr_un cn;
	socklen_t cnlen = abstract_addr(&cn, "dgram-client");
	CHECK("dgram_bind_client", bind(c, (struct sockaddr *)&cn, cnlen) == 0);
	sendto(c, "named", 5, 0, (struct sockaddr *)&srv, slen);
	flen = sizeof from;
	CHECK("dgram_recvfrom_named", recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen) == 5 &&
	      flen == cnlen && memcmp(&from, &cn, cnlen) == 0);
	CHECK("dgram_reply_to_sender", sendto(s, "reply", 5, 0, (struct sockaddr *)&from, flen) == 5 &&
	      recv(c, buf, sizeof buf, 0) == 5);
	struct sockaddr_un missing;
	socklen_t mlen = path_addr(&missing, "no-dgram.sock");
	CHECK_ERR("dgram_sendto_missing", sendto(c, "x", 1, 0, (struct sockaddr *)&missing, mlen), ENOENT);
	int st = xsocket(SOCK_STREAM);
	CHECK_ERR("dgram_connect_stream_prototype", connect(st, (struct sockaddr *)&srv, slen), EPROTOTYPE);
	CHECK("dgram_connect", connect(c, (struct sockaddr *)&srv, slen) == 0 && send(c, "conn", 4, 0) == 4 &&
	      recv(s, buf, sizeof buf, 0) == 4);
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	CHECK("dgram_disconnect", connect(c, &unspec, sizeof unspec) == 0);
	CHECK_ERR("dgram_disconnected_enotconn", send(c, "x", 1, 0), ENOTCONN);
	close(st);
	close(c);
	close(s);
}

static int send_fds(int sock, const int *fds, int n, const char *data)
{
	char ctl[CMSG_SPACE(4 * sizeof(int))];
	memset(ctl, 0, sizeof ctl);
	struct iovec iov = {.iov_base = (void *)data, .iov_len = strlen(data)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			   .msg_controllen = CMSG_SPACE(n * sizeof(int))};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	return sendmsg(sock, &m, 0);
}

static void test_scm_rights(void)
{
	int sv[2], p[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pipe(p);
	char path[256];
	snprintf(path, sizeof path, "%s/passed-file", dir);
	int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(f, "file contents", 13);
	lseek(f, 0, SEEK_SET);

	pid_t pid = xfork();
	if (pid == 0) {
		close(sv[0]);
		char data[16], ctl[CMSG_SPACE(4 * sizeof(int))], buf[32];
		struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
				   .msg_controllen = sizeof ctl};
		if (recvmsg(sv[1], &m, MSG_CMSG_CLOEXEC) != 3)
			_exit(1);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len != CMSG_LEN(2 * sizeof(int)) || (m.msg_flags & MSG_CTRUNC))
			_exit(2);
		int fds[2];
		memcpy(fds, CMSG_DATA(c), sizeof fds);
		if (fcntl(fds[0], F_GETFD) != FD_CLOEXEC || fcntl(fds[1], F_GETFD) != FD_CLOEXEC)
			_exit(3);
		/* The pipe: the parent writes only after it closed its own read end. */
		if (read(fds[0], buf, sizeof buf) != 9 || memcmp(buf, "via pipe!", 9) != 0)
			_exit(4);
		/* The file: same open file description, so the offset is shared. */
		if (read(fds[1], buf, 4) != 4 || memcmp(buf, "file", 4) != 0)
			_exit(5);
		if (write(sv[1], "done", 4) != 4)
			_exit(6);
		_exit(0);
	}
	close(sv[1]);
	int fds[2] = {p[0], f};
	CHECK("rights_send_two", send_fds(sv[0], fds, 2, "fds") == 3);
	close(p[0]);
	CHECK("rights_pipe_write_after_close", write(p[1], "via pipe!", 9) == 9);
	char buf[8];
	CHECK("rights_child_done", read(sv[0], buf, sizeof buf) == 4);
	CHECK("rights_child_ok", child_ok(pid));
	CHECK("rights_offset_shared", lseek(f, 0, SEEK_CUR) == 4);
	close(p[1]);
	close(sv[0]);

	/* A control buffer with room for two fds of three (padding makes room for the
	 * second): MSG_CTRUNC, the third is closed. */
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	int three[3] = {f, f, f};
	send_fds(sv[0], three, 3, "x");
	char data[4], ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	CHECK("rights_ctrunc", recvmsg(sv[1], &m, 0) == 1 && (m.msg_flags & MSG_CTRUNC) &&
	      m.msg_controllen == CMSG_SPACE(sizeof(int)) &&
	      CMSG_FIRSTHDR(&m)->cmsg_len == CMSG_LEN(2 * sizeof(int)));
	int got[2];
	memcpy(got, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof got);
	CHECK("rights_ctrunc_fds_usable", fcntl(got[0], F_GETFD) == 0 && lseek(got[1], 0, SEEK_CUR) == 4);
	close(got[0]);
	close(got[1]);
	int two[2] = {f, f};
	/* No control buffer at all: the files are dropped, MSG_CTRUNC. */
	send_fds(sv[0], two, 1, "y");
	m.msg_control = NULL;
	m.msg_controllen = 0;
	CHECK("rights_no_control_ctrunc", recvmsg(sv[1], &m, 0) == 1 && (m.msg_flags & MSG_CTRUNC));
	int bad = 999;
	CHECK_ERR("rights_bad_fd", send_fds(sv[0], &bad, 1, "z"), EBADF);
	close(sv[0]);
	close(sv[1]);
	close(f);
}

static void test_scm_credentials(void)
{
	int sv[2], on = 1;
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	CHECK("passcred_set", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
	pid_t pid = xfork();
	if (pid == 0) {
		_exit(send(sv[0], "c", 1, 0) == 1 ? 0 : 1);
	}
	CHECK("passcred_sender_ok", child_ok(pid));
	char data[4], ctl[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	CHECK("passcred_recv", recvmsg(sv[1], &m, 0) == 1);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	struct ucred u = {0};
	if (c)
		memcpy(&u, CMSG_DATA(c), sizeof u);
	CHECK("passcred_cmsg_sane", c && c->cmsg_type == SCM_CREDENTIALS &&
	      c->cmsg_len == CMSG_LEN(sizeof u) && u.pid == pid && u.uid == getuid() && u.gid == getgid());
	/* Claiming one's own credentials explicitly is allowed. */
	struct ucred mine = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
	memset(ctl, 0, sizeof ctl);
	iov.iov_len = 1;
	struct msghdr s = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	c = CMSG_FIRSTHDR(&s);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof mine);
	memcpy(CMSG_DATA(c), &mine, sizeof mine);
	CHECK("passcred_explicit_own", sendmsg(sv[0], &s, 0) == 1);
	m.msg_controllen = sizeof ctl;
	CHECK("passcred_explicit_recv", recvmsg(sv[1], &m, 0) == 1 &&
	      memcmp(CMSG_DATA(CMSG_FIRSTHDR(&m)), &mine, sizeof mine) == 0);
	close(sv[0]);
	close(sv[1]);
}

static int getint(int fd, int opt)
{
	int v = -12345;
	socklen_t l = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, opt, &v, &l) != 0 || l != sizeof v)
		return -12345;
	return v;
}

static void test_sockopts(void)
{
	int s = xsocket(SOCK_SEQPACKET), one = 1;
	CHECK("opt_type", getint(s, SO_TYPE) == SOCK_SEQPACKET);
	CHECK("opt_domain", getint(s, SO_DOMAIN) == AF_UNIX);
	CHECK("opt_protocol", getint(s, SO_PROTOCOL) == 0);
	CHECK("opt_acceptconn_no", getint(s, SO_ACCEPTCONN) == 0);
	CHECK("opt_error_none", getint(s, SO_ERROR) == 0);
	int v = 8192;
	CHECK("opt_sndbuf_doubles", setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v) == 0 &&
	      getint(s, SO_SNDBUF) == 16384);
	CHECK("opt_rcvbuf_doubles", setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) == 0 &&
	      getint(s, SO_RCVBUF) == 16384);
	CHECK("opt_passcred", getint(s, SO_PASSCRED) == 0 &&
	      setsockopt(s, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == 0 && getint(s, SO_PASSCRED) == 1);
	CHECK("opt_reuseaddr", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
	      getint(s, SO_REUSEADDR) == 1);
	CHECK("opt_keepalive", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) == 0 &&
	      getint(s, SO_KEEPALIVE) == 1);
	struct linger lg = {.l_onoff = 1, .l_linger = 5}, lg2;
	socklen_t ll = sizeof lg2;
	CHECK("opt_linger", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0 &&
	      getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &ll) == 0 && ll == sizeof lg2 &&
	      lg2.l_onoff == 1 && lg2.l_linger == 5);
	struct ucred u;
	socklen_t ul = sizeof u;
	CHECK("opt_peercred_unconnected", getsockopt(s, SOL_SOCKET, SO_PEERCRED, &u, &ul) == 0 &&
	      u.pid == 0 && u.uid == (uid_t)-1 && u.gid == (gid_t)-1);
	char small[2];
	socklen_t sl = sizeof small;
	CHECK("opt_short_buffer", getsockopt(s, SOL_SOCKET, SO_TYPE, small, &sl) == 0 && sl == 2);
	CHECK_ERR("opt_unknown", getsockopt(s, SOL_SOCKET, 9999, &v, &sl), ENOPROTOOPT);
	CHECK_ERR("opt_set_readonly", setsockopt(s, SOL_SOCKET, SO_TYPE, &v, sizeof v), ENOPROTOOPT);
	CHECK_ERR("opt_set_short", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, 2), EINVAL);
	sl = sizeof v;
	CHECK_ERR("opt_other_level", getsockopt(s, 0 /* SOL_IP */, 1, &v, &sl), EOPNOTSUPP);
	close(s);

	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000}, tv2;
	socklen_t tl = sizeof tv2;
	CHECK("opt_rcvtimeo", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
	      getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv2, &tl) == 0 && tv2.tv_sec == 0 &&
	      tv2.tv_usec == 200000);
	struct timespec t0, t1;
	char buf[4];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_ERR("opt_rcvtimeo_expires", recv(sv[0], buf, sizeof buf, 0), EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK("opt_rcvtimeo_waited", ms >= 150);
	tv.tv_usec = 1000000;
	CHECK_ERR("opt_rcvtimeo_edom", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), EDOM);
	struct ucred pc;
	socklen_t pl = sizeof pc;
	CHECK("opt_peercred_pair", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &pc, &pl) == 0 &&
	      pc.pid == getpid() && pc.uid == geteuid());
	close(sv[0]);
	close(sv[1]);
}

static void test_errors(void)
{
	int p[2];
	pipe(p);
	struct sockaddr_un a;
	socklen_t alen = sizeof a;
	CHECK_ERR("enotsock_getsockname", getsockname(p[0], (struct sockaddr *)&a, &alen), ENOTSOCK);
	CHECK_ERR("enotsock_send", send(p[1], "x", 1, 0), ENOTSOCK);
	CHECK_ERR("enotsock_listen", listen(p[0], 1), ENOTSOCK);
	CHECK_ERR("ebadf_bind", bind(999, (struct sockaddr *)&a, sizeof a), EBADF);
	close(p[0]);
	close(p[1]);
	CHECK_ERR("eafnosupport", socket(255, SOCK_STREAM, 0), EAFNOSUPPORT);
	CHECK_ERR("esocktnosupport", socket(AF_UNIX, SOCK_RDM, 0), ESOCKTNOSUPPORT);
	CHECK_ERR("eprotonosupport", socket(AF_UNIX, SOCK_STREAM, 2), EPROTONOSUPPORT);
	CHECK_ERR("socket_bad_flags", socket(AF_UNIX, SOCK_STREAM | 0x100000, 0), EINVAL);
	int s = xsocket(SOCK_STREAM), d = xsocket(SOCK_DGRAM);
	char buf[4];
	CHECK_ERR("enotconn_send", send(s, "x", 1, MSG_NOSIGNAL), ENOTCONN);
	CHECK_ERR("einval_recv_unconnected", recv(s, buf, sizeof buf, MSG_DONTWAIT), EINVAL);
	CHECK_ERR("enotconn_getpeername", getpeername(s, (struct sockaddr *)&a, &alen), ENOTCONN);
	CHECK_ERR("einval_listen_unbound", listen(s, 1), EINVAL);
	CHECK_ERR("einval_accept_not_listening", accept(s, NULL, NULL), EINVAL);
	CHECK_ERR("eopnotsupp_listen_dgram", listen(d, 1), EOPNOTSUPP);
	CHECK_ERR("eopnotsupp_accept_dgram", accept(d, NULL, NULL), EOPNOTSUPP);
	CHECK_ERR("enotconn_dgram_send", send(d, "x", 1, 0), ENOTCONN);
	struct sockaddr_un bad = {.sun_family = AF_INET};
	CHECK_ERR("einval_bind_family", bind(s, (struct sockaddr *)&bad, sizeof bad), EINVAL);
	CHECK_ERR("einval_accept4_flags", accept4(s, NULL, NULL, 0x10), EINVAL);
	close(s);
	close(d);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: sock_unix SCRATCH_DIR\n");
		return 2;
	}
	dir = argv[1];
	signal(SIGPIPE, on_sigpipe);
	test_stream_pair();
	test_dgram_pair();
	test_seqpacket_pair();
	test_shutdown_peek_waitall();
	test_poll_and_nonblock();
	test_path_server();
	test_abstract();
	test_dgram_names();
	test_scm_rights();
	test_scm_credentials();
	test_sockopts();
	test_errors();
	return summary();
}

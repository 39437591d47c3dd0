/*
 * net_tcp: self-checking guest for TCP over the loopback interface, on
 * 127.0.0.1, ::1 and a dual-stack [::] listener.
 *
 * - Port 0 binds an ephemeral port (32768-60999); getsockname/getpeername
 *   and accept report sockaddr_in/sockaddr_in6 of the right sizes, with the
 *   client's port as the server sees it; a v6 listener shows a v4 client
 *   v4-mapped; IPV6_V6ONLY keeps v4 clients out.
 * - Forked clients: a few MiB each way with a half-close in between,
 *   MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT, FIONREAD.
 * - Nonblocking accept and connect with poll and SO_ERROR, epoll readiness
 *   (EPOLLIN/OUT/RDHUP/HUP/ERR).
 * - Close: end of file, then a write that goes out and one that fails with
 *   EPIPE and SIGPIPE; ECONNRESET after a close with unread data and after
 *   SO_LINGER {1, 0}.
 * - Errors: ECONNREFUSED (blocking and nonblocking), EADDRINUSE and the
 *   SO_REUSEADDR rules, EADDRNOTAVAIL, EISCONN, ENOTCONN, EPIPE, EINVAL,
 *   EOPNOTSUPP, ESOCKTNOSUPPORT, EPROTONOSUPPORT; ENETUNREACH as the only
 *   interface is lo (the sandbox's case: natively, on a host with other
 *   interfaces, the guest first moves into a network namespace of its own
 *   with only lo up, which needs root).
 * - Options: SO_TYPE/SO_DOMAIN/SO_PROTOCOL/SO_ACCEPTCONN, SO_REUSEADDR,
 *   SO_KEEPALIVE, SO_RCVBUF, TCP_NODELAY, TCP_INFO's state.
 *
 * Prints one line per check and a summary; never a port number or address
 * that differs between runs. Exit status 0 only if all passed.
 */
#define _GNU_SOURCE
#include "check.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/* A loopback address of family, with port. */
static socklen_t loopback(int family, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	a->sin6_addr = in6addr_loopback;
	return sizeof(*a);
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	return port_of(&ss);
}

/* A listener on family's loopback address, port 0. */
static int listener(int family, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(family, 0, &ss);
	int fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, backlog) != 0) {
		perror("listener");
		exit(2);
	}
	return fd;
}

/* A socket connected to port on family's loopback address. */
static int connect_to(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(family, port, &ss);
	int fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0)
		return -1;
	return fd;
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

/* Deterministic bytes and their checksum. */
static void fill(unsigned char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = seed >> 16;
	}
}

static uint64_t sum(const unsigned char *buf, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ buf[i]) * 1099511628211ull;
	return h;
}

static int getint(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);
	if (getsockopt(fd, level, name, &v, &len) != 0)
		return -1000 - errno;
	return v;
}

/* Names and the client's port as the server sees it, over family. */
static void names(int family, const char *tag)
{
	char name[64];
	int l = listener(family, 4);
	uint16_t port = local_port(l);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	getsockname(l, (struct sockaddr *)&ss, &len);
	socklen_t want = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	snprintf(name, sizeof(name), "%s-listener-name", tag);
	CHECK(name, len == want && ss.ss_family == family);
	snprintf(name, sizeof(name), "%s-ephemeral-port", tag);
	CHECK(name, port >= 32768 && port <= 60999);
	snprintf(name, sizeof(name), "%s-acceptconn", tag);
	CHECK(name, getint(l, SOL_SOCKET, SO_ACCEPTCONN) == 1);

	int c = connect_to(family, port);
	snprintf(name, sizeof(name), "%s-connect", tag);
	CHECK(name, c >= 0);
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int s = accept(l, (struct sockaddr *)&peer, &plen);
	snprintf(name, sizeof(name), "%s-accept-peer", tag);
	CHECK(name, s >= 0 && plen == want && peer.ss_family == family &&
			    port_of(&peer) == local_port(c));
	struct sockaddr_storage cpeer;
	socklen_t clen = sizeof(cpeer);
	snprintf(name, sizeof(name), "%s-getpeername", tag);
	CHECK(name, getpeername(c, (struct sockaddr *)&cpeer, &clen) == 0 && clen == want &&
			    port_of(&cpeer) == port);
	snprintf(name, sizeof(name), "%s-accepted-name", tag);
	CHECK(name, local_port(s) == port && getint(s, SOL_SOCKET, SO_ACCEPTCONN) == 0);
	struct sockaddr_storage small;
	socklen_t slen = 4;
	snprintf(name, sizeof(name), "%s-short-name-buffer", tag);
	CHECK(name, getsockname(c, (struct sockaddr *)&small, &slen) == 0 && slen == want);
	snprintf(name, sizeof(name), "%s-types", tag);
	CHECK(name, getint(c, SOL_SOCKET, SO_TYPE) == SOCK_STREAM &&
			    getint(c, SOL_SOCKET, SO_DOMAIN) == family &&
			    getint(c, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP);
	snprintf(name, sizeof(name), "%s-echo", tag);
	char buf[8] = {0};
	CHECK(name, write(c, "ping", 4) == 4 && read(s, buf, sizeof(buf)) == 4 &&
			    write(s, buf, 4) == 4 && read(c, buf, sizeof(buf)) == 4 &&
			    memcmp(buf, "ping", 4) == 0);
	close(c);
	close(s);
	close(l);
}

static void dual_stack(void)
{
	int l = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
	CHECK("v6only-default-off", getint(l, IPPROTO_IPV6, IPV6_V6ONLY) == 0);
	CHECK("dual-bind", bind(l, (struct sockaddr *)&any, sizeof(any)) == 0 && listen(l, 4) == 0);
	uint16_t port = local_port(l);
	int c = connect_to(AF_INET, port);
	struct sockaddr_in6 peer;
	socklen_t len = sizeof(peer);
	int s = accept(l, (struct sockaddr *)&peer, &len);
	CHECK("dual-v4-client-mapped",
	      c >= 0 && s >= 0 && len == sizeof(peer) && IN6_IS_ADDR_V4MAPPED(&peer.sin6_addr) &&
		      peer.sin6_addr.s6_addr[15] == 1 && ntohs(peer.sin6_port) == local_port(c));
	struct sockaddr_in6 me;
	len = sizeof(me);
	getsockname(s, (struct sockaddr *)&me, &len);
	CHECK("dual-accepted-local-mapped", IN6_IS_ADDR_V4MAPPED(&me.sin6_addr));
	close(c);
	close(s);
	c = connect_to(AF_INET6, port);
	CHECK("dual-v6-client", c >= 0);
	close(c);
	close(l);

	int o = socket(AF_INET6, SOCK_STREAM, 0);
	int one = 1;
	CHECK("v6only-set", setsockopt(o, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0);
	CHECK("v6only-bind", bind(o, (struct sockaddr *)&any, sizeof(any)) == 0 && listen(o, 4) == 0);
	CHECK_ERR("v6only-after-bind", setsockopt(o, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)),
		  EINVAL);
	errno = 0;
	CHECK("v6only-refuses-v4", connect_to(AF_INET, local_port(o)) == -1 && errno == ECONNREFUSED);
	close(o);
}

enum { BIG = 3 << 20 };

/* A few MiB each way through a forked client, with a half-close between. */
static void transfer(int family, const char *tag)
{
	char name[64];
	int l = listener(family, 4);
	uint16_t port = local_port(l);
	pid_t pid = xfork();
	if (pid == 0) {
		unsigned char *buf = malloc(BIG);
		int c = connect_to(family, port);
		if (c < 0)
			_exit(3);
		fill(buf, BIG, 1);
		if (write_full(c, buf, BIG) != 0 || shutdown(c, SHUT_WR) != 0)
			_exit(4);
		memset(buf, 0, BIG);
		if (read_full(c, buf, BIG) != 0)
			_exit(5);
		unsigned char *want = malloc(BIG);
		fill(want, BIG, 2);
		char extra;
		_exit(memcmp(buf, want, BIG) != 0 ? 6 : read(c, &extra, 1) != 0 ? 7 : 0);
	}
	int s = accept(l, NULL, NULL);
	unsigned char *buf = malloc(BIG);
	size_t got = 0;
	ssize_t n;
	while ((n = read(s, buf + got, BIG - got)) > 0)
		got += n;
	unsigned char *want = malloc(BIG);
	fill(want, BIG, 1);
	snprintf(name, sizeof(name), "%s-big-upload", tag);
	CHECK(name, n == 0 && got == BIG && sum(buf, BIG) == sum(want, BIG));
	fill(buf, BIG, 2);
	snprintf(name, sizeof(name), "%s-write-after-peer-half-close", tag);
	CHECK(name, write_full(s, buf, BIG) == 0);
	close(s);
	snprintf(name, sizeof(name), "%s-big-download", tag);
	CHECK(name, child_status(pid) == 0);
	close(l);
	free(buf);
	free(want);
}

/* MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT and FIONREAD on a connection. */
static void recv_flags(void)
{
	int l = listener(AF_INET, 4);
	uint16_t port = local_port(l);
	pid_t pid = xfork();
	if (pid == 0) {
		int c = connect_to(AF_INET, port);
		write(c, "abc", 3);
		sleep_ms(50);
		write(c, "defgh", 5);
		sleep_ms(50);
		_exit(0);
	}
	int s = accept(l, NULL, NULL);
	char buf[16] = {0};
	int avail = -1;
	CHECK("peek", recv(s, buf, sizeof(buf), MSG_PEEK) == 3 && memcmp(buf, "abc", 3) == 0);
	CHECK("fionread", ioctl(s, FIONREAD, &avail) == 0 && avail == 3);
	CHECK("waitall", recv(s, buf, 8, MSG_WAITALL) == 8 && memcmp(buf, "abcdefgh", 8) == 0);
	CHECK_ERR("dontwait", recv(s, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	CHECK("eof-after-exit", child_status(pid) == 0 && recv(s, buf, sizeof(buf), 0) == 0);
	close(s);
	close(l);
}

static void nonblocking(void)
{
	int l = listener(AF_INET, 4);
	uint16_t port = local_port(l);
	fcntl(l, F_SETFL, O_NONBLOCK);
	CHECK_ERR("accept-nonblock-empty", accept(l, NULL, NULL), EAGAIN);
	struct pollfd p = {l, POLLIN, 0};
	CHECK("listener-not-readable", poll(&p, 1, 0) == 0);

	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET, port, &ss);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	errno = 0;
	int r = connect(c, (struct sockaddr *)&ss, len);
	CHECK("connect-nonblock", r == 0 || errno == EINPROGRESS);
	p = (struct pollfd){c, POLLOUT, 0};
	CHECK("connect-writable", poll(&p, 1, 5000) == 1 && p.revents == POLLOUT);
	CHECK("connect-so-error", getint(c, SOL_SOCKET, SO_ERROR) == 0);
	CHECK_ERR("connect-again-isconn",
		  (connect(c, (struct sockaddr *)&ss, len) == 0 ? connect(c, (struct sockaddr *)&ss, len) : -1),
		  EISCONN);
	p = (struct pollfd){l, POLLIN, 0};
	CHECK("listener-readable", poll(&p, 1, 5000) == 1 && p.revents == POLLIN);
	int s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	CHECK("accept-nonblock", s >= 0 && (fcntl(s, F_GETFL) & O_NONBLOCK));
	char buf[4];
	CHECK_ERR("read-nonblock-empty", read(s, buf, sizeof(buf)), EAGAIN);

	/* Refused: the error comes through poll and SO_ERROR. */
	int u = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_storage free_addr;
	socklen_t flen = loopback(AF_INET, 0, &free_addr);
	bind(u, (struct sockaddr *)&free_addr, flen);
	uint16_t unused = local_port(u);
	int d = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	flen = loopback(AF_INET, unused, &free_addr);
	errno = 0;
	r = connect(d, (struct sockaddr *)&free_addr, flen);
	CHECK("refused-nonblock", r == -1 && (errno == EINPROGRESS || errno == ECONNREFUSED));
	p = (struct pollfd){d, POLLOUT, 0};
	CHECK("refused-poll", poll(&p, 1, 5000) == 1 && (p.revents & (POLLERR | POLLHUP)));
	CHECK("refused-so-error",
	      errno == ECONNREFUSED || getint(d, SOL_SOCKET, SO_ERROR) == ECONNREFUSED);
	close(d);
	close(u);
	close(c);
	close(s);
	close(l);
}

static void epoll_readiness(void)
{
	int l = listener(AF_INET, 4);
	int c = connect_to(AF_INET, local_port(l));
	int s = accept(l, NULL, NULL);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.fd = s};
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	struct epoll_event got;
	CHECK("epoll-out", epoll_wait(ep, &got, 1, 1000) == 1 && got.events == EPOLLOUT);
	write(c, "x", 1);
	CHECK("epoll-in", epoll_wait(ep, &got, 1, 1000) == 1 && got.events == (EPOLLIN | EPOLLOUT));
	shutdown(c, SHUT_WR);
	CHECK("epoll-rdhup", epoll_wait(ep, &got, 1, 1000) == 1 &&
				     got.events == (EPOLLIN | EPOLLOUT | EPOLLRDHUP));
	char buf[4];
	CHECK("read-then-eof", read(s, buf, 4) == 1 && read(s, buf, 4) == 0);
	struct linger lin = {1, 0};
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
	close(c);
	sleep_ms(50);
	CHECK("epoll-reset", epoll_wait(ep, &got, 1, 1000) == 1 &&
				     (got.events & (EPOLLHUP | EPOLLERR)) == (EPOLLHUP | EPOLLERR));
	/*
	 * The FIN came first: a reset in CLOSE_WAIT leaves EPIPE pending, not
	 * ECONNRESET, and reads still see the end of file before it.
	 */
	CHECK("reset-after-fin-read-eof", read(s, buf, 4) == 0);
	int err = 0;
	socklen_t len = sizeof(err);
	CHECK("reset-after-fin-so-error-epipe",
	      getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == EPIPE);
	close(ep);
	close(s);
	close(l);
}

/* Closing ends: end of file, a write that goes out, then EPIPE; resets. */
static void closing(void)
{
	int l = listener(AF_INET, 4);
	int c = connect_to(AF_INET, local_port(l));
	int s = accept(l, NULL, NULL);
	close(s);
	char buf[4];
	struct pollfd p = {c, POLLIN | POLLOUT | POLLRDHUP, 0};
	CHECK("peer-closed-poll", poll(&p, 1, 1000) >= 1 && p.revents == (POLLIN | POLLOUT | POLLRDHUP));
	CHECK("peer-closed-eof", read(c, buf, 4) == 0);
	CHECK("peer-closed-getpeername", getpeername(c, (struct sockaddr *)&(struct sockaddr_storage){0},
						     &(socklen_t){sizeof(struct sockaddr_storage)}) == 0);
	sigpipes = 0;
	CHECK("write-to-closed-goes-out", write(c, "x", 1) == 1 && sigpipes == 0);
	sleep_ms(50);
	CHECK_ERR("write-after-reset-epipe", write(c, "x", 1), EPIPE);
	CHECK("sigpipe", sigpipes == 1);
	CHECK_ERR("nosignal-epipe", send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
	CHECK("no-more-sigpipe", sigpipes == 1);
	close(c);

	/* Unread data at close resets the peer. */
	c = connect_to(AF_INET, local_port(l));
	s = accept(l, NULL, NULL);
	write(c, "unread", 6);
	sleep_ms(20);
	close(s);
	sleep_ms(50);
	CHECK_ERR("unread-at-close-resets", read(c, buf, 4), ECONNRESET);
	CHECK("after-reset-eof", read(c, buf, 4) == 0);
	close(c);
	close(l);
}

/* Whether lo is the only interface with an address (as in a sandbox without a
 * network); other hosts route elsewhere. */
static int only_lo(void)
{
	struct ifaddrs *ifa;
	if (getifaddrs(&ifa) != 0)
		return 0;
	int only = 1;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family != AF_PACKET && strcmp(i->ifa_name, "lo") != 0)
			only = 0;
	freeifaddrs(ifa);
	return only;
}

/*
 * Makes lo the only interface, as in the sandbox: on a host with others, a network
 * namespace of our own with lo up. Without the privilege for that, the run fails.
 */
static void loopback_only(void)
{
	if (only_lo())
		return;
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "lo");
	int s = -1;
	if (unshare(CLONE_NEWNET) != 0 || (s = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
		perror("net_tcp: a network namespace with only lo");
		exit(2);
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
		perror("net_tcp: bringing lo up");
		exit(2);
	}
	close(s);
}

static void errors(void)
{
	int l = listener(AF_INET, 4);
	uint16_t port = local_port(l);
	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET, port, &ss);
	int b = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_ERR("bind-in-use", bind(b, (struct sockaddr *)&ss, len), EADDRINUSE);
	int one = 1;
	setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CHECK_ERR("bind-in-use-listening", bind(b, (struct sockaddr *)&ss, len), EADDRINUSE);
	close(b);

	/* Two SO_REUSEADDR sockets share a port until one listens. */
	int x = socket(AF_INET, SOCK_STREAM, 0), y = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(x, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(y, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CHECK("reuseaddr-get", getint(x, SOL_SOCKET, SO_REUSEADDR) == 1);
	struct sockaddr_storage any;
	socklen_t alen = loopback(AF_INET, 0, &any);
	bind(x, (struct sockaddr *)&any, alen);
	alen = loopback(AF_INET, local_port(x), &any);
	CHECK("reuseaddr-shared", bind(y, (struct sockaddr *)&any, alen) == 0);
	CHECK("reuseaddr-listen", listen(x, 1) == 0);
	CHECK_ERR("reuseaddr-second-listen", listen(y, 1), EADDRINUSE);
	close(x);
	close(y);

	/* A port nobody listens on. */
	int u = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_storage free_addr;
	socklen_t flen = loopback(AF_INET, 0, &free_addr);
	bind(u, (struct sockaddr *)&free_addr, flen);
	flen = loopback(AF_INET, local_port(u), &free_addr);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_ERR("refused", connect(c, (struct sockaddr *)&free_addr, flen), ECONNREFUSED);
	close(c);
	close(u);

	struct sockaddr_in far = {.sin_family = AF_INET, .sin_port = htons(80)};
	inet_pton(AF_INET, "198.51.100.1", &far.sin_addr);
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_ERR("bind-not-local", bind(c, (struct sockaddr *)&far, sizeof(far)), EADDRNOTAVAIL);
	CHECK_ERR("unreachable", connect(c, (struct sockaddr *)&far, sizeof(far)), ENETUNREACH);
	close(c);

	c = socket(AF_INET, SOCK_STREAM, 0);
	char buf[4];
	sigpipes = 0;
	CHECK_ERR("send-unconnected", send(c, "x", 1, 0), EPIPE);
	CHECK("send-unconnected-sigpipe", sigpipes == 1);
	CHECK_ERR("recv-unconnected", recv(c, buf, 4, MSG_DONTWAIT), ENOTCONN);
	CHECK_ERR("getpeername-unconnected",
		  getpeername(c, (struct sockaddr *)&ss, &(socklen_t){sizeof(ss)}), ENOTCONN);
	CHECK_ERR("shutdown-unconnected", shutdown(c, SHUT_WR), ENOTCONN);
	CHECK_ERR("accept-not-listening", accept(c, NULL, NULL), EINVAL);
	int unbound_port_before = local_port(c);
	CHECK("listen-unbound-autobinds", unbound_port_before == 0 && listen(c, 1) == 0 &&
						  local_port(c) >= 32768);
	close(c);
	c = connect_to(AF_INET, port);
	int s = accept(l, NULL, NULL);
	CHECK_ERR("connect-twice", connect(c, (struct sockaddr *)&ss, len), EISCONN);
	CHECK_ERR("listen-connected", listen(c, 1), EINVAL);
	CHECK_ERR("shutdown-bad-how", shutdown(c, 7), EINVAL);
	close(c);
	close(s);

	int d = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK_ERR("listen-udp", listen(d, 1), EOPNOTSUPP);
	close(d);
	CHECK_ERR("seqpacket", socket(AF_INET, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT);
	CHECK_ERR("stream-udp-proto", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
	CHECK_ERR("raw-proto-0", socket(AF_INET, SOCK_RAW, 0), EPROTONOSUPPORT);
	int sv[2];
	CHECK_ERR("socketpair-inet", socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP);
	close(l);
}

static void options(void)
{
	int l = listener(AF_INET, 4);
	int c = connect_to(AF_INET, local_port(l));
	int s = accept(l, NULL, NULL);
	int one = 1;
	CHECK("nodelay-default", getint(c, IPPROTO_TCP, TCP_NODELAY) == 0);
	CHECK("nodelay-set", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 &&
				     getint(c, IPPROTO_TCP, TCP_NODELAY) == 1);
	CHECK("keepalive-set", setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) == 0 &&
				       getint(c, SOL_SOCKET, SO_KEEPALIVE) == 1);
	int size = 65536;
	CHECK("rcvbuf-set", setsockopt(c, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) == 0 &&
				    getint(c, SOL_SOCKET, SO_RCVBUF) >= size);
	struct tcp_info info;
	socklen_t len = sizeof(info);
	CHECK("tcp-info-established", getsockopt(c, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
					      info.tcpi_state == TCP_ESTABLISHED);
	len = sizeof(info);
	CHECK("tcp-info-listen", getsockopt(l, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
					 info.tcpi_state == TCP_LISTEN);
	CHECK("ip-ttl", getint(c, IPPROTO_IP, IP_TTL) == 64);
	int tos = 0x10;
	CHECK("ip-tos", setsockopt(c, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) == 0 &&
				getint(c, IPPROTO_IP, IP_TOS) == 0x10);
	CHECK("tcp-opt-on-udp", getint(socket(AF_INET, SOCK_DGRAM, 0), IPPROTO_TCP, TCP_NODELAY) ==
					-1000 - EOPNOTSUPP);
	CHECK("unknown-opt", getint(c, SOL_SOCKET, 9999) == -1000 - ENOPROTOOPT);
	close(c);
	close(s);
	close(l);
}

int main(void)
{
	loopback_only();
	signal(SIGPIPE, on_sigpipe);
	names(AF_INET, "v4");
	names(AF_INET6, "v6");
	dual_stack();
	transfer(AF_INET, "v4");
	transfer(AF_INET6, "v6");
	recv_flags();
	nonblocking();
	epoll_readiness();
	closing();
	errors();
	options();
	return summary();
}

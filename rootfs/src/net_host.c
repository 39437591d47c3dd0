/*
 * net_host: self-checking guest for sockets on the host's network, run
 * natively and under `sentry run --network=host` (where its inet sockets are
 * host sockets the sentry operates for it).
 *
 * - TCP on 127.0.0.1: a forked client (the listener inherited) sends 1 MiB
 *   and half-closes; accept4 with SOCK_CLOEXEC, getsockname/getpeername,
 *   MSG_WAITALL, MSG_PEEK, FIONREAD, end of file, nonblocking connect with
 *   poll and SO_ERROR, EAGAIN, SO_RCVTIMEO, ECONNREFUSED, EPIPE with SIGPIPE.
 * - Signals: a blocking accept and a blocking recv interrupted by SIGALRM
 *   fail with EINTR without SA_RESTART; with SA_RESTART the accept goes on and
 *   takes a later connection, unless SO_RCVTIMEO bounds the wait (EINTR).
 * - epoll readiness (EPOLLIN on a listener, EPOLLOUT, EPOLLRDHUP), passing a
 *   connected socket over SCM_RIGHTS, /proc/self/fd naming it socket:[N].
 * - UDP: sendto/recvfrom with the sender's address, MSG_TRUNC, IP_PKTINFO,
 *   a connected UDP socket; IPv6 on ::1 with IPV6_V6ONLY.
 * - Options: SO_TYPE/SO_DOMAIN/SO_PROTOCOL/SO_ACCEPTCONN, SO_REUSEADDR,
 *   SO_KEEPALIVE, SO_RCVBUF, TCP_NODELAY, ENOPROTOOPT.
 * - Interfaces: if_nameindex, getifaddrs, SIOCGIFCONF, SIOCGIFFLAGS and
 *   SIOCGIFINDEX agree with each other (the names are the host's).
 *
 * Prints one line per check and a summary; never a port number. Exit status
 * 0 only if all passed.
 */
#define _GNU_SOURCE
#include "check.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#define BIG (1 << 20)

static volatile sig_atomic_t alarms, sigpipes;

static void on_alarm(int sig) { (void)sig; alarms++; }
static void on_sigpipe(int sig) { (void)sig; sigpipes++; }

static struct sockaddr_in local4(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* A TCP listener on 127.0.0.1 at an ephemeral port; its address in *a. */
static int listener(struct sockaddr_in *a)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	*a = local4(0);
	socklen_t len = sizeof *a;
	if (bind(s, (struct sockaddr *)a, sizeof *a) || listen(s, 16) ||
	    getsockname(s, (struct sockaddr *)a, &len)) {
		perror("listener");
		exit(2);
	}
	return s;
}

static int connect_to(const struct sockaddr_in *a)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (const struct sockaddr *)a, sizeof *a)) {
		perror("connect");
		exit(2);
	}
	return c;
}

/* A connected pair through listener l at address a. */
static void pair(int l, const struct sockaddr_in *a, int *client, int *server)
{
	*client = connect_to(a);
	*server = accept(l, NULL, NULL);
}

static int intopt(int s, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof v;
	if (getsockopt(s, level, name, &v, &len))
		return -100 - errno;
	return v;
}

static void set_alarm(int ms, int restart)
{
	struct sigaction sa = {.sa_handler = on_alarm,
			       .sa_flags = restart ? SA_RESTART : 0};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {.it_value = {0, ms * 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static void tcp_transfer(void)
{
	struct sockaddr_in a;
	int l = listener(&a);
	CHECK("listener address", a.sin_family == AF_INET && a.sin_port != 0 &&
					  a.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	CHECK("SO_ACCEPTCONN", intopt(l, SOL_SOCKET, SO_ACCEPTCONN) == 1);
	CHECK("SO_REUSEADDR", intopt(l, SOL_SOCKET, SO_REUSEADDR) == 1);
	pid_t pid = xfork();
	if (pid == 0) {
		close(l);
		int c = connect_to(&a);
		char *buf = malloc(BIG);
		for (int i = 0; i < BIG; i++)
			buf[i] = (char)(i * 7);
		ssize_t n = send(c, buf, BIG, 0);
		shutdown(c, SHUT_WR);
		char reply[8] = {0};
		ssize_t r = recv(c, reply, 4, MSG_WAITALL);
		_exit(n == BIG && r == 4 && memcmp(reply, "done", 4) == 0 ? 0 : 1);
	}
	struct sockaddr_in peer;
	socklen_t len = sizeof peer;
	int s = accept4(l, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	CHECK("accept4", s >= 0);
	CHECK("accept4 SOCK_CLOEXEC", fcntl(s, F_GETFD) == FD_CLOEXEC);
	CHECK("accepted peer", len == sizeof peer && peer.sin_family == AF_INET &&
				       peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	struct sockaddr_in gp;
	len = sizeof gp;
	CHECK("getpeername", getpeername(s, (struct sockaddr *)&gp, &len) == 0 &&
				     gp.sin_port == peer.sin_port);
	char *buf = malloc(BIG);
	size_t got = 0;
	int ok = 1;
	while (got < BIG) {
		ssize_t n = recv(s, buf + got, 65536 < BIG - got ? 65536 : BIG - got,
				 MSG_WAITALL);
		if (n <= 0) {
			ok = 0;
			break;
		}
		got += n;
	}
	for (int i = 0; ok && i < BIG; i++)
		ok = buf[i] == (char)(i * 7);
	CHECK("1 MiB received intact", ok && got == BIG);
	CHECK("end of file after shutdown", recv(s, buf, 16, 0) == 0);
	CHECK("reply", send(s, "done", 4, 0) == 4);
	CHECK("client ok", child_status(pid) == 0);
	free(buf);
	close(s);
	close(l);
}

static void tcp_details(void)
{
	struct sockaddr_in a;
	int l = listener(&a), c, s;
	pair(l, &a, &c, &s);
	char buf[64];
	CHECK_ERR("recv MSG_DONTWAIT on empty", recv(s, buf, 8, MSG_DONTWAIT), EAGAIN);
	send(c, "hello", 5, 0);
	struct pollfd p = {.fd = s, .events = POLLIN};
	CHECK("poll POLLIN", poll(&p, 1, 5000) == 1 && p.revents == POLLIN);
	int avail = -1;
	CHECK("FIONREAD", ioctl(s, FIONREAD, &avail) == 0 && avail == 5);
	CHECK("MSG_PEEK", recv(s, buf, 8, MSG_PEEK) == 5 && memcmp(buf, "hello", 5) == 0);
	CHECK("read after peek", read(s, buf, 8) == 5);
	struct timeval tv = {0, 200000};
	CHECK("SO_RCVTIMEO set", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	struct timeval back;
	socklen_t len = sizeof back;
	CHECK("SO_RCVTIMEO get", getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &back, &len) == 0 &&
					 back.tv_sec == 0 && back.tv_usec == 200000);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_ERR("recv times out", recv(s, buf, 8, 0), EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK("after the timeout", ms >= 150 && ms < 3000);

	int one = 1;
	CHECK("TCP_NODELAY", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 &&
				     intopt(c, IPPROTO_TCP, TCP_NODELAY) == 1);
	CHECK("SO_KEEPALIVE", setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) == 0 &&
				      intopt(c, SOL_SOCKET, SO_KEEPALIVE) == 1);
	int size = 65536;
	CHECK("SO_RCVBUF doubled", setsockopt(c, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == 0 &&
					   intopt(c, SOL_SOCKET, SO_RCVBUF) == 2 * size);
	CHECK("SO_TYPE", intopt(c, SOL_SOCKET, SO_TYPE) == SOCK_STREAM);
	CHECK("SO_DOMAIN", intopt(c, SOL_SOCKET, SO_DOMAIN) == AF_INET);
	CHECK("SO_PROTOCOL", intopt(c, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP);
	CHECK("unknown option", intopt(c, IPPROTO_TCP, 9999) == -100 - ENOPROTOOPT);

	/* Passing the connected socket over SCM_RIGHTS and using the copy. */
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = "x", .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			   .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &c, sizeof c);
	CHECK("sendmsg SCM_RIGHTS", sendmsg(sv[0], &m, 0) == 1);
	close(c);
	char x;
	iov.iov_base = &x;
	memset(cbuf, 0, sizeof cbuf);
	CHECK("recvmsg SCM_RIGHTS", recvmsg(sv[1], &m, 0) == 1);
	int passed;
	memcpy(&passed, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof passed);
	CHECK("passed socket sends", send(passed, "via", 3, 0) == 3 &&
					     recv(s, buf, 8, 0) == 3 && memcmp(buf, "via", 3) == 0);
	char path[64], link[64] = {0};
	snprintf(path, sizeof path, "/proc/self/fd/%d", passed);
	CHECK("/proc/self/fd socket:[N]", readlink(path, link, sizeof link - 1) > 0 &&
						  strncmp(link, "socket:[", 8) == 0);
	struct stat st;
	CHECK("fstat S_IFSOCK", fstat(passed, &st) == 0 && S_ISSOCK(st.st_mode));
	close(sv[0]);
	close(sv[1]);

	/* epoll: the listener with a pending connection, a writable socket, a
	 * peer's half-close. */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	ev = (struct epoll_event){.events = EPOLLOUT | EPOLLRDHUP | EPOLLIN, .data.fd = s};
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	struct epoll_event out[4];
	int n = epoll_wait(ep, out, 4, 5000);
	CHECK("epoll: connected socket writable", n == 1 && out[0].data.fd == s &&
							  out[0].events == EPOLLOUT);
	int c2 = connect_to(&a);
	n = epoll_wait(ep, out, 4, 5000);
	int listener_ready = 0;
	for (int i = 0; i < n; i++)
		listener_ready |= out[i].data.fd == l && out[i].events == EPOLLIN;
	CHECK("epoll: listener readable", listener_ready);
	int s2 = accept(l, NULL, NULL);
	shutdown(passed, SHUT_WR);
	sleep_ms(50);
	n = epoll_wait(ep, out, 4, 5000);
	CHECK("epoll: EPOLLRDHUP", n == 1 && out[0].data.fd == s &&
					   (out[0].events & (EPOLLRDHUP | EPOLLIN)) ==
						   (EPOLLRDHUP | EPOLLIN));
	close(ep);

	/* EPIPE and SIGPIPE once the peer is gone. */
	signal(SIGPIPE, on_sigpipe);
	close(s2);
	sleep_ms(50);
	ssize_t w = 0;
	for (int i = 0; i < 100 && w >= 0; i++) {
		w = write(c2, "data", 4);
		if (w >= 0)
			sleep_ms(10);
	}
	CHECK("EPIPE after the peer closed", w == -1 && errno == EPIPE);
	CHECK("SIGPIPE raised", sigpipes > 0);
	CHECK_ERR("MSG_NOSIGNAL", send(c2, "x", 1, MSG_NOSIGNAL), EPIPE);
	close(c2);
	close(passed);
	close(s);

	/* Nonblocking connect, then a refused one. */
	int nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int r = connect(nb, (struct sockaddr *)&a, sizeof a);
	CHECK("nonblocking connect", r == 0 || errno == EINPROGRESS);
	p = (struct pollfd){.fd = nb, .events = POLLOUT};
	CHECK("poll POLLOUT", poll(&p, 1, 5000) == 1 && p.revents == POLLOUT);
	CHECK("SO_ERROR 0", intopt(nb, SOL_SOCKET, SO_ERROR) == 0);
	close(nb);
	close(accept(l, NULL, NULL));
	close(l);
	int refused = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_ERR("ECONNREFUSED", connect(refused, (struct sockaddr *)&a, sizeof a), ECONNREFUSED);
	close(refused);
}

static void interrupted(void)
{
	struct sockaddr_in a;
	int l = listener(&a);
	char buf[8];
	set_alarm(100, 0);
	CHECK_ERR("accept interrupted", accept(l, NULL, NULL), EINTR);
	CHECK("one alarm", alarms == 1);
	int c, s;
	pair(l, &a, &c, &s);
	set_alarm(100, 0);
	CHECK_ERR("recv interrupted", recv(s, buf, sizeof buf, 0), EINTR);
	close(c);
	close(s);
	pid_t pid = xfork();
	if (pid == 0) {
		sleep_ms(400);
		close(connect_to(&a));
		_exit(0);
	}
	set_alarm(100, 1);
	int r = accept(l, NULL, NULL);
	CHECK("accept restarted under SA_RESTART", r >= 0 && alarms == 3);
	CHECK("connecting child", child_status(pid) == 0);
	close(r);

	/* With a socket timeout, an interrupted wait is never restarted. */
	struct timeval tv = {5, 0};
	setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	set_alarm(100, 1);
	CHECK_ERR("accept with SO_RCVTIMEO under SA_RESTART", accept(l, NULL, NULL), EINTR);
	pair(l, &a, &c, &s);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	set_alarm(100, 1);
	CHECK_ERR("recv with SO_RCVTIMEO under SA_RESTART", recv(s, buf, sizeof buf, 0), EINTR);
	CHECK("five alarms", alarms == 5);
	close(c);
	close(s);
	close(l);
}

static void udp(void)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0), v = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ua = local4(0), va = local4(0);
	socklen_t len = sizeof ua;
	bind(u, (struct sockaddr *)&ua, sizeof ua);
	getsockname(u, (struct sockaddr *)&ua, &len);
	bind(v, (struct sockaddr *)&va, sizeof va);
	getsockname(v, (struct sockaddr *)&va, &len);
	CHECK("sendto", sendto(v, "ping", 4, 0, (struct sockaddr *)&ua, sizeof ua) == 4);
	char buf[128];
	struct sockaddr_in from;
	len = sizeof from;
	CHECK("recvfrom", recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&from, &len) == 4 &&
				  len == sizeof from && from.sin_port == va.sin_port);
	int one = 1;
	setsockopt(u, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
	memset(buf, 'z', 100);
	sendto(v, buf, 100, 0, (struct sockaddr *)&ua, sizeof ua);
	char cbuf[256];
	struct iovec iov = {.iov_base = buf, .iov_len = 10};
	struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
			   .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	CHECK("recvmsg MSG_TRUNC", recvmsg(u, &m, MSG_TRUNC) == 100 && (m.msg_flags & MSG_TRUNC));
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	int pktinfo = 0;
	if (cm && cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
		struct in_pktinfo pi;
		memcpy(&pi, CMSG_DATA(cm), sizeof pi);
		pktinfo = pi.ipi_addr.s_addr == htonl(INADDR_LOOPBACK);
	}
	CHECK("IP_PKTINFO", pktinfo);
	CHECK("connect UDP", connect(v, (struct sockaddr *)&ua, sizeof ua) == 0);
	CHECK("send connected", send(v, "conn", 4, 0) == 4 && recv(u, buf, 8, 0) == 4);
	CHECK_ERR("UDP nothing to read", recv(u, buf, 8, MSG_DONTWAIT), EAGAIN);
	close(u);
	close(v);

	int six = socket(AF_INET6, SOCK_DGRAM, 0);
	CHECK("IPV6_V6ONLY", setsockopt(six, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == 0 &&
				     intopt(six, IPPROTO_IPV6, IPV6_V6ONLY) == 1);
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	len = sizeof sa;
	CHECK("bind ::1", bind(six, (struct sockaddr *)&sa, sizeof sa) == 0 &&
				  getsockname(six, (struct sockaddr *)&sa, &len) == 0 &&
				  len == sizeof sa && sa.sin6_port != 0);
	CHECK("send to self over ::1", sendto(six, "six", 3, 0, (struct sockaddr *)&sa, sizeof sa) == 3 &&
					      recv(six, buf, 8, 0) == 3);
	close(six);
}

static void interfaces(void)
{
	struct if_nameindex *ni = if_nameindex();
	int count = 0, lo = 0;
	for (struct if_nameindex *i = ni; i && i->if_index; i++) {
		printf("interface %s\n", i->if_name);
		count++;
		lo |= strcmp(i->if_name, "lo") == 0;
	}
	CHECK("if_nameindex has lo", ni && lo);
	if_freenameindex(ni);
	struct ifaddrs *ifa;
	int links = 0;
	CHECK("getifaddrs", getifaddrs(&ifa) == 0);
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next)
		links += i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET;
	CHECK("getifaddrs sees every interface", links == count);
	int v4 = 0;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next)
		v4 += i->ifa_addr && i->ifa_addr->sa_family == AF_INET;
	freeifaddrs(ifa);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq reqs[32];
	struct ifconf conf = {.ifc_len = sizeof reqs, .ifc_req = reqs};
	CHECK("SIOCGIFCONF", ioctl(s, SIOCGIFCONF, &conf) == 0 &&
				     conf.ifc_len == v4 * (int)sizeof(struct ifreq));
	struct ifreq r = {0};
	strcpy(r.ifr_name, "lo");
	CHECK("SIOCGIFFLAGS lo", ioctl(s, SIOCGIFFLAGS, &r) == 0 && (r.ifr_flags & IFF_LOOPBACK));
	CHECK("SIOCGIFINDEX lo", ioctl(s, SIOCGIFINDEX, &r) == 0 &&
					 r.ifr_ifindex == (int)if_nametoindex("lo"));
	close(s);
	/* The same queries on a unix socket, which only some of them accept. */
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	conf.ifc_len = sizeof reqs;
	CHECK("SIOCGIFCONF on AF_UNIX", ioctl(s, SIOCGIFCONF, &conf) == 0 &&
						conf.ifc_len == v4 * (int)sizeof(struct ifreq));
	CHECK("SIOCGIFINDEX lo on AF_UNIX", ioctl(s, SIOCGIFINDEX, &r) == 0 &&
						    r.ifr_ifindex == (int)if_nametoindex("lo"));
	errno = 0;
	int addr = ioctl(s, SIOCGIFADDR, &r);
	printf("SIOCGIFADDR on AF_UNIX: %d %s\n", addr, errname(errno));
	close(s);
}

int main(void)
{
	tcp_transfer();
	tcp_details();
	interrupted();
	udp();
	interfaces();
	return summary_of("net_host");
}

/*
 * sys_mmsg: sendmmsg and recvmmsg over AF_UNIX datagram and seqpacket
 * sockets: message lengths, MSG_WAITFORONE, the timeout (checked after each
 * message, and written back), partial success, fd passing, a pending socket
 * error, and the error cases.  Prints results and errno names only.
 */
#include "sys_report.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define N 4

static char bufs[N][64];
static struct iovec iovs[N];
static struct mmsghdr msgs[N];

/* Prepares N receive headers of 64 bytes each. */
static void prepare_recv(void)
{
	memset(bufs, 0, sizeof bufs);
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < N; i++) {
		iovs[i].iov_base = bufs[i];
		iovs[i].iov_len = sizeof bufs[i];
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_len = 777;
	}
}

/* Prepares one send header per string. */
static void prepare_send(const char **texts, int n)
{
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < n; i++) {
		iovs[i].iov_base = (void *)texts[i];
		iovs[i].iov_len = strlen(texts[i]);
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_len = 777;
	}
}

static void show_received(int n)
{
	for (int i = 0; i < n; i++)
		printf("  message %d: len %u flags %#x \"%s\"\n", i, msgs[i].msg_len,
		       msgs[i].msg_hdr.msg_flags, bufs[i]);
}

static long drain(int fd)
{
	prepare_recv();
	return syscall(SYS_recvmmsg, fd, msgs, N, MSG_DONTWAIT, NULL);
}

static void test_basics(int type, const char *name)
{
	int sv[2];
	printf("-- %s\n", name);
	socketpair(AF_UNIX, type, 0, sv);
	const char *three[] = { "one", "two two", "three three three" };
	prepare_send(three, 3);
	R("sendmmsg of 3", sendmmsg(sv[0], msgs, 3, 0));
	printf("  lengths %u %u %u\n", msgs[0].msg_len, msgs[1].msg_len, msgs[2].msg_len);
	prepare_recv();
	iovs[1].iov_len = 4;
	R("recvmmsg, the second buffer short, MSG_DONTWAIT", recvmmsg(sv[1], msgs, N, MSG_DONTWAIT, NULL));
	show_received(3);
	fact("  the fourth header untouched", msgs[3].msg_len == 777);
	R("recvmmsg with nothing queued, MSG_DONTWAIT", drain(sv[1]));

	prepare_send(three, 2);
	sendmmsg(sv[0], msgs, 2, 0);
	prepare_recv();
	R("recvmmsg MSG_WAITFORONE with 2 queued", recvmmsg(sv[1], msgs, N, MSG_WAITFORONE, NULL));
	show_received(2);

	prepare_send(three, 3);
	sendmmsg(sv[0], msgs, 3, 0);
	struct timespec zero = { 0, 0 };
	prepare_recv();
	R("recvmmsg with a zero timeout and 3 queued", recvmmsg(sv[1], msgs, N, 0, &zero));
	printf("  timeout left %ld.%09ld\n", (long)zero.tv_sec, zero.tv_nsec);
	struct timespec five = { 5, 0 };
	prepare_recv();
	R("recvmmsg with a 5 s timeout, MSG_DONTWAIT, 2 queued", recvmmsg(sv[1], msgs, N, MSG_DONTWAIT, &five));
	fact("  timeout left below 5 s and above 4 s", five.tv_sec == 4 && five.tv_nsec > 0);
	five = (struct timespec){ 5, 0 };
	R("recvmmsg with a timeout and nothing queued, MSG_DONTWAIT", recvmmsg(sv[1], msgs, N, MSG_DONTWAIT, &five));
	fact("  timeout untouched", five.tv_sec == 5 && five.tv_nsec == 0);
	struct timespec bad = { 0, 2000000000 };
	R("recvmmsg with an invalid timeout", recvmmsg(sv[1], msgs, N, 0, &bad));
	bad = (struct timespec){ -1, 0 };
	R("recvmmsg with a negative timeout", recvmmsg(sv[1], msgs, N, 0, &bad));
	R("recvmmsg with a bad timeout pointer", syscall(SYS_recvmmsg, sv[1], msgs, N, 0, (void *)8));
	R("recvmmsg of vlen 0", recvmmsg(sv[1], msgs, 0, MSG_DONTWAIT, NULL));
	R("sendmmsg of vlen 0", sendmmsg(sv[0], msgs, 0, 0));

	static char big[2 << 20];
	const char *two[] = { "fits", "x" };
	prepare_send(two, 2);
	iovs[1].iov_base = big;
	iovs[1].iov_len = sizeof big;
	R("sendmmsg whose second message is too big", sendmmsg(sv[0], msgs, 2, 0));
	printf("  lengths %u %u\n", msgs[0].msg_len, msgs[1].msg_len);
	R("sendmmsg whose first message is too big", sendmmsg(sv[0], msgs + 1, 1, 0));
	prepare_send(two, 2);
	msgs[1].msg_hdr.msg_iov = (void *)8;
	R("sendmmsg whose second message has a bad iovec", sendmmsg(sv[0], msgs, 2, 0));
	R("sendmmsg with a bad vector", syscall(SYS_sendmmsg, sv[0], (void *)8, 2, 0));
	R("recvmmsg into a bad vector", syscall(SYS_recvmmsg, sv[1], (void *)8, 2, MSG_DONTWAIT, NULL));
	prepare_recv();
	R("drain", drain(sv[1]));
	show_received(2);

	int fd = open("/dev/null", O_WRONLY);
	const char *one[] = { "with an fd" };
	prepare_send(one, 1);
	char ctl[CMSG_SPACE(sizeof(int))];
	memset(ctl, 0, sizeof ctl);
	msgs[0].msg_hdr.msg_control = ctl;
	msgs[0].msg_hdr.msg_controllen = sizeof ctl;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[0].msg_hdr);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	R("sendmmsg with SCM_RIGHTS", sendmmsg(sv[0], msgs, 1, 0));
	prepare_recv();
	char rctl[CMSG_SPACE(sizeof(int))];
	msgs[0].msg_hdr.msg_control = rctl;
	msgs[0].msg_hdr.msg_controllen = sizeof rctl;
	R("recvmmsg with MSG_CMSG_CLOEXEC", recvmmsg(sv[1], msgs, N, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL));
	c = CMSG_FIRSTHDR(&msgs[0].msg_hdr);
	int got = -1;
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&got, CMSG_DATA(c), sizeof got);
	struct stat a, b;
	fstat(fd, &a);
	fstat(got, &b);
	fact("  received the same file", got >= 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	fact("  close-on-exec set", got >= 0 && (fcntl(got, F_GETFD) & FD_CLOEXEC));
	printf("  msg_flags %#x controllen %zu\n", msgs[0].msg_hdr.msg_flags, (size_t)msgs[0].msg_hdr.msg_controllen);
	close(got);
	close(fd);
	close(sv[0]);
	R("sendmmsg to a closed peer", (prepare_send(one, 1), sendmmsg(sv[1], msgs, 1, MSG_NOSIGNAL)));
	R("recvmmsg from a closed peer", drain(sv[1]));
	close(sv[1]);
}

int main(void)
{
	report_start();
	test_basics(SOCK_DGRAM, "datagram socket pair");
	test_basics(SOCK_SEQPACKET, "seqpacket socket pair");

	printf("-- errors\n");
	prepare_recv();
	R("sendmmsg on a bad fd", sendmmsg(999, msgs, 1, 0));
	R("recvmmsg on a bad fd", recvmmsg(999, msgs, 1, 0, NULL));
	int fd = open("/dev/null", O_RDONLY);
	R("sendmmsg on a file", sendmmsg(fd, msgs, 1, 0));
	R("recvmmsg on a file", recvmmsg(fd, msgs, 1, 0, NULL));
	R("sendmmsg of vlen 0 on a bad fd", sendmmsg(999, msgs, 0, 0));

	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	write(sv[0], "unread", 6);
	close(sv[1]);
	R("recvmmsg after the peer closed with data unread", drain(sv[0]));
	R("recvmmsg again", drain(sv[0]));
	close(sv[0]);
	return 0;
}

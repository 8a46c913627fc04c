/* test_servers - real servers for unit tests (see test_servers.h). */
#include "test_servers.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static struct sockaddr_in
loopback(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	return a;
}

int
test_free_port(enum test_proto proto)
{
	int fd = socket(AF_INET, proto == TEST_UDP ? SOCK_DGRAM : SOCK_STREAM, 0);
	struct sockaddr_in a = loopback(0);
	socklen_t len = sizeof(a);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* serving - TCP: a connection is accepted; UDP: the port is taken */
static int
serving(enum test_proto proto, int port)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, proto == TEST_UDP ? SOCK_DGRAM : SOCK_STREAM, 0), up;
	if (proto == TEST_UDP)
		up = bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno == EADDRINUSE;
	else
		up = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return up;
}

pid_t
test_server_try(char *const argv[], const char *logfile, enum test_proto proto, int port)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		if (serving(proto, port))
			return pid;
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -1;
		usleep(10 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("%s did not serve port %d (see %s)", argv[0], port, logfile);
	return -1;
}

pid_t
test_server_start(char *const argv[], const char *logfile, enum test_proto proto, int port)
{
	pid_t pid = test_server_try(argv, logfile, proto, port);
	if (pid < 0)
		fail_msg("%s exited early (see %s)", argv[0], logfile);
	return pid;
}

void
test_server_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

pid_t
test_sink_start(int port, const char *logfile, const char *extra1, const char *extra2,
                const char *extra3)
{
	const char *sink = getenv("KIRIM_SMTP_SINK");
	if (sink == NULL || *sink == '\0')
		sink = "/usr/sbin/smtp-sink";
	if (access(sink, X_OK) != 0) {
		print_error("smtp-sink not found at %s: install postfix (tools/test does)\n", sink);
		fail();
	}
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	char *argv[12];
	int n = 0;
	argv[n++] = (char *)sink;
	argv[n++] = "-c";
	argv[n++] = "-u";
	argv[n++] = "nobody";
	if (extra1)
		argv[n++] = (char *)extra1;
	if (extra2)
		argv[n++] = (char *)extra2;
	if (extra3)
		argv[n++] = (char *)extra3;
	argv[n++] = addr;
	argv[n++] = "1024";
	argv[n] = NULL;
	return test_server_start(argv, logfile, TEST_TCP, port);
}

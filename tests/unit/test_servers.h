/*
 * test_servers - start and stop real servers (smtp-sink, dnsmasq, the python
 * test servers) for unit tests that talk to them on loopback. Test code only.
 * Failures end the running cmocka test.
 */
#ifndef KIRIM_TEST_SERVERS_H
#define KIRIM_TEST_SERVERS_H

#include <sys/types.h>

enum test_proto { TEST_TCP, TEST_UDP };

/* test_free_port - a loopback port nobody has bound now */
int test_free_port(enum test_proto proto);
/*
 * test_server_start - run argv[0] with its output in logfile and wait (5 s at
 * most) until it serves port: a TCP connection is accepted, or the UDP port
 * can no longer be bound. Returns its PID.
 */
pid_t test_server_start(char *const argv[], const char *logfile, enum test_proto proto, int port);
/* test_server_try - the same, but -1 (no failure) when the server exits early, e.g. because
 * another process took the free port it was given between the check and the bind */
pid_t test_server_try(char *const argv[], const char *logfile, enum test_proto proto, int port);
/*
 * test_sink_start - Postfix's smtp-sink ($KIRIM_SMTP_SINK, default /usr/sbin/smtp-sink)
 * on 127.0.0.1:port, with up to three more options (NULL: none), its output in logfile;
 * fails the test, saying what to install, when it is missing. Returns its PID.
 */
pid_t test_sink_start(int port, const char *logfile, const char *extra1, const char *extra2,
                      const char *extra3);
/* test_server_stop - SIGTERM and reap */
void test_server_stop(pid_t pid);

#endif

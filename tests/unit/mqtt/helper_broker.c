/* A real mosquitto broker for tests, and a minimal blocking MQTT 3.1.1 publisher. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "helper_broker.h"

static const char *const mosquitto_paths[] = {"/usr/sbin/mosquitto", "/usr/bin/mosquitto"};

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        fail_msg("cannot find a free port");
    close(fd);
    return ntohs(a.sin_port);
}

/* Opens a blocking TCP connection to the broker with 5 s timeouts; -1 on failure. */
static int dial(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void make_dir(broker_t *b)
{
    if (b->dir[0])
        return;
    strcpy(b->dir, "/tmp/iocd-mqtt-test-XXXXXX");
    if (!mkdtemp(b->dir))
        fail_msg("mkdtemp failed");
    chmod(b->dir, 0755); /* mosquitto drops root for its own user and must read its files */
}

void broker_enable_tls(broker_t *b)
{
    char cmd[2048];
    make_dir(b);
    snprintf(cmd, sizeof cmd,
             "cd %s && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca.key -out ca.pem -days 2 -subj '/CN=iocd test CA' && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout server.key -out server.csr -subj '/CN=localhost' && "
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out server.pem -days 2 -extfile san.ext && chmod 644 *.pem *.key",
             b->dir);
    if (system(cmd) != 0)
        fail_msg("openssl could not make the test certificates in %s", b->dir);
    b->tls_port = free_port();
}

void broker_start(broker_t *b)
{
    char conf[300], log[300];
    const char *exe = NULL;
    for (size_t i = 0; i < sizeof mosquitto_paths / sizeof mosquitto_paths[0]; i++)
        if (access(mosquitto_paths[i], X_OK) == 0)
            exe = mosquitto_paths[i];
    if (!exe)
        fail_msg("mosquitto is not installed (scripts/install-deps --test)");
    make_dir(b);
    if (!b->port)
        b->port = free_port();
    snprintf(conf, sizeof conf, "%s/mosquitto.conf", b->dir);
    snprintf(log, sizeof log, "%s/mosquitto.log", b->dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        fail_msg("cannot write %s", conf);
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n", b->port);
    if (b->tls_port)
        fprintf(f, "listener %d 127.0.0.1\ncafile %s/ca.pem\ncertfile %s/server.pem\n"
                "keyfile %s/server.key\n", b->tls_port, b->dir, b->dir, b->dir);
    fclose(f);
    chmod(conf, 0644);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(exe, "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        fail_msg("fork failed");
    b->pid = pid;
    for (int i = 0; i < 500; i++) {
        int fd = dial(b->port);
        if (fd >= 0) {
            close(fd);
            return;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            b->pid = 0;
            fail_msg("mosquitto exited at start; see %s", log);
        }
        usleep(10000);
    }
    fail_msg("mosquitto did not listen on port %d within 5 s; see %s", b->port, log);
}

void broker_stop(broker_t *b, int hard)
{
    if (!b->pid)
        return;
    kill(b->pid, hard ? SIGKILL : SIGTERM);
    waitpid(b->pid, NULL, 0);
    b->pid = 0;
}

void broker_cleanup(broker_t *b)
{
    static const char *const files[] = {"mosquitto.conf", "mosquitto.log", "san.ext", "ca.key",
                                        "ca.pem", "ca.srl", "server.key", "server.csr",
                                        "server.pem"};
    char path[300];
    broker_stop(b, 1);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", b->dir, files[i]);
        unlink(path);
    }
    rmdir(b->dir);
}

/* Appends an MQTT "remaining length" varint; returns the bytes written. */
static size_t put_len(unsigned char *p, size_t len)
{
    size_t n = 0;
    do {
        unsigned char byte = len % 128;
        len /= 128;
        p[n++] = byte | (len ? 0x80 : 0);
    } while (len);
    return n;
}

static int send_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int recv_exact(int fd, unsigned char *p, size_t n)
{
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int broker_publish(const broker_t *b, const char *topic, const void *payload, size_t len)
{
    static unsigned counter;
    unsigned char hdr[64], ack[4];
    char id[32];
    int rc = -1;
    int fd = dial(b->port);
    if (fd < 0)
        return -1;
    size_t idlen = (size_t)snprintf(id, sizeof id, "pub-%d-%u", (int)getpid(), counter++);
    unsigned char connect[64] = {0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c,
                                 0x00, (unsigned char)idlen};
    memcpy(connect + 12, id, idlen);
    size_t h = 0;
    hdr[h++] = 0x10;
    h += put_len(hdr + h, 12 + idlen);
    if (send_all(fd, hdr, h) || send_all(fd, connect, 12 + idlen) || recv_exact(fd, ack, 4) ||
        ack[0] != 0x20 || ack[3] != 0)
        goto out;
    size_t tlen = strlen(topic);
    unsigned char *pkt = malloc(tlen + len + 16);
    if (!pkt)
        goto out;
    size_t n = 0;
    pkt[n++] = 0x32; /* PUBLISH, QoS 1 */
    n += put_len(pkt + n, 2 + tlen + 2 + len);
    pkt[n++] = (unsigned char)(tlen >> 8);
    pkt[n++] = (unsigned char)tlen;
    memcpy(pkt + n, topic, tlen);
    n += tlen;
    pkt[n++] = 0x00;
    pkt[n++] = 0x01; /* packet id 1 */
    memcpy(pkt + n, payload, len);
    n += len;
    static const unsigned char disconnect[2] = {0xe0, 0x00};
    if (send_all(fd, pkt, n) == 0 && recv_exact(fd, ack, 4) == 0 && ack[0] == 0x40 &&
        ack[3] == 0x01 && send_all(fd, disconnect, 2) == 0)
        rc = 0;
    free(pkt);
out:
    close(fd);
    return rc;
}

int broker_publish_str(const broker_t *b, const char *topic, const char *payload)
{
    return broker_publish(b, topic, payload, strlen(payload));
}

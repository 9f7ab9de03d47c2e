/* A real mosquitto broker for tests, and a minimal blocking MQTT 3.1.1 publisher. */
#ifndef HELPER_BROKER_H
#define HELPER_BROKER_H

#include <stddef.h>
#include <sys/types.h>

typedef struct broker {
    pid_t pid;      /* 0 when not running */
    int port;
    int tls_port;   /* when non-zero, also a TLS listener on it (certificates made by openssl) */
    char dir[256];  /* holds mosquitto.conf, mosquitto.log and the test CA and certificates */
} broker_t;

/* Starts `mosquitto -c <dir>/mosquitto.conf` on 127.0.0.1:port (port 0: a free one is picked
 * the first time) and waits until it accepts connections. Fails the test on error. */
void broker_start(broker_t *b);
/* Kills the broker (SIGKILL when hard, else SIGTERM) and waits for it. */
void broker_stop(broker_t *b, int hard);
/* Makes a test CA (dir/ca.pem) and a server certificate for localhost and 127.0.0.1, and
 * gives the broker a TLS listener on a free port (b->tls_port). Call before broker_start. */
void broker_enable_tls(broker_t *b);
/* Removes the broker's directory. */
void broker_cleanup(broker_t *b);
/* Publishes one message with QoS 1 and waits for the broker's PUBACK. Returns 0 or -1. */
int broker_publish(const broker_t *b, const char *topic, const void *payload, size_t len);
/* broker_publish for a text payload. */
int broker_publish_str(const broker_t *b, const char *topic, const char *payload);

#endif

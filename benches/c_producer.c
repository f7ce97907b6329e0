/* librdkafka driven from C, as a reference for benches/ceiling.sh: produces every line
 * ("key TAB value") of FILE once, through rd_kafka_producev with a topic handle, serving
 * delivery reports as it goes, then flushes. It links the very librdkafka devsim links (the
 * static library rdkafka-sys built), so beside kcat (Debian's, an older librdkafka) it tells
 * the library's own cost from the cost of devsim's Rust binding and bookkeeping.
 *
 * Usage: c_producer BROKERS TOPIC FILE [property=value ...]   (exit 1 on any failed message) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>

static long delivered, failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk; (void)opaque;
  if (m->err) failed++; else delivered++;
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: %s BROKERS TOPIC FILE [property=value ...]\n", argv[0]); return 2; }
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof err)) { fprintf(stderr, "%s\n", err); return 2; }
  for (int i = 4; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    if (!eq) { fprintf(stderr, "%s: expected property=value\n", argv[i]); return 2; }
    *eq = 0;
    if (rd_kafka_conf_set(conf, argv[i], eq + 1, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 2; }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) { fprintf(stderr, "%s\n", err); return 2; }
  rd_kafka_topic_t *topic = rd_kafka_topic_new(rk, argv[2], NULL);

  FILE *f = fopen(argv[3], "rb");
  if (!f) { perror(argv[3]); return 2; }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc(size);
  if (!text || fread(text, 1, size, f) != (size_t)size) { perror(argv[3]); return 2; }
  fclose(f);

  long sent = 0;
  for (char *line = text, *end = text + size; line < end;) {
    char *newline = memchr(line, '\n', end - line);
    if (!newline) newline = end;
    char *tab = memchr(line, '\t', newline - line);
    if (tab) {
      for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(line, (size_t)(tab - line)),
            RD_KAFKA_V_VALUE(tab + 1, (size_t)(newline - tab - 1)), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) { rd_kafka_poll(rk, 1); continue; }
        if (e) { fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e)); return 1; }
        break;
      }
      sent++;
      rd_kafka_poll(rk, 0);
    }
    line = newline + 1;
  }
  rd_kafka_flush(rk, 30000);
  fprintf(stderr, "sent %ld, delivered %ld, failed %ld\n", sent, delivered, failed);
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(rk);
  return failed || delivered != sent;
}

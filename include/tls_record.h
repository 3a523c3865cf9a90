/*
 * tls_record: TLS 1.3 record protection (RFC 8446 sections 5.2-5.3 and 7.1-7.3) for the
 * traffic keys of an established connection: sealing and opening one record, and the key
 * schedule steps that follow a handshake (traffic secret to key and IV, KeyUpdate). No I/O
 * and no state besides the keys the caller owns; the AEAD itself is libcrypto's.
 */
#ifndef CHATD_TLS_RECORD_H
#define CHATD_TLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define TLS_RECORD_HEADER    5
#define TLS_RECORD_PLAIN_MAX 16384 /* a record's plaintext, at most (section 5.1) */
#define TLS_RECORD_TAG       16
/* A protected record's body: plaintext, content type, padding, tag (section 5.2). */
#define TLS_RECORD_BODY_MAX (TLS_RECORD_PLAIN_MAX + 256)
/* What tls_record_seal writes for the largest plaintext (no padding is added). */
#define TLS_RECORD_SEALED_MAX (TLS_RECORD_HEADER + TLS_RECORD_PLAIN_MAX + 1 + TLS_RECORD_TAG)

/* Content types (section 5.1). */
enum {
	TLS_CONTENT_CHANGE_CIPHER_SPEC = 20,
	TLS_CONTENT_ALERT = 21,
	TLS_CONTENT_HANDSHAKE = 22,
	TLS_CONTENT_APPLICATION_DATA = 23,
};

/* Alert descriptions chatd sends or acts on (section 6). */
enum {
	TLS_ALERT_CLOSE_NOTIFY = 0,
	TLS_ALERT_UNEXPECTED_MESSAGE = 10,
	TLS_ALERT_BAD_RECORD_MAC = 20,
	TLS_ALERT_RECORD_OVERFLOW = 22,
	TLS_ALERT_ILLEGAL_PARAMETER = 47,
	TLS_ALERT_DECODE_ERROR = 50,
	TLS_ALERT_USER_CANCELED = 90,
};

/* The cipher suites OpenSSL offers by default for TLS 1.3 (CCM ones are off by default). */
enum tls_record_suite {
	TLS_SUITE_AES_128_GCM_SHA256,
	TLS_SUITE_AES_256_GCM_SHA384,
	TLS_SUITE_CHACHA20_POLY1305_SHA256,
};

/* One direction's keys. A traffic secret is as long as the suite's hash (32 or 48 bytes);
 * it is kept for KeyUpdate. Owned by the caller; tls_record_keys_clear wipes it. */
struct tls_record_keys {
	uint64_t trk_seq; /* the next record's sequence number */
	uint8_t trk_secret[48];
	uint8_t trk_key[32];
	uint8_t trk_iv[12];
	uint8_t trk_suite; /* enum tls_record_suite */
};

/* Once per process, before anything else here: fetches the ciphers and the KDF. 0 or -1. */
int tls_record_init(void);

/* The suite for an IANA cipher suite number (0x1301...), or -1 when not supported. */
int tls_record_suite_of(uint16_t iana);

/* The length of the suite's traffic secrets (its hash's output). */
size_t tls_record_secret_len(enum tls_record_suite suite);

/* Keys from a traffic secret of tls_record_secret_len bytes, sequence number seq. 0 or -1. */
int tls_record_keys_set(struct tls_record_keys *k, enum tls_record_suite suite,
			const uint8_t *secret, uint64_t seq);

/* KeyUpdate (section 7.2): the next generation of secret, key and IV; sequence 0. */
int tls_record_keys_update(struct tls_record_keys *k);

void tls_record_keys_clear(struct tls_record_keys *k);

/* Protects len (at most TLS_RECORD_PLAIN_MAX) bytes of type into out, which must hold
 * len + TLS_RECORD_HEADER + 1 + TLS_RECORD_TAG bytes (it may not overlap plain). Returns
 * the record's length, or 0 when the AEAD failed. Advances the sequence number. */
size_t tls_record_seal(struct tls_record_keys *k, uint8_t type, const uint8_t *plain, size_t len,
		       uint8_t *out);

/* Checks a record header: the outer type, and a body length an opened record can have.
 * Returns 0, or the alert to send. */
int tls_record_check_header(const uint8_t header[TLS_RECORD_HEADER], size_t *body_len);

/* Opens a record in place: header (checked by tls_record_check_header) and body_len bytes
 * of body. On success the plaintext is at the start of body, *plain_len bytes, and *type
 * is its true content type; the sequence number advances. Returns 0, or the alert to send
 * (bad_record_mac for a record that does not authenticate). */
int tls_record_open(struct tls_record_keys *k, const uint8_t header[TLS_RECORD_HEADER],
		    uint8_t *body, size_t body_len, uint8_t *type, size_t *plain_len);

/* Where a writev's buffers stand: the next byte is iov[tg_index] at tg_offset. */
struct tls_record_gather {
	const struct iovec *tg_iov;
	int tg_count;
	int tg_index;
	size_t tg_offset;
};

/* The next record's plaintext from the buffers: a whole record straight from a buffer
 * that holds one (no copy: the copy was 8% of chatd's CPU sending 1 MiB messages), else
 * up to a record's worth of them copied into stage (TLS_RECORD_PLAIN_MAX bytes). Sets
 * *len (0 when the buffers are used up) and returns where the plaintext lies. */
const uint8_t *tls_record_gather_next(struct tls_record_gather *g, uint8_t *stage, size_t *len);

#endif

/*
 * TLS 1.3 record protection with libcrypto's AEADs. A connection keeps only its secrets,
 * keys, IVs and sequence numbers (tls_record_keys, 104 bytes a direction); the cipher
 * contexts are one per process and are given the key at every record. Re-keying an
 * AES-GCM context costs a key expansion and a GHASH key (well under a microsecond with
 * AES-NI) against the 1.9 KB a context of its own would hold for every idle connection.
 */
#include "tls_record.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

struct suite_info {
	const char *si_cipher;
	const char *si_digest;
	size_t si_key_len;
	size_t si_secret_len;
};

static const struct suite_info suites[] = {
	[TLS_SUITE_AES_128_GCM_SHA256] = {"AES-128-GCM", "SHA256", 16, 32},
	[TLS_SUITE_AES_256_GCM_SHA384] = {"AES-256-GCM", "SHA384", 32, 48},
	[TLS_SUITE_CHACHA20_POLY1305_SHA256] = {"ChaCha20-Poly1305", "SHA256", 32, 32},
};
#define SUITE_COUNT (sizeof suites / sizeof suites[0])

static EVP_KDF *hkdf;
/* A sealing and an opening context per suite, shared by every connection: the loop is
 * single threaded and each use re-keys. Set up with their cipher once, so that a record's
 * init only sets the key and nonce (giving the cipher again would reset the context and
 * allocate its provider state anew, every record). */
static EVP_CIPHER_CTX *sealers[SUITE_COUNT];
static EVP_CIPHER_CTX *openers[SUITE_COUNT];
static bool ready;

int tls_record_init(void)
{
	if (ready)
		return 0;
	for (size_t i = 0; i < SUITE_COUNT; i++) {
		EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, suites[i].si_cipher, NULL);
		bool ok = cipher != NULL;

		if (sealers[i] == NULL)
			sealers[i] = EVP_CIPHER_CTX_new();
		if (openers[i] == NULL)
			openers[i] = EVP_CIPHER_CTX_new();
		ok = ok && sealers[i] != NULL && openers[i] != NULL &&
		     EVP_EncryptInit_ex2(sealers[i], cipher, NULL, NULL, NULL) == 1 &&
		     EVP_DecryptInit_ex2(openers[i], cipher, NULL, NULL, NULL) == 1;
		EVP_CIPHER_free(cipher); /* the contexts hold their own references */
		if (!ok)
			return -1;
	}
	if (hkdf == NULL)
		hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	ready = hkdf != NULL;
	return ready ? 0 : -1;
}

int tls_record_suite_of(uint16_t iana)
{
	switch (iana) {
	case 0x1301: return TLS_SUITE_AES_128_GCM_SHA256;
	case 0x1302: return TLS_SUITE_AES_256_GCM_SHA384;
	case 0x1303: return TLS_SUITE_CHACHA20_POLY1305_SHA256;
	default: return -1;
	}
}

size_t tls_record_secret_len(enum tls_record_suite suite)
{
	return suites[suite].si_secret_len;
}

/* HKDF-Expand-Label(secret, label, "", out_len) (section 7.1). */
static int expand_label(enum tls_record_suite suite, const uint8_t *secret, const char *label,
			uint8_t *out, size_t out_len)
{
	uint8_t info[2 + 1 + 255 + 1];
	size_t label_len = strlen(label), n = 0;
	EVP_KDF_CTX *kctx;
	OSSL_PARAM params[5];
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, ok;

	if (6 + label_len > 255)
		return -1;
	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)(6 + label_len);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, label_len);
	n += label_len;
	info[n++] = 0; /* an empty context */

	kctx = EVP_KDF_CTX_new(hkdf);
	if (kctx == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     (char *)suites[suite].si_digest, 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret,
						      suites[suite].si_secret_len);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	params[4] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, out_len, params);
	EVP_KDF_CTX_free(kctx);
	return ok == 1 ? 0 : -1;
}

int tls_record_keys_set(struct tls_record_keys *k, enum tls_record_suite suite,
			const uint8_t *secret, uint64_t seq)
{
	if ((size_t)suite >= SUITE_COUNT)
		return -1;
	memset(k, 0, sizeof *k);
	k->trk_suite = (uint8_t)suite;
	k->trk_seq = seq;
	memcpy(k->trk_secret, secret, suites[suite].si_secret_len);
	if (expand_label(suite, secret, "key", k->trk_key, suites[suite].si_key_len) < 0 ||
	    expand_label(suite, secret, "iv", k->trk_iv, sizeof k->trk_iv) < 0) {
		tls_record_keys_clear(k);
		return -1;
	}
	return 0;
}

int tls_record_keys_update(struct tls_record_keys *k)
{
	enum tls_record_suite suite = k->trk_suite;
	uint8_t next[48];
	int r;

	if (expand_label(suite, k->trk_secret, "traffic upd", next, suites[suite].si_secret_len) <
	    0)
		return -1;
	r = tls_record_keys_set(k, suite, next, 0);
	OPENSSL_cleanse(next, sizeof next);
	return r;
}

void tls_record_keys_clear(struct tls_record_keys *k)
{
	OPENSSL_cleanse(k, sizeof *k);
}

/* The per-record nonce: the IV with the sequence number XORed into its end (5.3). */
static void make_nonce(const struct tls_record_keys *k, uint8_t nonce[12])
{
	memcpy(nonce, k->trk_iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(k->trk_seq >> (8 * i));
}

static void write_header(uint8_t *h, size_t body_len)
{
	h[0] = TLS_CONTENT_APPLICATION_DATA;
	h[1] = 3;
	h[2] = 3;
	h[3] = (uint8_t)(body_len >> 8);
	h[4] = (uint8_t)body_len;
}

size_t tls_record_seal(struct tls_record_keys *k, uint8_t type, const uint8_t *plain, size_t len,
		       uint8_t *out)
{
	size_t body_len = len + 1 + TLS_RECORD_TAG;
	uint8_t nonce[12], *body = out + TLS_RECORD_HEADER;
	EVP_CIPHER_CTX *aead = sealers[k->trk_suite];
	int n1, n2, n3, n4;

	if (len > TLS_RECORD_PLAIN_MAX || k->trk_seq == UINT64_MAX)
		return 0;
	write_header(out, body_len);
	make_nonce(k, nonce);
	if (EVP_EncryptInit_ex2(aead, NULL, k->trk_key, nonce, NULL) != 1 ||
	    EVP_EncryptUpdate(aead, NULL, &n1, out, TLS_RECORD_HEADER) != 1 ||
	    EVP_EncryptUpdate(aead, body, &n2, plain, (int)len) != 1 ||
	    EVP_EncryptUpdate(aead, body + n2, &n3, &type, 1) != 1 ||
	    EVP_EncryptFinal_ex(aead, body + n2 + n3, &n4) != 1 ||
	    (size_t)n2 + (size_t)n3 + (size_t)n4 != len + 1 ||
	    EVP_CIPHER_CTX_ctrl(aead, EVP_CTRL_AEAD_GET_TAG, TLS_RECORD_TAG, body + len + 1) != 1)
		return 0;
	k->trk_seq++;
	return TLS_RECORD_HEADER + body_len;
}

int tls_record_check_header(const uint8_t header[TLS_RECORD_HEADER], size_t *body_len)
{
	size_t n = (size_t)header[3] << 8 | header[4];

	/* After the handshake every record is protected and says application_data; a
	 * change_cipher_spec is only tolerated during the handshake (section 5). */
	if (header[0] != TLS_CONTENT_APPLICATION_DATA)
		return TLS_ALERT_UNEXPECTED_MESSAGE;
	if (n > TLS_RECORD_BODY_MAX)
		return TLS_ALERT_RECORD_OVERFLOW;
	if (n < 1 + TLS_RECORD_TAG) /* no room for a content type and a tag */
		return TLS_ALERT_DECODE_ERROR;
	*body_len = n;
	return 0;
}

int tls_record_open(struct tls_record_keys *k, const uint8_t header[TLS_RECORD_HEADER],
		    uint8_t *body, size_t body_len, uint8_t *type, size_t *plain_len)
{
	size_t cipher_len = body_len - TLS_RECORD_TAG, n;
	uint8_t nonce[12];
	EVP_CIPHER_CTX *aead = openers[k->trk_suite];
	int n1, n2, n3;

	if (body_len < 1 + TLS_RECORD_TAG || body_len > TLS_RECORD_BODY_MAX)
		return TLS_ALERT_DECODE_ERROR;
	if (cipher_len > TLS_RECORD_PLAIN_MAX + 1) /* TLSInnerPlaintext's bound, padding included */
		return TLS_ALERT_RECORD_OVERFLOW;
	if (k->trk_seq == UINT64_MAX)
		return TLS_ALERT_UNEXPECTED_MESSAGE;
	make_nonce(k, nonce);
	if (EVP_DecryptInit_ex2(aead, NULL, k->trk_key, nonce, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(aead, EVP_CTRL_AEAD_SET_TAG, TLS_RECORD_TAG, body + cipher_len) !=
		    1 ||
	    EVP_DecryptUpdate(aead, NULL, &n1, header, TLS_RECORD_HEADER) != 1 ||
	    EVP_DecryptUpdate(aead, body, &n2, body, (int)cipher_len) != 1 ||
	    EVP_DecryptFinal_ex(aead, body + n2, &n3) != 1 || (size_t)n2 + (size_t)n3 != cipher_len)
		return TLS_ALERT_BAD_RECORD_MAC;
	k->trk_seq++;
	/* The content type is the last non-zero byte; zeros after it are padding (5.4). */
	n = cipher_len;
	while (n > 0 && body[n - 1] == 0)
		n--;
	if (n == 0)
		return TLS_ALERT_UNEXPECTED_MESSAGE;
	*type = body[n - 1];
	*plain_len = n - 1;
	return 0;
}

const uint8_t *tls_record_gather_next(struct tls_record_gather *g, uint8_t *stage, size_t *len)
{
	const uint8_t *record = stage;
	size_t n = 0;

	if (g->tg_index < g->tg_count &&
	    g->tg_iov[g->tg_index].iov_len - g->tg_offset >= TLS_RECORD_PLAIN_MAX) {
		record = (const uint8_t *)g->tg_iov[g->tg_index].iov_base + g->tg_offset;
		n = TLS_RECORD_PLAIN_MAX;
		g->tg_offset += n;
		if (g->tg_offset == g->tg_iov[g->tg_index].iov_len) {
			g->tg_index++;
			g->tg_offset = 0;
		}
	}
	while (record == stage && g->tg_index < g->tg_count && n < TLS_RECORD_PLAIN_MAX) {
		const struct iovec *v = &g->tg_iov[g->tg_index];
		size_t take = v->iov_len - g->tg_offset;
		if (take > TLS_RECORD_PLAIN_MAX - n)
			take = TLS_RECORD_PLAIN_MAX - n;
		memcpy(stage + n, (const uint8_t *)v->iov_base + g->tg_offset, take);
		n += take;
		g->tg_offset += take;
		if (g->tg_offset == v->iov_len) {
			g->tg_index++;
			g->tg_offset = 0;
		}
	}
	*len = n;
	return record;
}

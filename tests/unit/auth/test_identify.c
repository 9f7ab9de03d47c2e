/* Unit tests for credential checks without a store (config tokens, the anonymous role, malformed
 * headers) and for the auth config keys (auth.session_ttl, http.frame_ancestors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "auth/auth.h"
#include "config/config.h"


static config_t *parse(const char *text, char *err, size_t errlen)
{
    config_t *cfg = NULL;
    err[0] = '\0';
    if (config_parse("t.json", text, strlen(text), &cfg, err, errlen))
        return NULL;
    return cfg;
}

static void test_config_tokens_and_anonymous(void **state)
{
    (void)state;
    char err[512], json[1024];
    unsigned char digest[32];
    char hex[65];
    auth_ident_t who;

    /* The config stores the token's SHA-256; compute it rather than trust a constant. */
    crypto_hash_sha256(digest, (const unsigned char *)"s3cret-token", 12);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", digest[i]);
    snprintf(json, sizeof json,
             "{\"auth\": {\"tokens\": [{\"name\": \"ops\", \"role\": \"operator\", \"sha256\": "
             "\"%s\"}]}}", hex);
    config_t *cfg = parse(json, err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(auth_identify(cfg, "Bearer s3cret-token", NULL, &who), ROLE_OPERATOR);
    assert_string_equal(who.name, "token:ops");
    assert_int_equal(who.principal, 0); /* config tokens end with the config, not revocable */
    assert_int_equal(auth_identify(cfg, "bearer s3cret-token", NULL, NULL), ROLE_OPERATOR);
    assert_int_equal(auth_identify(cfg, "Bearer s3cret-tokem", NULL, NULL), 0);
    assert_int_equal(auth_identify(cfg, "Basic czNjcmV0", NULL, NULL), 0);
    assert_int_equal(auth_identify(cfg, "Bearer", NULL, NULL), 0);
    assert_int_equal(auth_identify(cfg, NULL, NULL, &who), 0);
    assert_int_equal(auth_identify(cfg, NULL, "iocd_session=x", NULL), 0);
    assert_int_equal(auth_role_of(cfg, "Bearer s3cret-token"), ROLE_OPERATOR);
    config_free(cfg);

    cfg = parse("{\"auth\": {\"anonymous_role\": \"viewer\"}}", err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(auth_identify(cfg, NULL, NULL, &who), ROLE_VIEWER);
    assert_string_equal(who.name, "anonymous");
    /* A stale cookie on a wall screen falls back to the anonymous role; a bad token does not. */
    assert_int_equal(auth_identify(cfg, NULL, "iocd_session=stale", NULL), ROLE_VIEWER);
    assert_int_equal(auth_identify(cfg, "Bearer nope", NULL, NULL), 0);
    config_free(cfg);
    assert_string_equal(auth_role_name(ROLE_ANALYST), "analyst");
    assert_string_equal(auth_role_name(0), "none");
}

static void test_config_keys(void **state)
{
    (void)state;
    char err[512];
    config_t *cfg = parse("{\"auth\": {\"session_ttl\": \"8h\"},\n"
                          " \"http\": {\"frame_ancestors\": \"'self' https://portal.example.gov.vn\"}}",
                          err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(cfg->session_ttl_ms, 8ull * 3600 * 1000);
    assert_string_equal(cfg->frame_ancestors, "'self' https://portal.example.gov.vn");
    config_free(cfg);
    cfg = parse("{}", err, sizeof err);
    assert_int_equal(cfg->session_ttl_ms, 12ull * 3600 * 1000);
    assert_null(cfg->frame_ancestors);
    config_free(cfg);

    assert_null(parse("{\"auth\": {\"session_ttl\": \"1m\"}}", err, sizeof err));
    assert_non_null(strstr(err, "t.json:1:"));
    assert_non_null(strstr(err, "auth.session_ttl"));
    assert_null(parse("{\n\"http\": {\"frame_ancestors\": \"https://a; script-src *\"}}", err,
                      sizeof err));
    assert_non_null(strstr(err, "t.json:2:"));
    assert_non_null(strstr(err, "http.frame_ancestors"));
    assert_null(parse("{\"http\": {\"frame_ancestors\": \"*\"}}", err, sizeof err));
    assert_null(parse("{\"http\": {\"frame_ancestors\": \"\"}}", err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_tokens_and_anonymous),
        cmocka_unit_test(test_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* CRC-32C: the standard check value and incremental use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/crc32c.h"

static void test_check_value(void **state)
{
    (void)state;
    assert_int_equal(crc32c_update(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c_update(0, "", 0), 0);
    /* RFC 3720 B.4: 32 bytes of zeros. */
    unsigned char zeros[32] = {0};
    assert_int_equal(crc32c_update(0, zeros, sizeof zeros), 0x8A9136AAu);
}

static void test_incremental(void **state)
{
    (void)state;
    uint32_t c = crc32c_update(0, "1234", 4);
    c = crc32c_update(c, "56789", 5);
    assert_int_equal(c, 0xE3069283u);
    assert_int_not_equal(crc32c_update(0, "123456780", 9), 0xE3069283u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_incremental),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

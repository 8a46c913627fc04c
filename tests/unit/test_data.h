/*
 * test_data - the test data folder and whole files read from it, for unit tests with
 * golden files. Test code only.
 */
#ifndef KIRIM_TEST_DATA_H
#define KIRIM_TEST_DATA_H

#include <stddef.h>

/* test_datadir - $KIRIM_TESTDATA, else "tests/data" */
const char *test_datadir(void);
/* test_slurp - the whole file at path (NUL-terminated, *len bytes; free it), NULL if unreadable */
char *test_slurp(const char *path, size_t *len);

#endif

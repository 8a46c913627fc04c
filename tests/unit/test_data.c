/* test_data - test data files (see test_data.h). */
#include "test_data.h"

#include <stdio.h>
#include <stdlib.h>

#include "kirim/buf.h"

const char *
test_datadir(void)
{
	const char *d = getenv("KIRIM_TESTDATA");
	return d && *d ? d : "tests/data";
}

char *
test_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b = BUF_INIT;
	char tmp[8192];
	size_t k;
	while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&b, tmp, k);
	fclose(f);
	*len = b.len;
	if (!b.data)
		buf_adds(&b, "");
	return b.data;
}

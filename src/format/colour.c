/* colour - brand colours and WCAG 2 contrast (see colour.h). Pure code. */
#include "kirim/colour.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kirim/hex.h"

/* colour_parse - "#rgb" or "#rrggbb" */
int
colour_parse(const char *s, uint32_t *rgb)
{
	size_t n = strlen(s);
	if (s[0] != '#' || (n != 4 && n != 7))
		return -1;
	uint32_t v = 0;
	for (size_t i = 1; i < n; i++) {
		int d = hex_value((unsigned char)s[i]);
		if (d < 0)
			return -1;
		v = v << (n == 4 ? 8 : 4) | (uint32_t)(n == 4 ? d * 17 : d);
	}
	*rgb = v;
	return 0;
}

/* colour_format - "#rrggbb" */
void
colour_format(uint32_t rgb, char out[8])
{
	snprintf(out, 8, "#%06x", (unsigned)(rgb & 0xffffff));
}

/* The relative luminance of WCAG 2 (sRGB channels linearised). */
static double
luminance(uint32_t rgb)
{
	double l = 0;
	static const double w[3] = {0.2126, 0.7152, 0.0722};
	for (int i = 0; i < 3; i++) {
		double c = (double)((rgb >> (16 - 8 * i)) & 0xff) / 255.0;
		c = c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
		l += w[i] * c;
	}
	return l;
}

/* colour_contrast - the WCAG 2 contrast ratio */
double
colour_contrast(uint32_t a, uint32_t b)
{
	double la = luminance(a), lb = luminance(b);
	if (la < lb) {
		double t = la;
		la = lb;
		lb = t;
	}
	return (la + 0.05) / (lb + 0.05);
}

/* colour_text_on - black or white on bg */
uint32_t
colour_text_on(uint32_t bg)
{
	return colour_contrast(0x000000, bg) >= colour_contrast(0xffffff, bg) ? 0x000000 : 0xffffff;
}

/* fg mixed k/32 of the way towards to */
static uint32_t
mix(uint32_t fg, uint32_t to, int k)
{
	uint32_t out = 0;
	for (int shift = 16; shift >= 0; shift -= 8) {
		int a = (int)((fg >> shift) & 0xff), b = (int)((to >> shift) & 0xff);
		int c = a + (b - a) * k / 32;
		out |= (uint32_t)c << shift;
	}
	return out;
}

/* colour_readable_on - fg, darkened or lightened until it reads on bg */
uint32_t
colour_readable_on(uint32_t fg, uint32_t bg, double min)
{
	uint32_t to = colour_text_on(bg);
	for (int k = 0; k <= 32; k++) {
		uint32_t c = mix(fg, to, k);
		if (colour_contrast(c, bg) >= min)
			return c;
	}
	return to;
}

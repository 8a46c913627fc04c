/*
 * colour - sRGB colours as a brand gives them ("#1a73e8", "#fa0"), and the
 * WCAG 2 contrast arithmetic that keeps text readable on them: kirim's
 * public pages take a brand's colour for buttons and links and choose the
 * text on it, or darken it, so that every pairing meets WCAG's 4.5:1 for
 * normal text whatever colour the brand picked. Pure code: no I/O, no
 * globals, no logging.
 */
#ifndef KIRIM_COLOUR_H
#define KIRIM_COLOUR_H

#include <stdint.h>

/* colour_parse - "#rgb" or "#rrggbb" (hex digits in either case) into *rgb (0xRRGGBB); 0 or -1 */
int colour_parse(const char *s, uint32_t *rgb);
/* colour_format - rgb as "#rrggbb" (lower case) into out */
void colour_format(uint32_t rgb, char out[8]);
/* colour_contrast - the WCAG 2 contrast ratio of two colours, from 1 to 21 */
double colour_contrast(uint32_t a, uint32_t b);
/* colour_text_on - black or white, whichever has the higher contrast on bg */
uint32_t colour_text_on(uint32_t bg);
/*
 * colour_readable_on - fg itself when its contrast on bg is at least min, else
 * fg mixed towards black (or white, on a dark bg) in steps of 1/32 until it is
 * (black or white in the end); keeps the brand's hue as far as it can
 */
uint32_t colour_readable_on(uint32_t fg, uint32_t bg, double min);

#endif

/* What the TOTP enrolment page needs (issue 14), pure and fuzzed by
 * fuzz_totp_input: the QR code of an otpauth:// URI as inline SVG
 * (libqrencode), the URI itself (Google Authenticator's Key Uri Format,
 * the de facto standard every authenticator app reads), and the parser of
 * a code as a person types it. No store, no I/O, no secret kept: the
 * caller owns and wipes the buffers that hold the secret. */
#ifndef SD_QR_H
#define SD_QR_H

#include <stddef.h>

/* The longest text sd_qr_svg encodes (an otpauth URI is ~150 bytes). */
#define SD_QR_TEXT_MAX 1024
/* Blank modules around the symbol (ISO/IEC 18004 §6.3.8: at least 4). */
#define SD_QR_QUIET 4
/* Pixels per module in the SVG's width and height (CSS may scale it). */
#define SD_QR_MODULE_PX 4

/* The QR code of text (error correction level M, byte mode where the text
 * is not digits or upper-case alphanumerics, case kept) as one malloc'd,
 * NUL-terminated SVG element:
 *   <svg xmlns=".../svg" viewBox="0 0 S S" width="P" height="P"
 *        shape-rendering="crispEdges" role="img" aria-label="QR code">
 *   <rect width="S" height="S" fill="#fff"></rect>
 *   <path fill="#000" d="M x y hN v1 h-N z ..."></path></svg>
 * where S = the symbol's width + 2 * SD_QR_QUIET (viewBox in modules) and
 * P = S * SD_QR_MODULE_PX; every dark run of a row is one subpath. The
 * markup is fixed text and numbers only (nothing of text is copied into
 * it), so it can be embedded as is in an HTML page. *len (optional) gets
 * the length. NULL when text is NULL, empty or longer than SD_QR_TEXT_MAX,
 * or when encoding or memory fails. The caller frees it (and wipes it
 * first when text was a secret). */
char *sd_qr_svg(const char *text, size_t *len);

/* out = otpauth://totp/<issuer>:<account>?secret=<b32>&issuer=<issuer>
 *       &algorithm=SHA1&digits=6&period=30
 * (RFC 6238's defaults, spelled out for apps that do not assume them),
 * issuer and account percent-encoded (RFC 3986 §2.3's unreserved
 * characters kept, every other byte, ':' included, as %XX). issuer and
 * account non-empty; secret_b32 1 to 128 characters of RFC 4648 base32
 * (A-Z, 2-7, no padding). 0, or -1 when an input is invalid or out (cap
 * bytes, NUL included) is too small; out is then "". */
int sd_otpauth_uri(char *out, size_t cap, const char *issuer_label, const char *account,
                   const char *secret_b32);

/* A code as typed ("123456", "123 456", "123-456"): after removing ASCII
 * spaces, exactly 6 ASCII digits, or 3 digits, one '-' and 3 digits.
 * 0 with the 6 digits in out (NUL-terminated); -1 for anything else (a
 * NULL, non-ASCII bytes, other characters, another count), out "". */
int sd_totp_code_parse(const char *typed, char out[static 7]);

#endif

/* Text a tenant controls (file names, Moodle's output, table values) made
 * safe to show: the one rule for what a terminal, a log line or a summary
 * may receive from a site. */
#ifndef VM_TEXT_H
#define VM_TEXT_H

#include <apr_pools.h>

/* Whether byte c must not reach a terminal as it is: C0 controls, DEL, and
 * the lead byte of a UTF-8 C1 control (0xC2 followed by 0x80-0x9F) is
 * caught by vm_text_visible, which sees both bytes. */
int vm_text_is_control(unsigned char c);

/* Whether s holds a control character (C0, DEL, or a C1 control in
 * UTF-8): such a value is refused where a value must be plain text. */
int vm_text_has_control(const char *s);

/* s (len bytes) with every control character shown as "\xNN" (a backslash
 * itself as "\\"), C1 controls in UTF-8 included; printable bytes and other
 * UTF-8 pass as they are.  keep names controls that pass unchanged (for
 * example "\n\t" for relayed output), or NULL for none; a backslash in
 * keep passes backslashes as they are, so that text already made visible
 * passes unchanged (a site's log, which relayed output may reach).
 * From p. */
const char *vm_text_visible_n(const char *s, apr_size_t len, const char *keep,
                              apr_pool_t *p);
/* The same for a NUL-terminated one-line value (no control kept); NULL
 * gives "(null)". */
const char *vm_text_visible(const char *s, apr_pool_t *p);

/* The same rule on a stream read in pieces: a UTF-8 C1 control split
 * between two reads is still caught.  Zero-initialise; pass each piece
 * to vm_text_visible_chunk, then vm_text_visible_flush at the end. */
typedef struct {
    int held; /* a 0xC2 held back from the last piece */
} vm_text_stream;

/* Room vm_text_visible_chunk needs in out for len bytes. */
#define VM_TEXT_CHUNK_ROOM(len) ((len)*4 + 8)

/* s (len bytes) made visible into out (VM_TEXT_CHUNK_ROOM(len) bytes, no
 * NUL added); the length written. */
apr_size_t vm_text_visible_chunk(vm_text_stream *st, const char *s,
                                 apr_size_t len, const char *keep, char *out);

/* What is held back, into out (VM_TEXT_CHUNK_ROOM(0) bytes). */
apr_size_t vm_text_visible_flush(vm_text_stream *st, char *out);

#endif

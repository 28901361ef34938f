/* s3_xml.h - just enough XML for S3 answers: find a leaf element's text, unescape it, and
 * escape text for request bodies. S3 answers are flat and machine-written; no DTDs, no
 * CDATA. */
#ifndef CF_S3_XML_H
#define CF_S3_XML_H

#include <stdbool.h>
#include <stddef.h>

#include "../../core/buf.h"

/* s3_xml_find() - the first element <@tag>...</@tag> (or <@tag/>) at or after *@p and before
 * @end. On success sets [*vs, *ve) to its raw content, moves *@p past it and returns true. */
bool s3_xml_find(const char **p, const char *end, const char *tag, const char **vs,
                 const char **ve);
/* s3_xml_text() - append the raw content [@s, @e) with entities decoded */
void s3_xml_text(struct buf *out, const char *s, const char *e);
/* s3_xml_get() - the decoded text of the first <@tag> in [@s, @e) into @out (reset first);
 * false when absent */
bool s3_xml_get(const char *s, const char *e, const char *tag, struct buf *out);
/* s3_xml_escape() - append @s with & < > " ' escaped */
void s3_xml_escape(struct buf *out, const char *s);

#endif

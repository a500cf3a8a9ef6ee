// The parts of the system libxml2 that FHIRCore uses: the SAX2 parser (FHIR XML reading)
// and the Canonical XML 1.0 serializer (the narrative div in the canonical form).
#include <libxml/xmlversion.h>
// Debian builds libxml2 with ICU, so its encoding.h pulls in the system's <unicode/ucnv.h>, whose types clash
// with Foundation's bundled ICU in any Swift module that sees both. FHIRCore never touches libxml2's ICU
// converter fields, so hide them.
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/c14n.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>

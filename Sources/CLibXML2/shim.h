// The parts of the system libxml2 that FHIRCore uses: the SAX2 push parser (FHIR XML reading)
// and the Canonical XML 1.0 serializer (the narrative div in the canonical form).
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/c14n.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>

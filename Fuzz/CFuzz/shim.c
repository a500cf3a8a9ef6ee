// The header is all this target provides; this file exists because a C target needs a source.
#include "CFuzz.h"

"""A second opinion on FHIR validity: the pydantic models of fhir.resources for FHIR R4B (4.3).

The first opinion is fhirkit-rs, an R4 (4.0.1) validator. fhir.resources 8 defaults to R5; its R4B models are the
closest it has to R4, so their verdict is reported beside fhirkit-rs's, never instead of it. A resource R4B
refuses while fhirkit-rs accepts it is either a CareLedger bug or an R4/R4B difference: both scripts print the
reason so that a person can tell which.

Used by scripts/hl7_oracle.py and scripts/ccda_oracle.py.
"""

try:
    import fhir.resources
    from fhir.resources.R4B import get_fhir_model_class
except ImportError:  # pragma: no cover - environment problem
    fhir = None
    get_fhir_model_class = None


def available() -> bool:
    return get_fhir_model_class is not None


def version() -> str:
    return fhir.resources.__version__ if available() else "missing"


def problems(resource: dict) -> list[str]:
    """Why the R4B model of the resource's type refuses it; empty when it validates."""
    rtype = resource.get("resourceType", "?")
    try:
        model = get_fhir_model_class(rtype)
    except Exception as exc:  # KeyError for a type R4B does not have
        return [f"R4B has no resource type {rtype!r}: {exc}"]
    try:
        model.model_validate(resource)
    except Exception as exc:  # pydantic.ValidationError, with one line per problem
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return [" | ".join(lines[:6])]
    return []

import FHIRCore
print("careledger")
